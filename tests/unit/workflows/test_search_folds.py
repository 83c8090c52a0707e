"""Tuning prepares its folds once per distinct preprocessing: candidates that take
categories natively (CatBoost) get ordinal codes, one-hot ones share theirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import write_project

from loopml.config import load_config
from loopml.core.evaluation import metrics
from loopml.workflows import tune
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare


def test_native_and_one_hot_candidates_get_their_own_prepared_folds(tmp_path: Path) -> None:
    pytest.importorskip("catboost")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=200).round(3),
            "city": rng.choice(["oslo", "rome", "lima"], 200),
            "y": rng.choice(["a", "b"], 200),
        }
    )
    frame.to_csv(tmp_path / "data.csv", index=False)
    candidates = {"lightgbm": {}, "random_forest": {}, "catboost": {}}
    config = write_project(
        tmp_path,
        {
            "name": "folds",
            "data": {"source": "data.csv", "target": "y"},
            "models": {"candidates": candidates},
        },
    )
    cfg = load_config(config)
    data = prepare(cfg, SilentReporter())
    fair = tune.settings(cfg, data, metrics.resolve(cfg.metric, data.task))
    tasks = {t.name: t for t in tune.search_tasks(cfg, data, fair, tune.specs(cfg, data.task))}
    assert tasks["lightgbm"].prepared is tasks["random_forest"].prepared  # both one-hot
    native, one_hot = tasks["catboost"].prepared, tasks["lightgbm"].prepared
    assert native is not None and one_hot is not None and native is not one_hot
    width = 1 + 1  # the city's code first, then x
    assert native[0].X_train.shape[1] == width < one_hot[0].X_train.shape[1]
    assert set(np.unique(native[0].X_train[:, 0])) <= {0.0, 1.0, 2.0}
