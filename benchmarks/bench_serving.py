"""loopml serve against its floor and against `mlflow models serve`, in one run.

A 100-tree random forest on scikit-learn's breast cancer data is trained and registered
by loopml. Four servers on 127.0.0.1, one after the other, get the same single-row
MLflow-protocol requests (`POST /invocations`, dataframe_split) from the same client
(`loopml loadtest`'s) at 8 and 64 clients, each level bounded in requests and time:

- ``floor``: a minimal Starlette app on the same uvicorn that parses the same body with
  orjson and answers a fixed prediction (benchmarks/_floor_app.py);
- ``loopml``: `loopml serve`, prediction log off; ``loopml+log``: the log on (SQLite), and
  afterwards how many answers it wrote or dropped, and the server's RSS before and after;
- ``mlflow``: `mlflow models serve --env-manager local` on the same registered version.

Ratios are taken within the run (the machine may be shared: absolute figures move).

    .venv/bin/python benchmarks/bench_serving.py [--seconds 10] [--skip-mlflow]

Prints a table and writes benchmarks/results/serving.json.
"""

from __future__ import annotations

import argparse
import asyncio
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
from common import train_random_forest, write_results

ROOT = Path(__file__).resolve().parent
LEVELS = (8, 64)


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


def start_loopml(config: Path, port: int, *settings: str) -> subprocess.Popen[bytes]:
    loopml = Path(sys.executable).parent / "loopml"
    command = [str(loopml), "serve", "-c", str(config), "--port", str(port)]
    command += ["--set", "serve.reload_interval=0"]
    for setting in settings:
        command += ["--set", setting]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=_log(config, "loopml"))


def start_loopml_no_log(config: Path, port: int) -> subprocess.Popen[bytes]:
    return start_loopml(config, port, "serve.prediction_log.enabled=false")


def start_loopml_log(config: Path, port: int) -> subprocess.Popen[bytes]:
    url = f"sqlite:///{config.parent / 'bench-log.db'}"
    return start_loopml(config, port, f"serve.prediction_log.url={url}")


def start_floor(config: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(ROOT / "_floor_app.py"), str(port)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=_log(config, "floor"))


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
        asyncio.run(run_load(url, bodies, concurrency=concurrency, requests=200, duration_s=2))
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


SERVERS = {
    "floor": start_floor,
    "loopml": start_loopml_no_log,
    "loopml+log": start_loopml_log,
    "mlflow": start_mlflow,
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def writer_rate(url: str, config: Path, entries: int = 20_000) -> dict[str, object]:
    """Rows/s the prediction log's writer sustains: ``entries`` single-row entries of this
    model's 30 features queued as fast as they can be made, and written by the writer's
    own thread (it drains the queue every ``WRITE_EVERY_S``) and a last ``flush()``: the
    time from the first entry queued to the last one committed."""
    import numpy as np
    import pandas as pd

    from loopml.serving.engine import Scored
    from loopml.serving.predlog import Entry, PredictionLogWriter

    frame = pd.read_csv(config.parent / "data" / "score_me.csv").head(1)
    columns = {c: frame[c].to_numpy() for c in frame.columns if c != "diagnosis"}
    scored = Scored(np.array(["benign"], dtype=object), np.array([[0.9, 0.1]]), np.array([False]))
    log = PredictionLogWriter(url, max_queue=entries)
    started = time.perf_counter()
    for i in range(entries):
        log.append(Entry(f"r{i}", time.time(), "m", "1", "champion", "onnx", "invocations",
                         columns, scored, 0.3))  # fmt: skip
    log.flush()  # what the writer's thread has not taken yet, after what it is writing
    seconds = time.perf_counter() - started
    written = log.written
    assert written == entries and log.dropped == 0, (written, log.dropped)
    log.close()
    found = {"url": url.split("@")[-1], "rows": written, "rows_per_s": round(written / seconds)}
    print(f"log writer: {found}", flush=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="per concurrency level")
    parser.add_argument("--skip-mlflow", action="store_true", help="floor and loopml only")
    parser.add_argument("--postgres", help="also time the log writer on this PostgreSQL URL")
    args = parser.parse_args()
    results: list[dict[str, object]] = []
    logs: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        config = train_random_forest(Path(tmp) / "project")
        writers = [writer_rate(f"sqlite:///{Path(tmp) / 'writer.db'}", config)]
        if args.postgres:
            writers.append(writer_rate(args.postgres, config))
        logs["writer"] = writers
        rows_csv = config.parent / "data" / "score_me.csv"
        for name, start in SERVERS.items():
            if name == "mlflow" and args.skip_mlflow:
                continue
            port = free_port()
            process = start(config, port)
            base = f"http://127.0.0.1:{port}"
            try:
                wait_ready(f"{base}/ping", process)
                url = f"{base}/invocations"
                before = rss_mb(process.pid)
                results += measure(name, url, bodies_from_csv(rows_csv, url), args.seconds)
                if name == "loopml+log":
                    logs.update(log_outcome(base, before, rss_mb(process.pid)))
            finally:
                process.terminate()
                process.wait(timeout=30)
    report(results, logs)


def log_outcome(base: str, rss_before: float, rss_after: float) -> dict[str, object]:
    """Did the prediction log keep up? Answers (warm-ups included) vs rows written or dropped."""
    metrics = httpx.get(f"{base}/metrics", timeout=5).text
    answered = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("loopml_requests_total{") and 'status="200"' in line
    )
    deadline = time.monotonic() + 30
    while True:
        log = httpx.get(f"{base}/health", timeout=5).json()["prediction_log"]
        if log["queued"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    found = {
        "answered": int(answered),
        "written": log["written"],
        "dropped": log["dropped"],
        "rss_mb_before": rss_before,
        "rss_mb_after": rss_after,
    }
    print(f"prediction log: {found}", flush=True)
    return found


def report(results: list[dict[str, object]], logs: dict[str, object]) -> None:
    by = {(r["server"], r["concurrency"]): r for r in results}
    names = [n for n in SERVERS if (n, LEVELS[0]) in by]
    print(f"\n{'server':>11} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for name in names:
        for c in LEVELS:
            r = by[(name, c)]
            print(
                f"{name:>11} {c:>7} {r['requests_per_s']:>9} {r['p50_ms']:>8.2f} "
                f"{r['p99_ms']:>8.2f} {r['errors']:>6}"
            )
    summary = []
    for c in LEVELS:
        rate = {n: float(by[(n, c)]["requests_per_s"]) for n in names}
        ratios = {
            f"{n}_vs_{base}": round(rate[n] / max(rate[base], 1e-9), 2)
            for n in ("loopml", "loopml+log")
            for base in ("floor", "mlflow")
            if base in rate
        }
        summary.append({"concurrency": c, **ratios})
        print(f"c={c}: " + ", ".join(f"{k} {v}x" for k, v in ratios.items()))
    path = write_results(
        "serving",
        {
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "runs": results,
            "summary": summary,
            "prediction_log": logs,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
