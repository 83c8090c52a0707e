"""`loopml server` on a real PostgreSQL: every loopml command works against it by tracking.uri."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from loopml.config import load_config
from loopml.tracking import registry
from loopml.tracking.store import Tracker
from loopml.workflows.init import init_project
from tests.conftest import free_port
from tests.integration.conftest import cli
from tests.integration.postgres import postgres_cluster

pytestmark = pytest.mark.integration
LOOPML = [sys.executable, "-m", "loopml.cli"]


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`loopml server` on a fresh PostgreSQL database; yields its http:// URI."""
    folder = tmp_path_factory.mktemp("server")
    artifacts, log = folder / "artifacts", folder / "server.log"
    with postgres_cluster() as store, log.open("wb") as sink:
        port = free_port()
        argv = [*LOOPML, "server", "--backend-store-uri", store, "--artifacts", str(artifacts)]
        argv += ["--port", str(port), "--workers", "1"]
        # Output to a file: an unread pipe fills up with access logs and stalls the server.
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc, log)
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = log.read_text(errors="replace")
            raise RuntimeError(f"loopml server exited with {proc.returncode}:\n{output[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the tracking server at {url} was not healthy within {seconds} s")


def _project(folder: Path, tracking_uri: str) -> Path:
    init_project(folder, "breast_cancer")
    config = folder / "loopml.yaml"
    body = yaml.safe_load(config.read_text())
    body["tracking"] = {"uri": tracking_uri}
    body["models"] = {"candidates": ["logistic_regression"]}
    config.write_text(yaml.safe_dump(body), encoding="utf-8")
    return config


@pytest.mark.slow
def test_two_concurrent_runs_register_both_versions_and_move_aliases(
    tracking_server: str, tmp_path: Path
) -> None:
    config = _project(tmp_path / "team", tracking_server)
    runs = [
        subprocess.Popen(
            [*LOOPML, "run", "--config", str(config), "--force", "--set", f"split.seed={seed}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    outputs = [proc.communicate(timeout=240) for proc in runs]
    for proc, (_, stderr) in zip(runs, outputs, strict=True):
        assert proc.returncode == 0, stderr[-3000:]
    run_ids = {stdout.strip().splitlines()[-1] for stdout, _ in outputs}

    cfg = load_config(config)
    tracker = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name)
    snapshot = tracker.registry_snapshot()
    assert snapshot["versions"] == ["1", "2"]
    # challenger is the newest version whichever run finished last; champion moved only
    # through the gate, to a version whose gate decision says it passed.
    assert snapshot["aliases"]["challenger"] == "2"
    champion = snapshot["aliases"]["champion"]
    assert champion in {"1", "2"}
    decision = tracker.client.get_model_version(cfg.model_name, champion).tags
    assert decision["loopml.gate.decision"] == "passed"
    registered_runs = {
        v.run_id for v in tracker.client.search_model_versions(f"name = '{cfg.model_name}'")
    }
    assert registered_runs == run_ids
    announced = sorted(
        line.split(" as ")[0].split(" (")[0]
        for _, err in outputs
        for line in err.splitlines()
        if line.startswith("Registered")
    )
    assert announced == [
        "Registered breast-cancer version 1",
        "Registered breast-cancer version 2",
    ], announced


def test_runs_and_predict_work_against_the_server(tracking_server: str, tmp_path: Path) -> None:
    config = _project(tmp_path / "shared", tracking_server)
    body = yaml.safe_load(config.read_text())
    body["name"] = "shared-model"
    config.write_text(yaml.safe_dump(body), encoding="utf-8")
    code, stdout, stderr = cli("run", "--config", str(config))
    assert code == 0, stderr
    run_id = stdout.strip().splitlines()[-1]

    code, stdout, stderr = cli("runs", "--config", str(config), "--json")
    assert code == 0, stderr
    assert run_id in stdout and "champion" in stdout

    scored = tmp_path / "scored.parquet"
    code, _, stderr = cli(
        "predict", str(tmp_path / "shared" / "data" / "score_me.csv"), "-o", str(scored),
        "--config", str(config),
    )  # fmt: skip
    assert code == 0, stderr
    frame = pd.read_parquet(scored)
    assert len(frame) == 50 and set(frame["prediction"]) <= {"benign", "malignant"}

    # Artifacts went through the server to its artifact root, not to the client's folder.
    assert not (tmp_path / "shared" / ".loopml" / "artifacts").exists()


def test_server_refuses_an_unreachable_store_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [*LOOPML, "server", "--backend-store-uri", f"postgresql://me:pw@127.0.0.1:{port}/x"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0] and "pw" not in lines[0], lines


def test_two_clients_adding_the_same_new_alias_at_once_both_succeed(
    tracking_server: str, tmp_path: Path
) -> None:
    """MLflow's store reads an alias, then inserts it when absent: two clients adding the same
    new alias at the same moment collide on its key. Neither may fail; the alias ends on one
    of the two versions. Many rounds, each released to both clients by a barrier."""
    cfg = load_config(_project(tmp_path / "race", tracking_server))
    trackers = [Tracker(cfg.tracking, cfg.experiment_name, "alias-race") for _ in range(2)]
    client = trackers[0].client
    client.create_registered_model("alias-race")
    experiment = client.create_experiment("alias-race")
    for _ in range(2):
        run = client.create_run(experiment)
        client.create_model_version("alias-race", f"runs:/{run.info.run_id}/model", run.info.run_id)
    rounds, barrier = 25, threading.Barrier(2)

    def add_aliases(tracker: Tracker, version: str) -> None:
        for round_ in range(rounds):
            barrier.wait(timeout=30)
            registry.set_alias(tracker, f"race{round_}", version)

    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(add_aliases, t, v) for t, v in zip(trackers, ("1", "2"), strict=True)]
        for future in done:
            future.result(timeout=120)
    aliases = trackers[0]._aliases()
    assert {aliases[f"race{round_}"] for round_ in range(rounds)} <= {"1", "2"}
