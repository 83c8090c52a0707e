"""train.distributed: LightGBM and XGBoost data-parallel on Ray Train, 2 workers, local Ray."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

import loopml
from loopml.config import TrainConfig
from loopml.workflows.init import init_project
from tests.integration.conftest import cli
from tests.integration.scaleout import local_ray  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("local_ray")]
ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'loopml[ray]'")


def test_distributed_boosters_are_registered_and_served_like_any_model(tmp_path: Path) -> None:
    init_project(tmp_path, "breast_cancer")
    config = tmp_path / "loopml.yaml"
    body = yaml.safe_load(config.read_text())
    body["models"] = {
        "candidates": {
            "lightgbm": {"n_estimators": 20, "num_leaves": 7},
            "xgboost": {"n_estimators": 20, "max_depth": 3},
        }
    }
    body["train"] = {"distributed": True, "workers": 2, "checkpoint_every": 10}
    config.write_text(yaml.safe_dump(body), encoding="utf-8")

    code, stdout, stderr = cli("run", "--config", str(config))
    assert code == 0, stderr
    assert "Training lightgbm on 2 Ray workers" in stderr
    assert "Training xgboost on 2 Ray workers" in stderr
    assert "Registered breast-cancer version 1 as challenger, champion" in stderr
    run_id = stdout.strip().splitlines()[-1]

    model = loopml.load_model(f"runs:/{run_id}/model", tracking_uri=body_uri(tmp_path))
    rows = pd.read_csv(tmp_path / "data" / "breast_cancer.csv")
    accuracy = (model.predict(rows) == rows["diagnosis"]).mean()
    assert accuracy > 0.9
    assert type(model.pipeline[-1]).__name__ == "BoosterModel"
    assert model.pipeline[-1].library in {"lightgbm", "xgboost"}
    # Finished trainings leave no checkpoints behind: a forced rerun starts afresh.
    assert not any((tmp_path / ".loopml" / "ray").glob("*/checkpoint_*"))


def body_uri(folder: Path) -> str:
    return f"sqlite:///{folder / '.loopml' / 'mlflow.db'}"


def test_a_stopped_training_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    """Stop a 40-round training after 20 rounds; the next run of the same name continues."""
    from sklearn.datasets import load_breast_cancer

    from loopml.compute import ray_train
    from loopml.core.boosters import BoosterModel

    X, y = load_breast_cancer(return_X_y=True)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame[ray_train.LABEL] = y.astype(float)
    shards = ray.data.from_pandas([frame.iloc[:300], frame.iloc[300:]])
    settings = TrainConfig(workers=2, checkpoint_every=10, storage=str(tmp_path / "ckpt"))
    params = BoosterModel("lightgbm", "classification", {"num_leaves": 7}).training_params(2)

    def job(rounds: int) -> ray_train.BoosterJob:
        return ray_train.BoosterJob("lightgbm", params, rounds, name="resumable")

    first = ray_train.train_booster(job(20), shards, settings)  # stopped at round 20
    assert first.resumed_from == 0 and first.model.count("\nTree=") == 20
    assert list((tmp_path / "ckpt" / "resumable").glob("checkpoint_*"))

    resumed = ray_train.train_booster(job(40), shards, settings)
    assert resumed.resumed_from == 20
    assert resumed.model.count("\nTree=") == 40
    scratch = BoosterModel("lightgbm", "classification", {"num_leaves": 7}).adopt(resumed.model)
    assert (scratch.adopt(resumed.model, [0, 1]).predict(X) == y).mean() > 0.95
