"""Worst errors, permutation importance and the learning curve on small fitted pipelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from loopml.core.data.roles import ColumnRoles
from loopml.core.evaluation import inspection, metrics
from loopml.core.models import build_pipeline

ROLES = ColumnRoles(numeric=("signal", "noise"))


def data(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n)})
    frame["label"] = np.where(frame["signal"] + rng.normal(0, 0.3, n) > 0, "up", "down")
    return frame


def fitted() -> object:
    train = data(0)
    return build_pipeline(ROLES, LogisticRegression()).fit(
        train[["signal", "noise"]], train["label"]
    )


def test_worst_errors_are_the_most_confident_wrong_predictions_with_inputs() -> None:
    frame = pd.DataFrame({"text": ["a" * 200, "b", "c", "d"], "x": [1, 2, 3, 4]})
    y = np.array(["p", "p", "n", "n"])
    predicted = np.array(["n", "p", "p", "n"])
    proba = np.array([[0.7, 0.3], [0.1, 0.9], [0.05, 0.95], [0.9, 0.1]])  # columns n, p

    worst = inspection.worst_errors(frame, ["text", "x"], y, predicted, proba, "classification", 5)

    assert list(worst["x"]) == [3, 1]  # 0.95 confident before 0.7
    assert list(worst["confidence"]) == [0.95, 0.7]
    assert worst["text"].iloc[1].endswith("…") and len(worst["text"].iloc[1]) == 120


def test_worst_errors_of_a_regression_are_the_largest_residuals() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3]})
    worst = inspection.worst_errors(
        frame,
        ["x"],
        np.array([10.0, 20.0, 30.0]),
        np.array([11.0, 5.0, 29.0]),
        None,
        "regression",
        2,
    )

    assert list(worst["x"]) == [2, 1]
    assert list(worst["residual"]) == [15.0, -1.0]


def test_permutation_importance_ranks_the_informative_column_first() -> None:
    test = data(1)

    found = inspection.importance(
        fitted(),
        test[["signal", "noise"]],
        test["label"],
        metrics.METRICS["f1_macro"],
        "classification",
        ["down", "up"],
        rows=200,
    )

    assert [i.column for i in found] == ["signal", "noise"]
    assert found[0].mean > 0.3 and abs(found[1].mean) < 0.05


def test_learning_curve_refits_the_pipeline_inside_a_calibrated_model() -> None:
    model = fitted()
    validation = data(2, 200)
    calibrated = CalibratedClassifierCV(FrozenEstimator(model)).fit(
        validation[["signal", "noise"]], validation["label"]
    )

    curve = inspection.learning(
        calibrated,
        data(0),
        validation,
        ["signal", "noise"],
        "label",
        metrics.METRICS["accuracy"],
        "classification",
        ["down", "up"],
    )

    assert inspection.unwrap(calibrated) is model
    assert curve.rows == [30, 75, 150, 225, 300]
    assert all(0.7 < v <= 1.0 for v in curve.validation)


def test_a_category_coded_as_numbers_gets_a_value_by_value_direction() -> None:
    """Pclass 1/2/3 declared categorical is compared class by class, not ranked; the same
    numbers declared numeric get Spearman's rho."""
    from loopml.core.explain import Explanations

    classes = np.repeat([1, 2, 3], 20)
    contributions = np.column_stack([np.select([classes == 1, classes == 2], [0.5, -0.4], 0.1)])
    explained = Explanations(
        ("Pclass",),
        contributions,
        np.zeros(60),
        contributions[:, 0],
        "value",
        "test",
        True,
        "",
    )
    rows = pd.DataFrame({"Pclass": classes})
    as_category = inspection.global_attributions(rows, explained, {"Pclass": "categorical"})
    (direction,) = as_category.directions
    assert (direction.raises, direction.lowers, direction.rho) == ("1", "2", None)
    as_number = inspection.global_attributions(rows, explained, {"Pclass": "numeric"})
    assert as_number.directions[0].rho is not None and as_number.directions[0].raises is None
