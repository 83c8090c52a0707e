"""loopml serve vs `mlflow models serve --env-manager local`: same model, client and run.

A 100-tree random forest on scikit-learn's breast cancer data is trained and registered
by loopml; both servers serve that registered version on 127.0.0.1, and the same client
(`loopml loadtest`'s) sends single-row MLflow-protocol requests (`POST /invocations`,
dataframe_split) at concurrency 1, 8 and 64. Each level is bounded in requests and time.

    .venv/bin/python benchmarks/bench_serving.py [--seconds 10]

Prints a table and writes benchmarks/results/serving.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from loopml.serving.loadtest import bodies_from_csv, run_load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import train_random_forest

ROOT = Path(__file__).resolve().parent
LEVELS = (1, 8, 64)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {url}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def start_loopml(config: Path, port: int) -> subprocess.Popen[bytes]:
    loopml = Path(sys.executable).parent / "loopml"
    command = [str(loopml), "serve", "-c", str(config), "--port", str(port)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=_log(config, "loopml"))


def start_mlflow(config: Path, port: int) -> subprocess.Popen[bytes]:
    uri = f"sqlite:///{config.parent / '.loopml' / 'mlflow.db'}"
    bin_dir = str(Path(sys.executable).parent)
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": path}
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "models",
        "serve",
        "-m",
        "models:/breast-cancer@champion",
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=_log(config, "mlflow")
    )


def _log(config: Path, name: str) -> Any:
    """A file for the server's log lines: a pipe nobody reads fills up and stalls the
    server (MLflow logs every request)."""
    return (config.parent / f"{name}-server.log").open("wb")


def measure(name: str, url: str, bodies: list[bytes], seconds: float) -> list[dict[str, object]]:
    rows = []
    for concurrency in LEVELS:
        asyncio.run(run_load(url, bodies, concurrency=concurrency, requests=50, duration_s=2))
        result = asyncio.run(
            run_load(
                url,
                bodies,
                concurrency=concurrency,
                requests=200_000,
                duration_s=seconds,
                timeout_s=60,
            )
        )
        rows.append({"server": name, **result.as_dict()})
        print(
            f"{name:8} c={concurrency:<3} {result.requests_per_s:9.1f} req/s  p50 "
            f"{result.p50_ms:8.2f} ms  p99 {result.p99_ms:8.2f} ms  errors {result.errors}",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="per concurrency level")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        config = train_random_forest(Path(tmp) / "project")
        rows_csv = config.parent / "data" / "score_me.csv"
        results = []
        for name, start in (("mlflow", start_mlflow), ("loopml", start_loopml)):
            port = free_port()
            process = start(config, port)
            try:
                wait_ready(f"http://127.0.0.1:{port}/ping", process)
                url = f"http://127.0.0.1:{port}/invocations"
                results += measure(name, url, bodies_from_csv(rows_csv, url), args.seconds)
            finally:
                process.terminate()
                process.wait(timeout=30)
    report(results)


def report(results: list[dict[str, object]]) -> None:
    by = {(r["server"], r["concurrency"]): r for r in results}
    print(
        f"\n{'clients':>7} {'mlflow req/s':>13} {'loopml req/s':>13} {'ratio':>7} "
        f"{'loopml p50':>11} {'loopml p99':>11} {'errors (ml/lm)':>15}"
    )
    summary = []
    for c in LEVELS:
        ml, lm = by[("mlflow", c)], by[("loopml", c)]
        ratio = float(lm["requests_per_s"]) / max(float(ml["requests_per_s"]), 1e-9)
        summary.append({"concurrency": c, "ratio": round(ratio, 1)})
        print(
            f"{c:>7} {ml['requests_per_s']:>13} {lm['requests_per_s']:>13} {ratio:>6.1f}x "
            f"{lm['p50_ms']:>9.2f}ms {lm['p99_ms']:>9.2f}ms {ml['errors']:>7}/{lm['errors']}"
        )
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "serving.json").write_text(json.dumps({"runs": results, "summary": summary}, indent=2))
    print(f"\nwrote {out / 'serving.json'}")


if __name__ == "__main__":
    main()
