"""`make demo`: the whole loop on scikit-learn's breast cancer data, through the real CLI.

init -> run -> serve (real uvicorn on a free loopback port) -> requests -> predict a file
-> runs table -> how to open the MLflow UI. The server is always stopped at the end.
Usage: python examples/demo.py [PROJECT_DIR]   (default: ./demo-project, recreated)
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
PROJECT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / "demo-project"
LOOPML = str(Path(sys.executable).with_name("loopml"))
SERVER_START_LIMIT_S = 90


def step(title: str) -> None:
    print(f"\n\033[1;36m== {title}\033[0m", flush=True)


def loopml(*args: str) -> str:
    print(f"$ loopml {' '.join(args)}", flush=True)
    done = subprocess.run(
        [LOOPML, *args], cwd=PROJECT, stdout=subprocess.PIPE, text=True, check=True
    )
    print(done.stdout, end="", flush=True)
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, server: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + SERVER_START_LIMIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited early with code {server.returncode}")
        try:
            return dict(httpx.get(f"{url}/health", timeout=1).json())
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"the server did not answer {url}/health within {SERVER_START_LIMIT_S}s")


def call_server(url: str) -> None:
    rows = pd.read_csv(PROJECT / "data" / "score_me.csv").drop(columns="patient_id")
    records = json.loads(rows.head(3).to_json(orient="records"))
    answer = httpx.post(f"{url}/predict", json={"records": records}, timeout=10)
    print(f"POST /predict (3 rows) -> {answer.status_code}")
    print(json.dumps(answer.json(), indent=2)[:900])
    broken = dict(records[0], **{"mean radius": "large"})
    answer = httpx.post(f"{url}/predict", json={"records": [broken]}, timeout=10)
    detail = answer.json()["detail"][0]
    problem = f"{detail['loc']} {detail['msg']}"
    print(f"POST /predict with 'mean radius': 'large' -> {answer.status_code}: {problem}")


def main() -> None:
    started = time.monotonic()
    shutil.rmtree(PROJECT, ignore_errors=True)
    PROJECT.mkdir()
    step("1. Create a project from a bundled example")
    loopml("init", ".", "--example", "breast_cancer")
    step("2. Train: validate -> split -> baseline -> candidates -> evaluate -> register")
    loopml("run")
    step("3. Serve the champion on loopback and send requests")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"$ loopml serve --port {port}")
    server = subprocess.Popen([LOOPML, "serve", "--port", str(port)], cwd=PROJECT)
    try:
        health = wait_until_healthy(url, server)
        print(f"GET /health -> {health}")
        call_server(url)
    finally:
        server.terminate()
        server.wait(timeout=30)
        print("server stopped")
    step("4. Score a file in batch")
    loopml("predict", "data/score_me.csv", "-o", "predictions.parquet")
    print(pd.read_parquet(PROJECT / "predictions.parquet").head(5).to_string(index=False))
    step("5. Runs in the tracking store")
    loopml("runs")
    step("Done")
    print(f"The demo took {time.monotonic() - started:.0f}s. The project is in {PROJECT}.")
    print(
        f"Open the MLflow UI:  cd {PROJECT.name} && ../.venv/bin/loopml ui   (http://127.0.0.1:5000)"
    )
    print(f"Serve it yourself:   cd {PROJECT.name} && ../.venv/bin/loopml serve --port 8000")


if __name__ == "__main__":
    main()
