"""`loopml train` with search: leaderboard, MLflow runs per trial, bad spaces, reproducibility,
kill -9 and resume, distillation, and the Ray backend on a real local Ray instance."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.preprocessing import StandardScaler

import loopml
from loopml.config import load_config
from loopml.workflows.init import init_project
from tests.integration.conftest import Project, cli
from tests.integration.test_bad_input import _assert_clean_failure

pytestmark = pytest.mark.integration

SMALL_SEARCH = {
    "models": {
        "candidates": {
            "logistic_regression": {"C": {"low": 0.01, "high": 10.0, "log": True}},
            "lightgbm": {"n_estimators": 30, "num_leaves": [7, 15]},
        },
        "ensemble": {"method": "voting", "top_k": 2},
    },
    "tuning": {"budget": {"trials": 3}, "cv": {"folds": 3}},
    "imbalance": {"strategy": "class_weight"},
}


def _project(folder: Path, extra: dict[str, Any]) -> Path:
    """The breast cancer example with extra top-level sections in loopml.yaml."""
    init_project(folder, "breast_cancer")
    config = folder / "loopml.yaml"
    body = yaml.safe_load(config.read_text()) | extra
    config.write_text(yaml.safe_dump(body, sort_keys=False))
    return config


def _runs(config: Path) -> tuple[mlflow.MlflowClient, str]:
    cfg = load_config(config)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    experiment = client.get_experiment_by_name(cfg.experiment_name)
    return client, experiment.experiment_id


def _children(client: mlflow.MlflowClient, experiment: str, parent: str) -> list[Any]:
    return client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'")


@dataclass
class Trained:
    config: Path
    run_id: str
    stderr: str


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A small search (2 candidates, 3 trials, 3 folds, voting, class weights), trained once."""
    config = _project(tmp_path_factory.mktemp("small"), SMALL_SEARCH)
    code, stdout, stderr = cli("train", "-c", str(config))
    assert code == 0, stderr
    return Trained(config, stdout.strip().splitlines()[-1], stderr)


def test_train_tunes_compares_fairly_and_logs_one_child_run_per_trial(small: Trained) -> None:
    config, run_id, stderr = small.config, small.run_id, small.stderr
    assert "same budget (3 trials), same 3 stratified folds, seed 42" in stderr
    assert "voting(logistic_regression+lightgbm)" in stderr
    assert "Learning curve: more data" in stderr
    for column in ("CV ± std", "validation", "train", "trials", "µs/row", "size KB", "best params"):
        assert column in stderr

    client, experiment = _runs(config)
    candidates = {r.info.run_name: r for r in _children(client, experiment, run_id)}
    assert set(candidates) == {
        "baseline",
        "logistic_regression",
        "lightgbm",
        "voting(logistic_regression+lightgbm)",
    }
    trials = {
        name: _children(client, experiment, run.info.run_id) for name, run in candidates.items()
    }
    assert len(trials["logistic_regression"]) == 3
    assert len(trials["lightgbm"]) == 2  # a finite space of two points: searched exhaustively
    assert all(t.data.tags["loopml.kind"] == "trial" for t in trials["logistic_regression"])
    assert {t.data.params["num_leaves"] for t in trials["lightgbm"]} == {"7", "15"}
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"learning_curve.png", "learning_curve.json", "leaderboard.json"} <= artifacts
    board = mlflow.artifacts.load_dict(
        f"{client.get_run(run_id).info.artifact_uri}/leaderboard.json"
    )
    assert all(row["cv_mean"] > 0.5 for row in board if row["name"] != "baseline")
    # lightgbm stops on a holdout; the leaderboard shows the rounds it kept (of at most 30)
    lightgbm = next(row for row in board if row["name"] == "lightgbm")
    assert 1 <= lightgbm["params"]["best_iteration"] <= 30


def test_the_registered_winner_is_refitted_on_train_and_validation_rows(small: Trained) -> None:
    client, _ = _runs(small.config)
    run = client.get_run(small.run_id).data
    fitted_rows = int(run.params["rows.train"]) + int(run.params["rows.validation"])
    model = loopml.load_model(f"runs:/{small.run_id}/model", tracking_uri=_uri(small.config))

    scalers = _scalers(model.pipeline)
    assert run.params["fitted_on"] == "train+validation"
    assert scalers, "the winner has a numeric scaler"
    assert {int(np.max(s.n_samples_seen_)) for s in scalers} == {fitted_rows}


def _uri(config: Path) -> str:
    return load_config(config).tracking.uri


def _scalers(value: Any, seen: set[int] | None = None) -> list[StandardScaler]:
    """Every fitted StandardScaler inside a fitted pipeline, ensembles' members included."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, StandardScaler):
        return [value] if hasattr(value, "n_samples_seen_") else []
    if isinstance(value, (list, tuple)):
        inner = list(value)
    elif isinstance(value, dict):
        inner = list(value.values())
    elif hasattr(value, "get_params"):
        inner = list(vars(value).values())
    else:
        return []
    return [s for v in inner for s in _scalers(v, seen)]


def _board_without_timings(config: Path, run_id: str) -> list[dict[str, Any]]:
    client, _ = _runs(config)
    uri = client.get_run(run_id).info.artifact_uri
    board = mlflow.artifacts.load_dict(f"{uri}/leaderboard.json")
    timed = ("search_seconds", "fit_seconds", "latency_ms_per_row")
    return [{k: v for k, v in row.items() if k not in timed} for row in board]


def test_same_data_config_and_seed_give_the_same_leaderboard_and_test_metric(
    small: Trained,
) -> None:
    code, stdout, stderr = cli("train", "-c", str(small.config), "--force")
    assert code == 0, stderr
    runs = [small.run_id, stdout.strip().splitlines()[-1]]
    assert runs[0] != runs[1]
    config = small.config
    assert _board_without_timings(config, runs[0]) == _board_without_timings(config, runs[1])
    client, _ = _runs(config)
    first, second = (client.get_run(r).data for r in runs)
    assert first.tags["loopml.winner"] == second.tags["loopml.winner"]
    assert first.metrics["test_f1_macro"] == second.metrics["test_f1_macro"]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "models.candidates={logistic_regression: {C: {low: -1, high: 1, log: true}}}",
            "models.candidates.logistic_regression.C: a log range needs low > 0",
        ),
        ("tuning.metric=f2_sccore", "tuning.metric: unknown metric 'f2_sccore'"),
        ("models.candidates={extra_treez: {}}", "models.candidates.extra_treez: unknown model"),
    ],
)
def test_bad_search_settings_are_one_line_and_write_nothing(
    breast_cancer: Project, override: str, expected: str
) -> None:
    config = str(breast_cancer.config_path)
    _assert_clean_failure(breast_cancer, "train", "-c", config, "--set", override, expect=expected)


def _finished_trials(folder: Path) -> list[tuple[int, str]]:
    databases = list((folder / ".loopml" / "studies").glob("*/logistic_regression.db"))
    if not databases:
        return []
    try:
        with sqlite3.connect(databases[0], timeout=1) as conn:
            rows = conn.execute(
                "SELECT number, datetime_start FROM trials WHERE state = 'COMPLETE'"
            ).fetchall()
    except sqlite3.OperationalError:  # the schema is being created
        return []
    return sorted(rows)


def test_kill_9_mid_search_then_resume_finishes_without_repeating_trials(tmp_path: Path) -> None:
    budget = 25
    config = _project(
        tmp_path,
        {
            "models": {
                "candidates": {"logistic_regression": {"C": {"low": 1e-3, "high": 10, "log": True}}}
            },
            "tuning": {
                "method": "random",
                "pruning": False,
                "budget": {"trials": budget},
                "learning_curve": False,
            },
        },
    )
    command = [sys.executable, "-m", "loopml.cli", "train", "-c", str(config)]
    worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(_finished_trials(tmp_path)) < 3:
            assert worker.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline, "no trial finished within 120 s"
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    before = _finished_trials(tmp_path)
    assert 3 <= len(before) < budget
    cfg = load_config(config)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    assert client.get_experiment_by_name(cfg.experiment_name) is None, "a killed train logged"

    code, stdout, stderr = cli("train", "-c", str(config), "--resume")
    assert code == 0, stderr
    kept = len(before)  # pruning is off: every trial that used budget completed
    assert (
        f"--resume: logistic_regression kept {kept} finished trials of {budget} and continued "
        f"at trial {kept + 1} ({budget - kept} run now)"
    ) in " ".join(stderr.split()), stderr[-2000:]
    client, experiment = _runs(config)
    after = _finished_trials(tmp_path)
    assert len(after) == budget
    assert set(before) <= set(after), "a trial finished before the kill was run again"
    run_id = stdout.strip().splitlines()[-1]
    (candidate,) = [
        c for c in _children(client, experiment, run_id) if c.info.run_name == "logistic_regression"
    ]
    assert len(_children(client, experiment, candidate.info.run_id)) == budget


def test_resume_with_another_trial_budget_is_refused_naming_the_key(tmp_path: Path) -> None:
    config = _project(
        tmp_path,
        {
            "models": {"candidates": {"logistic_regression": {}}},
            "tuning": {"budget": {"trials": 2}, "learning_curve": False},
        },
    )
    code, _, stderr = cli("train", "-c", str(config))
    assert code == 0, stderr
    code, stdout, stderr = cli(
        "train", "-c", str(config), "--resume", "--force", "--set", "tuning.budget.trials=3"
    )
    assert code == 1, stderr
    line = " ".join(stderr.split())
    assert (
        "--resume: tuning.budget.trials is 3 but the interrupted search on this data had 2"
    ) in line, stderr
    assert "Traceback" not in stderr and stdout == ""
    code, _, stderr = cli("train", "-c", str(config), "--resume", "--force")
    assert code == 0, stderr
    assert "--resume: logistic_regression kept 2 finished trials of 2 and had none left to run" in (
        " ".join(stderr.split())
    ), stderr[-2000:]


def test_distill_registers_a_student_beside_the_teacher(small: Trained) -> None:
    config = small.config
    code, stdout, stderr = cli("distill", "-c", str(config), "--set", "distill.max_drop=0.5")
    assert code == 0, stderr
    assert "teacher (breast-cancer v" in stderr and "student (small_lightgbm)" in stderr
    assert "as student" in stderr
    cfg = load_config(config)
    student = loopml.load_model("models:/breast-cancer@student", tracking_uri=cfg.tracking.uri)
    rows = pd.read_csv(config.parent / "data" / "score_me.csv")
    assert set(student.predict(rows)) <= {"benign", "malignant"}
    run = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri).get_run(stdout.strip())
    assert run.data.tags["loopml.kind"] == "distillation"
    assert student.run_id == run.info.run_id


@pytest.mark.ray
@pytest.mark.slow
def test_ray_backend_runs_the_search_through_ray_tune(tmp_path: Path) -> None:
    import ray

    from loopml.workflows.train import train

    config = _project(
        tmp_path,
        {
            "models": {
                "candidates": {"logistic_regression": {"C": {"low": 1e-2, "high": 10, "log": True}}}
            },
            "tuning": {"budget": {"trials": 4}, "cv": {"folds": 3}, "learning_curve": False},
            "compute": {"backend": "ray"},
        },
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = train(load_config(config))
    finally:
        ray.shutdown()
    (entry,) = [e for e in result.leaderboard if e.name == "logistic_regression"]
    assert entry.trials == 4
    assert entry.cv_mean > 0.9
    assert "same budget (4 trials), same 3 stratified folds" in result.fairness
    assert (tmp_path / ".loopml" / "ray").is_dir()
    client, experiment = _runs(config)
    (candidate,) = [
        c
        for c in _children(client, experiment, result.run_id)
        if c.info.run_name == "logistic_regression"
    ]
    assert len(_children(client, experiment, candidate.info.run_id)) == 4


def test_a_weighted_ensemble_enters_the_leaderboard_with_its_weights(tmp_path: Path) -> None:
    """models.ensemble.method: weighted — the weights come from ensemble selection on the
    members' out-of-fold predictions, sum to 1, and the refitted vote uses them."""
    from loopml.core.evaluation import metrics
    from loopml.workflows import tune
    from loopml.workflows.events import SilentReporter
    from loopml.workflows.prepare import prepare

    search = {
        "models": {
            "candidates": {"lightgbm": {"n_estimators": 60}, "random_forest": {}},
            "ensemble": {"method": "weighted", "top_k": 2},
        },
        "tuning": {"budget": {"trials": 2}, "cv": {"folds": 3}, "learning_curve": False},
    }
    cfg = load_config(_project(tmp_path, search))
    data = prepare(cfg, SilentReporter())
    metric = metrics.resolve(cfg.metric, data.task)
    outcome = tune.tune(cfg, data, metric, SilentReporter())
    weighted = [e for e in outcome.entries if e.name.startswith("weighted(")]
    assert len(weighted) == 1, outcome.notes
    entry = weighted[0]
    assert set(entry.params["members"]) == {"lightgbm", "random_forest"}
    assert sum(entry.params["weights"]) == pytest.approx(1.0)
    assert entry.pipeline is not None and entry.validation_score > 0.9
    vote = entry.pipeline.named_steps["model"]
    assert vote.weights.tolist() == entry.params["weights"]
    assert 0.9 < entry.cv_mean <= 1.0 and entry.trials == 1
