"""The bagging step of tuning (models.bagging.folds): the bagged best candidate enters the
leaderboard with its members' held-out scores, and is skipped with one line saying why."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.conftest import Recorder, write_project

from loopml.config import load_config
from loopml.core import budget
from loopml.core.evaluation import metrics
from loopml.workflows import tune
from loopml.workflows.prepare import prepare


def _outcome(tmp_path: Path, *overrides: str) -> tuple[tune.Outcome, Recorder, Any]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=240).round(3), "z": rng.normal(size=240).round(3)})
    frame["y"] = np.where(frame["x"] + rng.normal(scale=0.7, size=240) > 0, "a", "b")
    frame.to_csv(tmp_path / "data.csv", index=False)
    config = write_project(
        tmp_path,
        {
            "name": "bags",
            "data": {"source": "data.csv", "target": "y"},
            "models": {"candidates": {"logistic_regression": {"C": 1.0}}},
            "tuning": {"budget": {"trials": 1}, "learning_curve": False},
        },
    )
    cfg = load_config(config, ["models.bagging.folds=5", *overrides])
    data = prepare(cfg, Recorder())
    said = Recorder()
    metric = metrics.resolve(cfg.metric, data.task)
    return tune.tune(cfg, data, metric, said), said, (cfg, data, metric)


def test_the_bag_scores_its_members_on_the_folds_the_search_used(tmp_path: Path) -> None:
    outcome, said, _ = _outcome(tmp_path)
    entries = {e.name: e for e in outcome.entries}
    bag, single = entries["bagged_logistic_regression"], entries["logistic_regression"]
    assert bag.error is None and bag.params == {"members": ["logistic_regression"], "folds": 5}
    # same configuration, same folds: each member's held-out score is the search's fold score
    assert bag.cv_mean == pytest.approx(single.cv_mean, abs=1e-12)
    assert bag.cv_std == pytest.approx(single.cv_std, abs=1e-12)
    assert not np.isnan(bag.validation_score) and bag.size_bytes > single.size_bytes
    assert any(s.startswith("Bagging logistic_regression") for s in said.stages)


def test_other_fold_counts_bag_on_their_own_shuffled_folds(tmp_path: Path) -> None:
    outcome, _, _ = _outcome(tmp_path, "models.bagging.folds=3")
    bag = next(e for e in outcome.entries if e.name == "bagged_logistic_regression")
    assert bag.pipeline is not None and len(bag.pipeline[-1].estimators_) == 3
    assert bag.params["folds"] == 3 and not np.isnan(bag.cv_mean)


def test_time_series_folds_skip_bagging_with_the_reason(tmp_path: Path) -> None:
    outcome, said, _ = _outcome(tmp_path, "tuning.cv.kind=time_series")
    assert not any(e.name.startswith("bagged_") for e in outcome.entries)
    assert said.warnings == [
        "bagging of logistic_regression skipped: it refits on shuffled folds, and "
        "tuning.cv.kind is time_series; use stratified or kfold, or models.bagging.folds: 0"
    ]


def test_a_bag_that_would_not_fit_in_the_time_left_is_skipped_and_said(tmp_path: Path) -> None:
    outcome, _, (cfg, data, metric) = _outcome(tmp_path)
    outcome.entries = [e for e in outcome.entries if not e.name.startswith("bagged_")]
    clock = budget.Clock(limit=10.0, started=time.monotonic() - 9.5)
    plan = budget.TimePlan(
        limit=10.0,
        spent=1.0,
        search=5.0,
        share=5.0,
        candidates=1,
        at_once=1,
        after=3.0,
        trials=None,
    )
    said = Recorder()
    tune._add_bagging(cfg, data, metric, outcome, said, tune._Timing(clock, plan))
    assert not any(e.name.startswith("bagged_") for e in outcome.entries)
    assert len(said.warnings) == 1
    assert said.warnings[0].startswith("bagging of logistic_regression skipped: it would take")
    assert said.warnings[0].endswith(
        "(tuning.budget.time_limit 10 s) (models.bagging.folds: 0 turns it off)"
    )


def test_the_learning_curve_rebuilds_a_bagged_winner_unfitted(tmp_path: Path) -> None:
    from sklearn.base import clone

    outcome, _, (cfg, data, _) = _outcome(tmp_path)
    bag = next(e for e in outcome.entries if e.name == "bagged_logistic_regression")
    rebuilt = tune._unfitted(cfg, data, outcome.settings, bag, outcome)
    assert bag.pipeline is not None
    assert type(rebuilt[-1]) is type(bag.pipeline[-1])
    X, y = data.splits.train[list(data.roles.features)], data.splits.train[data.target]
    refitted = clone(rebuilt).fit(X, y)
    np.testing.assert_allclose(refitted.predict_proba(X), bag.pipeline.predict_proba(X))
    assert tune._fold_seconds_of(outcome, bag) == pytest.approx(
        5 * tune._best_fold_seconds(outcome.searches["logistic_regression"])
    )
