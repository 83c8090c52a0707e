"""Metrics by name: resolution against the task and values equal to scikit-learn's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from loopml.core.evaluation import metrics
from loopml.errors import ConfigError

Y_BIN = np.array(["no", "yes", "yes", "no", "yes", "no"])
PRED_BIN = np.array(["no", "yes", "no", "no", "yes", "yes"])
PROBA_BIN = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1], [0.2, 0.8], [0.45, 0.55]])

Y_MULTI = np.array([0, 1, 2, 2, 1, 0, 2])
PRED_MULTI = np.array([0, 2, 2, 2, 1, 0, 1])
PROBA_MULTI = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.2, 0.3, 0.5],
        [0.1, 0.2, 0.7],
        [0.2, 0.2, 0.6],
        [0.1, 0.8, 0.1],
        [0.6, 0.3, 0.1],
        [0.3, 0.4, 0.3],
    ]
)

Y_REG = np.array([3.0, -0.5, 2.0, 7.0])
PRED_REG = np.array([2.5, 0.0, 2.0, 8.0])


def value(name: str, y: np.ndarray, pred: np.ndarray | None, proba=None, classes=None) -> float:
    return metrics.score(metrics.METRICS[name], y, pred, proba, classes)


def test_default_metric_per_task() -> None:
    assert metrics.resolve(None, "classification").name == "f1_macro"
    assert metrics.resolve(None, "regression").name == "r2"


def test_named_metric_is_resolved_with_its_direction() -> None:
    assert metrics.resolve("rmse", "regression").higher_is_better is False
    assert metrics.resolve("accuracy", "classification").higher_is_better is True
    assert metrics.resolve("roc_auc", "classification").needs_proba is True


def test_unknown_metric_is_rejected_listing_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        metrics.resolve("acuracy", "classification")

    message = str(info.value)
    assert "unknown metric 'acuracy'" in message
    assert "accuracy" in message and "rmse" in message


@pytest.mark.parametrize(("name", "task"), [("rmse", "classification"), ("accuracy", "regression")])
def test_metric_of_the_other_task_is_rejected(name: str, task: str) -> None:
    with pytest.raises(ConfigError) as info:
        metrics.resolve(name, task)  # type: ignore[arg-type]

    message = str(info.value)
    assert f"'{name}' is a" in message
    assert f"for {task} use one of" in message


def test_accuracy_and_f1_macro_equal_sklearn() -> None:
    assert value("accuracy", Y_BIN, PRED_BIN) == pytest.approx(4 / 6)
    assert value("f1_macro", Y_MULTI, PRED_MULTI) == pytest.approx(
        skm.f1_score(Y_MULTI, PRED_MULTI, average="macro")
    )
    assert value("balanced_accuracy", Y_MULTI, PRED_MULTI) == pytest.approx(
        skm.balanced_accuracy_score(Y_MULTI, PRED_MULTI)
    )


def test_roc_auc_binary_uses_the_second_class_column() -> None:
    got = value("roc_auc", Y_BIN, PRED_BIN, PROBA_BIN, ["no", "yes"])

    assert got == pytest.approx(skm.roc_auc_score(Y_BIN == "yes", PROBA_BIN[:, 1]))
    assert got == pytest.approx(8 / 9)


def test_roc_auc_multiclass_is_one_vs_rest() -> None:
    got = value("roc_auc", Y_MULTI, PRED_MULTI, PROBA_MULTI, [0, 1, 2])

    assert got == pytest.approx(skm.roc_auc_score(Y_MULTI, PROBA_MULTI, multi_class="ovr"))


def test_log_loss_equals_sklearn() -> None:
    got = value("log_loss", Y_MULTI, PRED_MULTI, PROBA_MULTI, [0, 1, 2])

    assert got == pytest.approx(skm.log_loss(Y_MULTI, PROBA_MULTI))


def test_proba_metric_without_probabilities_is_nan() -> None:
    assert math.isnan(value("roc_auc", Y_BIN, PRED_BIN, None, ["no", "yes"]))


def test_regression_metrics_equal_known_values() -> None:
    assert value("r2", Y_REG, PRED_REG) == pytest.approx(skm.r2_score(Y_REG, PRED_REG))
    assert value("rmse", Y_REG, PRED_REG) == pytest.approx(math.sqrt(0.375))
    assert value("mae", Y_REG, PRED_REG) == pytest.approx(0.5)


def test_report_gives_the_standard_metrics_per_task() -> None:
    regression = metrics.report("regression", Y_REG, PRED_REG, None, None)
    classification = metrics.report("classification", Y_BIN, PRED_BIN, PROBA_BIN, ["no", "yes"])

    assert set(regression) == {"r2", "rmse", "mae", "mape"}
    assert regression["mae"] == pytest.approx(0.5)
    assert set(classification) == {
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "f1_weighted",
        "precision_macro",
        "recall_macro",
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "ece",
    }
    assert classification["roc_auc"] == pytest.approx(8 / 9)
