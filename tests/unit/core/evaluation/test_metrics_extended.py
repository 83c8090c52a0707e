"""Every metric of the evaluation report equals scikit-learn's (ECE: a hand computation)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from loopml.core.evaluation import metrics

RNG = np.random.default_rng(7)
CLASSES = np.array(["a", "b", "c"])
Y = RNG.choice(CLASSES, 300)
PROBA = RNG.dirichlet([1.0, 1.0, 1.0], 300)
PROBA[np.arange(300), np.searchsorted(CLASSES, Y)] += 0.6  # informative but imperfect
PROBA /= PROBA.sum(axis=1, keepdims=True)
PRED = CLASSES[PROBA.argmax(axis=1)]
Y_BIN = RNG.choice(["neg", "pos"], 200)
P_POS = np.clip(0.35 * (Y_BIN == "pos") + RNG.uniform(0, 0.65, 200), 0, 1)
PROBA_BIN = np.column_stack([1 - P_POS, P_POS])
PRED_BIN = np.where(P_POS >= 0.5, "pos", "neg")
Y_REG = RNG.normal(50, 10, 100)
PRED_REG = Y_REG + RNG.normal(0, 3, 100)


def score(name: str, y, pred, proba=None, classes=None) -> float:
    return metrics.score(metrics.METRICS[name], y, pred, proba, classes)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("accuracy", skm.accuracy_score(Y, PRED)),
        ("balanced_accuracy", skm.balanced_accuracy_score(Y, PRED)),
        ("f1_macro", skm.f1_score(Y, PRED, average="macro")),
        ("f1_weighted", skm.f1_score(Y, PRED, average="weighted")),
        ("precision_macro", skm.precision_score(Y, PRED, average="macro")),
        ("precision_weighted", skm.precision_score(Y, PRED, average="weighted")),
        ("recall_macro", skm.recall_score(Y, PRED, average="macro")),
        ("recall_weighted", skm.recall_score(Y, PRED, average="weighted")),
    ],
)
def test_label_metrics_equal_sklearn(name: str, expected: float) -> None:
    assert score(name, Y, PRED) == pytest.approx(expected)


def test_probability_metrics_multiclass_equal_sklearn() -> None:
    onehot = label_binarize(Y, classes=CLASSES)

    assert score("roc_auc", Y, PRED, PROBA, CLASSES) == pytest.approx(
        skm.roc_auc_score(Y, PROBA, multi_class="ovr")
    )
    assert score("pr_auc", Y, PRED, PROBA, CLASSES) == pytest.approx(
        skm.average_precision_score(onehot, PROBA, average="macro")
    )
    assert score("log_loss", Y, PRED, PROBA, CLASSES) == pytest.approx(skm.log_loss(Y, PROBA))
    assert score("brier", Y, PRED, PROBA, CLASSES) == pytest.approx(
        np.mean(np.sum((PROBA - onehot) ** 2, axis=1))
    )


def test_probability_metrics_binary_use_the_positive_class() -> None:
    positive = Y_BIN == "pos"
    classes = np.array(["neg", "pos"])

    assert score("pr_auc", Y_BIN, PRED_BIN, PROBA_BIN, classes) == pytest.approx(
        skm.average_precision_score(positive, P_POS)
    )
    assert score("brier", Y_BIN, PRED_BIN, PROBA_BIN, classes) == pytest.approx(
        skm.brier_score_loss(positive, P_POS)
    )
    assert score("roc_auc", Y_BIN, PRED_BIN, PROBA_BIN, classes) == pytest.approx(
        skm.roc_auc_score(positive, P_POS)
    )


def test_ece_equals_a_hand_computation_with_15_bins() -> None:
    confidence = PROBA.max(axis=1)
    correct = PRED == Y
    expected = 0.0
    for low in np.arange(15) / 15:
        inside = (confidence > low) & (confidence <= low + 1 / 15)
        if inside.any():
            gap = abs(correct[inside].mean() - confidence[inside].mean())
            expected += inside.mean() * gap

    assert score("ece", Y, PRED, PROBA, CLASSES) == pytest.approx(expected)


def test_ece_of_a_perfectly_calibrated_forecaster_is_near_zero() -> None:
    confidence = RNG.uniform(0.5, 1.0, 20_000)
    hit = RNG.uniform(size=20_000) < confidence
    y = np.where(hit, "a", "b")
    proba = np.column_stack([confidence, 1 - confidence])

    assert score("ece", y, None, proba, np.array(["a", "b"])) < 0.02


def test_regression_metrics_equal_sklearn() -> None:
    assert score("mape", Y_REG, PRED_REG) == pytest.approx(
        skm.mean_absolute_percentage_error(Y_REG, PRED_REG)
    )
    assert score("rmse", Y_REG, PRED_REG) == pytest.approx(
        skm.root_mean_squared_error(Y_REG, PRED_REG)
    )


def test_per_class_table_and_confusion_matrix_equal_sklearn() -> None:
    table = metrics.per_class(Y, PRED, list(CLASSES))
    _, recall, f1, support = skm.precision_recall_fscore_support(Y, PRED, labels=CLASSES)

    assert [row["class"] for row in table] == ["a", "b", "c"]
    assert [row["f1"] for row in table] == pytest.approx(list(f1))
    assert [row["recall"] for row in table] == pytest.approx(list(recall))
    assert [row["support"] for row in table] == list(support)
    assert (metrics.confusion(Y, PRED, CLASSES) == skm.confusion_matrix(Y, PRED)).all()


def test_score_safely_gives_nan_where_a_metric_is_undefined() -> None:
    one_class = np.array(["a", "a", "a"])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])

    assert np.isnan(
        metrics.score_safely(metrics.METRICS["roc_auc"], one_class, one_class, proba, ["a", "b"])
    )
