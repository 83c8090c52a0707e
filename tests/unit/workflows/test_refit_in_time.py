"""With a time limit, the winner's refit on train+validation is skipped when it would not
fit in what is left, said in one line, and the run records that the model ships fitted on
the training split (run params and the model's metadata), never train+validation."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from tests.conftest import Recorder, write_project

from loopml.config import load_config
from loopml.core import budget
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
    # the estimate: the training-split fit's time scaled by the rows (120 -> 160 of 200)
    sizes = result.split_sizes
    winner = next(f for f in result.leaderboard if f.name == "logistic_regression")
    scale = (sizes["train"] + sizes["validation"]) / sizes["train"]
    assert len(estimates) == 1 and estimates[0] == pytest.approx(winner.fit_seconds * scale)
    skipped = [w for w in said.warnings if w.startswith("refit of logistic_regression")]
    refitting = [s for s in said.stages if s.startswith("Refitting logistic_regression on")]
    if reason:
        assert skipped == [
            "refit of logistic_regression on train+validation skipped: no time; the model "
            "ships fitted on the training split (raise --time-limit, or set train.refit: "
            "train to skip it up front)"
        ]
        assert refitting == []
    else:
        assert skipped == [] and len(refitting) == 1
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    assert client.get_run(result.run_id).data.params["fitted_on"] == fitted_on
    info = mlflow.models.get_model_info(f"runs:/{result.run_id}/model")
    assert info.metadata is not None and info.metadata["loopml"]["fitted_on"] == fitted_on


def test_the_slowdown_is_never_probed_inside_the_refits_running_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probed in a refit's thread, the pace counts the other refits' work as the machine's
    load (taxis, n_jobs 2, said '2.1x slower' on a quiet machine and skipped a refit)."""
    import threading

    from loopml.core import budget

    config = _project(tmp_path)
    cfg = load_config(
        config,
        [
            "models.candidates={logistic_regression: {C: 1.0}, naive_bayes: {}}",
            "tuning.budget.time_limit=120",
            "tuning.n_jobs=2",
        ],
    )
    probed: list[str] = []
    pace = budget.pace

    def counted(repeats: int = 5) -> float:
        probed.append(threading.current_thread().name)
        return pace(repeats)

    monkeypatch.setattr(budget, "pace", counted)
    result = train.train(cfg, reporter=Recorder())
    assert result.registered is not None
    assert len(probed) >= 2  # at the plan, and after the search
    assert set(probed) == {threading.main_thread().name}


def test_the_reserve_is_sized_for_the_model_that_wins(tmp_path: Path) -> None:
    """The plan train's later steps use (and tuning.json records) keeps time for logging
    the winner: its pickled size, not a small model's."""
    cfg = load_config(
        _project(tmp_path),
        [
            "models.candidates={logistic_regression: {C: 1.0}, "
            "random_forest: {n_estimators: 300, min_samples_leaf: 1}}",
            "tuning.budget.time_limit=120",
        ],
    )
    result = train.train(cfg, reporter=Recorder())
    winner = next(f for f in result.leaderboard if f.name == result.winner)
    assert winner.size_bytes > 0
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    tuning = client.download_artifacts(result.run_id, "tuning.json", str(tmp_path))
    planned = json.loads(Path(tuning).read_text())["time_limit"]
    assert planned["model_bytes"] == winner.size_bytes
    searched = {"logistic_regression", "random_forest"}  # not the baseline, nor an ensemble
    assert planned["trials_run"] == sum(f.trials for f in result.leaderboard if f.name in searched)
    fields = {k: v for k, v in planned.items() if k not in ("reserved", "kept", "line")}
    plan = budget.TimePlan(**fields)
    assert planned["kept"] == pytest.approx(plan.kept)
    assert plan.kept >= plan.after + budget.model_seconds(winner.size_bytes, plan.pace)
