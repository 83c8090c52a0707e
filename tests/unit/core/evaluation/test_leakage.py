"""A perfect test score is said as suspected leakage, naming the columns behind it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import Recorder, write_project

from loopml.config import load_config
from loopml.core.evaluation import leakage


def test_only_a_perfect_score_on_enough_rows_is_too_good() -> None:
    assert leakage.too_good({"r2": 0.9995}, "regression", 100) == "test r2 0.9995"
    assert leakage.too_good({"r2": 0.97}, "regression", 100) is None
    assert leakage.too_good({"r2": 1.0}, "regression", 10) is None  # 10 rows prove nothing
    assert leakage.too_good({"accuracy": 1.0}, "classification", 50) == "test accuracy 1.0000"
    assert leakage.too_good({"accuracy": 0.99}, "classification", 50) is None
    assert leakage.too_good({}, "regression", 100) is None


def test_the_suspects_are_the_columns_that_alone_say_most() -> None:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["part"] = rng.normal(size=n)
    frame["y"] = frame["part"] * 3 + frame["a"] * 0.3
    found = leakage.suspects(frame, "y", ["a", "b", "part"], "regression")
    assert [c for c, _ in found][:2] == ["part", "a"]
    assert found[0][1] == pytest.approx(abs(frame["part"].corr(frame["y"])))
    frame["label"] = np.where(frame["b"] > 0, "yes", "no")
    frame["copy"] = frame["label"].map({"yes": "Y", "no": "N"})
    classes = leakage.suspects(frame, "label", ["a", "copy", "b"], "classification")
    assert classes[0] == ("copy", 1.0)  # a one-column rule gets every row right
    assert dict(classes)["b"] > 0.9  # the numbers cut in bins: b > 0 is almost one bin edge
    text = leakage.line("test accuracy 1.0000", "lightgbm", classes, "classification")
    assert text.startswith("test accuracy 1.0000 (lightgbm) is too good to be true")
    assert "copy (1.000)" in text and text.endswith("list such a column in data.columns.ignore")
    assert "\n" not in text


def test_train_says_it_when_a_column_adds_up_to_the_target(tmp_path: Path) -> None:
    from loopml.workflows.train import train

    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame({"casual": rng.poisson(20, n), "registered": rng.poisson(80, n)})
    frame["temp"] = rng.normal(size=n).round(3)
    frame["cnt"] = frame["casual"] + frame["registered"]
    frame.to_csv(tmp_path / "data.csv", index=False)
    config = write_project(
        tmp_path,
        {
            "name": "leaky",
            "data": {"source": "data.csv", "target": "cnt"},
            "models": {"candidates": {"ridge": {"alpha": 1e-6}}},
            "tuning": {"budget": {"trials": 1}, "learning_curve": False},
        },
    )
    said = Recorder()
    train(load_config(config), reporter=said)
    warned = [w for w in said.warnings if "too good to be true" in w]
    assert len(warned) == 1, said.warnings
    assert warned[0].startswith("test r2 1.0000 (ridge) is too good to be true")
    assert "registered (" in warned[0] and "casual (" in warned[0]
