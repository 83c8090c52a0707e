"""With a time limit, the winner's refit on train+validation is skipped when it would not
fit in what is left, said in one line, and the run records that the model ships fitted on
the training split (run params and the model's metadata), never train+validation."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from tests.conftest import Recorder, write_project

from loopml.config import load_config
from loopml.workflows import train


def _project(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200).round(3), "z": rng.normal(size=200).round(3)})
    frame["y"] = np.where(frame["x"] + rng.normal(scale=0.7, size=200) > 0, "a", "b")
    frame.to_csv(tmp_path / "data.csv", index=False)
    return write_project(
        tmp_path,
        {
            "name": "late-refit",
            "data": {"source": "data.csv", "target": "y"},
            "models": {"candidates": {"logistic_regression": {"C": 1.0}}},
            "tuning": {"budget": {"trials": 1}, "learning_curve": False},
            "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        },
    )


@pytest.mark.parametrize(("reason", "fitted_on"), [("", "train+validation"), ("no time", "train")])
def test_a_late_refit_on_train_and_validation_is_skipped_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reason: str, fitted_on: str
) -> None:
    cfg = load_config(_project(tmp_path))
    estimates: list[float] = []

    def late(seconds: float) -> str:
        estimates.append(seconds)
        return reason

    monkeypatch.setattr(train, "_lateness", lambda clock, plan: late)
    said = Recorder()
    result = train.train(cfg, reporter=said)
    # the estimate: the training-split fit's time scaled by the rows (160 of 200 -> 200)
    assert len(estimates) == 1 and estimates[0] > 0
    skipped = [w for w in said.warnings if w.startswith("refit of logistic_regression")]
    refitting = [s for s in said.stages if s.startswith("Refitting logistic_regression on")]
    if reason:
        assert skipped == [
            "refit of logistic_regression on train+validation skipped: no time; the model "
            "ships fitted on the training split (train.refit: train says so up front)"
        ]
        assert refitting == []
    else:
        assert skipped == [] and len(refitting) == 1
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    assert client.get_run(result.run_id).data.params["fitted_on"] == fitted_on
    info = mlflow.models.get_model_info(f"runs:/{result.run_id}/model")
    assert info.metadata is not None and info.metadata["loopml"]["fitted_on"] == fitted_on
