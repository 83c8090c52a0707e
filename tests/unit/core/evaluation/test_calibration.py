"""Calibration on the validation split: it lowers ECE of an overconfident model; auto keeps it
only when it helps; the calibrated model still predicts labels of the same classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from loopml.core.evaluation import metrics
from loopml.core.evaluation.calibration import calibrate, reliability_curve


def _data(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    # Many redundant features: naive Bayes counts the same evidence many times and so is
    # badly overconfident.
    x, y = make_classification(
        n_samples=n, n_features=20, n_informative=3, n_redundant=15, flip_y=0.1, random_state=seed
    )
    return pd.DataFrame(x).add_prefix("f"), pd.Series(np.where(y == 1, "yes", "no"))


@pytest.fixture(scope="module")
def splits() -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    x, y = _data(3000, 0)
    return {
        "train": (x.iloc[:1000], y.iloc[:1000]),
        "validation": (x.iloc[1000:1800], y.iloc[1000:1800].reset_index(drop=True)),
        "test": (x.iloc[1800:], y.iloc[1800:].to_numpy()),
    }


def ece(model, x: pd.DataFrame, y: np.ndarray) -> float:
    return metrics.expected_calibration_error(y, model.predict_proba(x), model.classes_)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic", "auto"])
def test_calibration_lowers_ece_of_an_overconfident_model_on_test_rows(splits, method) -> None:
    model = GaussianNB().fit(*splits["train"])
    x_test, y_test = splits["test"]

    outcome = calibrate(model, *splits["validation"], method)

    assert outcome.method in ("sigmoid", "isotonic")
    assert ece(model, x_test, y_test) > 0.1  # deliberately miscalibrated
    assert ece(outcome.model, x_test, y_test) < ece(model, x_test, y_test) / 2
    assert outcome.ece_after < outcome.ece_before
    assert outcome.log_loss_after < outcome.log_loss_before
    assert list(outcome.model.classes_) == ["no", "yes"]
    assert set(outcome.model.predict(x_test)) <= {"no", "yes"}


def test_auto_keeps_a_well_calibrated_model_when_calibration_does_not_help() -> None:
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"f": rng.normal(size=4000)})
    y = pd.Series(np.where(rng.uniform(size=4000) < 1 / (1 + np.exp(-2 * x["f"])), "yes", "no"))
    model = LogisticRegression().fit(x.iloc[:2000], y.iloc[:2000])

    outcome = calibrate(model, x.iloc[2000:2300], y.iloc[2000:2300].reset_index(drop=True), "auto")

    assert outcome.method == "none"
    assert outcome.model is model
    assert "did not lower held-out log loss" in outcome.note


def test_none_leaves_the_model_alone(splits) -> None:
    model = GaussianNB().fit(*splits["train"])

    outcome = calibrate(model, *splits["validation"], "none")

    assert outcome.model is model and outcome.method == "none"


def test_a_class_missing_from_validation_is_not_calibrated(splits) -> None:
    model = GaussianNB().fit(*splits["train"])
    x, y = splits["validation"]
    only_no = y == "no"

    outcome = calibrate(model, x[only_no.to_numpy()], y[only_no].reset_index(drop=True), "sigmoid")

    assert outcome.method == "none"
    assert "no rows of class 'yes'" in outcome.note


def test_reliability_curve_bins_confidence_against_accuracy() -> None:
    y = np.array(["a", "a", "b", "b"])
    proba = np.array([[0.95, 0.05], [0.92, 0.08], [0.55, 0.45], [0.6, 0.4]])

    curve = reliability_curve(y, proba, ["a", "b"], bins=10)

    assert list(curve.counts) == [2, 2]  # bins (0.5, 0.6] and (0.9, 1.0]
    assert list(curve.accuracy) == [0.0, 1.0]
    assert list(curve.confidence) == pytest.approx([0.575, 0.935])
