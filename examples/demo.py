"""`make demo`: the whole loop on scikit-learn's breast cancer data, through the real CLI.

init -> run -> serve (real uvicorn on a free loopback port) -> requests -> shifted traffic
and its true labels -> monitor (drift and decay) -> predict a file -> runs table -> how to
open the MLflow UI. The server is always stopped at the end.
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


def loopml(*args: str, allowed: tuple[int, ...] = (0,)) -> str:
    print(f"$ loopml {' '.join(args)}", flush=True)
    done = subprocess.run([LOOPML, *args], cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    print(done.stdout, end="", flush=True)
    if done.returncode not in allowed:
        raise SystemExit(f"loopml {args[0]} exited with {done.returncode}")
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


def send_shifted_traffic(url: str) -> None:
    """600 rows whose tumours are bigger than at training, then their true labels."""
    data = pd.read_csv(PROJECT / "data" / "breast_cancer.csv")
    rows = data.sample(600, replace=True, random_state=0)
    labels = rows.pop("diagnosis").tolist()
    rows = rows.drop(columns="patient_id")
    for column in ("mean area", "worst area", "mean radius", "worst radius"):
        rows[column] *= 1.6
    records = json.loads(rows.to_json(orient="records"))
    feedback = []
    for start in range(0, len(records), 100):
        answer = httpx.post(f"{url}/predict", json={"records": records[start : start + 100]})
        answer.raise_for_status()
        request_id = answer.json()["request_id"]
        feedback += [
            {"request_id": request_id, "row": k, "label": label}
            for k, label in enumerate(labels[start : start + 100])
        ]
    answer = httpx.post(f"{url}/feedback", json={"labels": feedback}, timeout=30)
    answer.raise_for_status()
    print("POST /predict x6: 600 rows with area and radius 1.6x larger than at training")
    print(f"POST /feedback: their true labels -> {answer.json()}")


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
        send_shifted_traffic(url)
    finally:
        server.terminate()
        server.wait(timeout=30)
        print("server stopped")
    step("4. Monitor: drift of the logged traffic and decay against the true labels")
    loopml("monitor", allowed=(0, 3))
    print("(exit 3 = alert; `loopml watch` runs this on a schedule and retrains on an alert)")
    step("5. Score a file in batch")
    loopml("predict", "data/score_me.csv", "-o", "predictions.parquet")
    print(pd.read_parquet(PROJECT / "predictions.parquet").head(5).to_string(index=False))
    step("6. Runs in the tracking store")
    loopml("runs")
    step("Done")
    print(f"The demo took {time.monotonic() - started:.0f}s. The project is in {PROJECT}.")
    print(
        f"Open the MLflow UI:  cd {PROJECT.name} && ../.venv/bin/loopml ui   (http://127.0.0.1:5000)"
    )
    print(f"Serve it yourself:   cd {PROJECT.name} && ../.venv/bin/loopml serve --port 8000")


if __name__ == "__main__":
    main()
