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


def test_ensemble_selection_weighs_the_member_that_helps_and_drops_the_one_that_does_not() -> None:
    """Caruana's greedy selection: two members whose errors cancel are weighed equally; a
    useless third (constant 0.5) is never added."""
    from sklearn.metrics import mean_squared_error

    truth = np.linspace(0.0, 1.0, 50)
    low, high, flat = truth - 0.2, truth + 0.2, np.full(50, 0.5)
    weights = ensembles.select(
        [low, high, flat],
        lambda values: mean_squared_error(truth, values),
        higher_is_better=False,
        rounds=20,
    )
    assert weights.tolist() == [0.5, 0.5, 0.0]
    assert weights.sum() == 1.0


def test_ensemble_selection_with_one_good_member_keeps_only_it() -> None:
    truth = np.arange(10.0)
    weights = ensembles.select(
        [truth, truth[::-1]], lambda v: -float(np.abs(v - truth).mean()), rounds=5
    )
    assert weights.tolist() == [1.0, 0.0]


def test_ensemble_selection_refuses_members_of_different_shapes() -> None:
    import pytest

    with pytest.raises(ValueError, match="differ in shape"):
        ensembles.select([np.zeros(3), np.zeros(4)], lambda v: 0.0)


def test_out_of_fold_probabilities_come_from_models_that_never_saw_the_row() -> None:
    """Each row's out-of-fold probability equals a model fitted on the other folds' rows;
    rows no fold validates stay NaN; a fold missing a class gets 0 for it."""
    from loopml.core import tuning

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=60)})
    y = pd.Series(np.where(X["a"] > 0, "p", "n"))
    y.iloc[[50, 55]] = "rare"  # only in the last fold's validation rows: unseen in training
    folds = [(np.arange(0, 40), np.arange(40, 50)), (np.arange(0, 50), np.arange(50, 60))]
    model = _pipe(LogisticRegression())
    oof = tuning.out_of_fold(model, X, y, folds, "classification")
    assert oof.classes is not None and oof.classes.tolist() == ["n", "p", "rare"]
    assert np.isnan(oof.values[:40]).all()
    first = _pipe(LogisticRegression()).fit(X.iloc[:40], y.iloc[:40])
    np.testing.assert_allclose(oof.values[40:50, :2], first.predict_proba(X.iloc[40:50]))
    assert (oof.values[40:50, 2] == 0).all()  # the rare class was unseen by the first fold
    regression = tuning.out_of_fold(_pipe(Ridge()), X, X["a"] * 2, folds, "regression", n_jobs=2)
    assert regression.classes is None and regression.values.shape == (60,)
    last = _pipe(Ridge()).fit(X.iloc[:50], X["a"].iloc[:50] * 2)
    np.testing.assert_allclose(regression.values[50:], last.predict(X.iloc[50:]))


def test_a_weighted_ensemble_compiles_with_parity() -> None:
    """The weighted vote is scikit-learn's VotingClassifier with weights: ONNX gives the same
    probabilities as the native pipeline."""
    from loopml.core import models
    from loopml.core.compile import compile_pipeline
    from loopml.core.data.roles import ColumnRoles
    from loopml.core.scoring import column_specs

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "c": rng.choice(["x", "y", "z"], 200)})
    y = pd.Series(np.where(X["a"] + (X["c"] == "x") > 0.3, "yes", "no"))
    roles = ColumnRoles(numeric=("a",), categorical=("c",))
    members = [
        ("lr", models.build_pipeline(roles, LogisticRegression())),
        (
            "rf",
            models.build_pipeline(
                roles,
                models.make_estimator("random_forest", {"n_estimators": 20}, "classification", 0),
            ),
        ),
    ]
    model = ensembles.build("weighted", members, "classification", 0, weights=[0.72, 0.28])
    model.fit(X.iloc[:150], y.iloc[:150])
    assert model.named_steps["model"].weights.tolist() == [0.72, 0.28]
    compiled, report = compile_pipeline(
        model, column_specs(roles), "classification", list(model.classes_), X.iloc[150:]
    )
    assert report.ok, report.reason
    assert compiled is not None and report.max_proba_diff is not None
    assert report.max_proba_diff < 1e-5
