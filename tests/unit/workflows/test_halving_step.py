"""Successive halving through tune(): with fewer than three candidates it says it does not
apply (no half to drop) and every candidate searches its whole share."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from tests.conftest import Recorder, write_project

from loopml.config import load_config
from loopml.core import budget
from loopml.core.evaluation import metrics
from loopml.workflows import tune
from loopml.workflows.prepare import prepare


def test_two_candidates_are_told_halving_needs_three(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200).round(3)})
    frame["y"] = np.where(frame["x"] + rng.normal(scale=0.7, size=200) > 0, "a", "b")
    frame.to_csv(tmp_path / "data.csv", index=False)
    config = write_project(
        tmp_path,
        {
            "name": "halves",
            "data": {"source": "data.csv", "target": "y"},
            "models": {"candidates": {"logistic_regression": {}, "knn": {}}},
            "tuning": {
                "budget": {"time_limit": 30, "successive_halving": True, "trials": 2},
                "learning_curve": False,
            },
        },
    )
    cfg = load_config(config)
    data = prepare(cfg, Recorder())
    said = Recorder()
    metric = metrics.resolve(cfg.metric, data.task)
    outcome = tune.tune(cfg, data, metric, said, clock=budget.Clock(30.0, time.monotonic()))
    assert any(
        w.startswith("tuning.budget.successive_halving needs three or more candidates (2 here")
        for w in said.warnings
    ), said.warnings
    assert not any(s.startswith("Successive halving:") for s in said.stages)
    assert "successive halving" not in outcome.settings.fairness()
