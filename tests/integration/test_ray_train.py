"""train.distributed: LightGBM and XGBoost data-parallel on Ray Train, 2 workers, local Ray."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import loopml
from loopml.workflows.init import init_project
from tests.integration.conftest import cli
from tests.integration.scaleout import local_ray  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("local_ray")]
ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'loopml[ray]'")
pytest.importorskip("xgboost", reason="XGBoost is optional: pip install xgboost")


@pytest.mark.slow
def test_a_killed_distributed_training_resumes_and_is_registered_and_served_like_any_model(
    tmp_path: Path,
) -> None:
    """`loopml train` killed mid-training (its whole process group); `loopml run` continues.

    XGBoost here; LightGBM on Ray Train is run by test_ray_prepare's distributed run.
    """
    init_project(tmp_path, "breast_cancer")
    config = tmp_path / "loopml.yaml"
    body = yaml.safe_load(config.read_text())
    body["models"] = {"candidates": {"xgboost": {"n_estimators": 60, "max_depth": 3}}}
    storage = tmp_path / "checkpoints"
    body["train"] = {"distributed": True, "checkpoint_every": 10, "storage": str(storage)}
    config.write_text(yaml.safe_dump(body), encoding="utf-8")
    loopml_cli = Path(sys.executable).parent / "loopml"

    with (tmp_path / "killed.log").open("w") as sink:
        first = subprocess.Popen(
            [str(loopml_cli), "train", "-c", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        saved = _checkpoints_once_one_is_registered(storage, first, timeout=240)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # no clean-up runs: as if the machine went down
        first.wait(timeout=30)
    assert saved, (tmp_path / "killed.log").read_text()[-2000:]

    code, stdout, stderr = cli("run", "--config", str(config))

    assert code == 0, stderr[-2000:]
    assert "Training xgboost on 2 Ray workers" in stderr
    resumed = re.search(r"xgboost resumed from the checkpoint at round (\d+)", stderr)
    assert resumed and int(resumed[1]) >= 10 and int(resumed[1]) % 10 == 0, stderr[-2000:]
    assert "Registered breast-cancer version 1 as challenger, champion" in stderr
    run_id = stdout.strip().splitlines()[-1]
    model = loopml.load_model(f"runs:/{run_id}/model", tracking_uri=body_uri(tmp_path))
    booster = model.pipeline[-1]
    assert type(booster).__name__ == "BoosterModel" and booster.library == "xgboost"
    assert booster._load_booster().num_boosted_rounds() == 60  # the rounds before and after
    rows = pd.read_csv(tmp_path / "data" / "breast_cancer.csv")
    assert (model.predict(rows) == rows["diagnosis"]).mean() > 0.9
    assert not list(storage.glob("*/checkpoint_*"))  # finished: its checkpoints are gone


def body_uri(folder: Path) -> str:
    return f"sqlite:///{folder / '.loopml' / 'mlflow.db'}"


def _checkpoints_once_one_is_registered(
    storage: Path, process: subprocess.Popen[bytes], timeout: float
) -> list[Path]:
    """Wait until Ray Train has recorded a checkpoint (its snapshot names the latest one).

    A checkpoint folder is written by a worker before the controller records it; a run
    killed in between restarts from scratch, as Ray Train has no record of it.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if list(storage.glob("*/checkpoint_manager_snapshot.json")):
            return sorted(storage.glob("*/checkpoint_*"))
        time.sleep(0.05)
    return []
