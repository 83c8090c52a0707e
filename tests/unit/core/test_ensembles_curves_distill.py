"""Ensembles over pipelines, the learning-curve reading, and distillation's soft targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import StackingClassifier, VotingClassifier, VotingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from loopml.core import distill, ensembles
from loopml.core.learning_curve import LearningCurve, reading


def _pipe(model: object) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("model", model)])


def test_voting_is_soft_when_every_member_gives_probabilities() -> None:
    soft = ensembles.build(
        "voting",
        [("a", _pipe(LogisticRegression())), ("b", _pipe(SVC(probability=True)))],
        "classification",
        0,
    )
    hard = ensembles.build(
        "voting", [("a", _pipe(LogisticRegression())), ("b", _pipe(SVC()))], "classification", 0
    )
    assert isinstance(soft.named_steps["model"], VotingClassifier)
    assert soft.named_steps["model"].voting == "soft"
    assert hard.named_steps["model"].voting == "hard"
    regression = ensembles.build("voting", [("r", _pipe(Ridge()))], "regression", 0)
    assert isinstance(regression.named_steps["model"], VotingRegressor)


def test_stacking_fits_and_predicts_on_raw_rows() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(90, 2)), columns=["a", "b"])
    y = np.where(X["a"] > 0, "p", "n")
    model = ensembles.build(
        "stacking",
        [("lr", _pipe(LogisticRegression())), ("r", _pipe(SVC()))],
        "classification",
        0,
    )
    model.fit(X, y)
    assert isinstance(model.named_steps["model"], StackingClassifier)
    assert (model.predict(X) == y).mean() > 0.9


def _curve(valid: list[float], std: float = 0.01) -> LearningCurve:
    return LearningCurve(
        "accuracy", True, [100, 200, 300, 400], [0.99] * 4, [0.0] * 4, valid, [std] * 4, 5
    )


def test_a_rising_curve_reads_more_data_still_helps() -> None:
    assert reading(_curve([0.70, 0.75, 0.79, 0.83])).startswith("more data still helps")


def test_a_flat_curve_reads_unlikely_to_help() -> None:
    text = reading(_curve([0.70, 0.80, 0.812, 0.813]))
    assert text.startswith("more data is unlikely to help much")
    assert "from 300 to 400 rows" in text


def test_lower_is_better_metrics_read_in_the_right_direction() -> None:
    falling_loss = LearningCurve(
        "rmse", False, [1, 2, 3, 4], [0] * 4, [0] * 4, [9.0, 8.0, 7.0, 6.0], [0.1] * 4, 5
    )
    assert reading(falling_loss).startswith("more data still helps")


def test_soft_targets_repeat_rows_per_class_weighted_by_the_teacher() -> None:
    features = pd.DataFrame({"x": [1.0, 2.0]})
    proba = np.array([[0.9, 0.1], [0.0, 1.0]])
    rows, labels, weights = distill.soft_targets(features, proba, ["a", "b"])
    assert rows["x"].tolist() == [1.0, 1.0, 2.0]
    assert labels.tolist() == ["a", "b", "b"]
    assert weights.tolist() == [0.9, 0.1, 1.0]
