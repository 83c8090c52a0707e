"""Champion comparison: confusion metrics equal scikit-learn; the tests tell luck from gain."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from loopml.core.evaluation import metrics, significance

SKLEARN = {
    "accuracy": skm.accuracy_score,
    "balanced_accuracy": skm.balanced_accuracy_score,
    "f1_macro": lambda y, p: skm.f1_score(y, p, average="macro", zero_division=0),
    "f1_weighted": lambda y, p: skm.f1_score(y, p, average="weighted", zero_division=0),
    "precision_macro": lambda y, p: skm.precision_score(y, p, average="macro", zero_division=0),
    "precision_weighted": lambda y, p: skm.precision_score(
        y, p, average="weighted", zero_division=0
    ),
    "recall_macro": lambda y, p: skm.recall_score(y, p, average="macro", zero_division=0),
    "recall_weighted": lambda y, p: skm.recall_score(y, p, average="weighted", zero_division=0),
}


@pytest.mark.parametrize("name", sorted(SKLEARN))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_from_a_confusion_matrix_equal_sklearn(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = ["a", "b", "c", "d"]
    y = rng.choice(labels[:3], 60)  # "d" is never true; sometimes predicted
    predicted = np.where(rng.uniform(size=60) < 0.6, y, rng.choice(labels, 60))
    matrix = np.array([[np.sum((y == t) & (predicted == p)) for p in labels] for t in labels])

    assert significance.from_confusion(name, matrix) == pytest.approx(SKLEARN[name](y, predicted))


def _models(rng: np.random.Generator, n: int, right_a: float, right_b: float):
    y = rng.choice(["x", "y", "z"], n)
    wrong = {"x": "y", "y": "z", "z": "x"}
    a = np.where(rng.uniform(size=n) < right_a, y, [wrong[v] for v in y])
    b = np.where(rng.uniform(size=n) < right_b, y, [wrong[v] for v in y])
    return y, a, b


@pytest.mark.parametrize("metric", ["f1_macro", "accuracy"])
def test_bootstrap_finds_a_real_improvement_and_not_luck(metric: str) -> None:
    rng = np.random.default_rng(0)
    y, better, worse = _models(rng, 1000, 0.9, 0.75)
    _, same_a, same_b = _models(np.random.default_rng(1), 1000, 0.8, 0.8)
    chosen = metrics.METRICS[metric]

    gain = significance.compare(chosen, y, (better, None), (worse, None), ["x", "y", "z"])
    loss = significance.compare(chosen, y, (worse, None), (better, None), ["x", "y", "z"])
    tie = significance.compare(chosen, y, (same_a, None), (same_b, None), ["x", "y", "z"], seed=3)

    assert gain.delta > 0.1 and gain.p_value < 0.01 and gain.ci_low > 0
    assert loss.delta < 0 and loss.p_value > 0.99
    assert tie.p_value > 0.01


def test_bootstrap_of_a_lower_is_better_metric_counts_a_lower_value_as_better() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    close, far = y + rng.normal(0, 0.1, 500), y + rng.normal(0, 1.0, 500)

    result = significance.compare(metrics.METRICS["mae"], y, (close, None), (far, None), None)

    assert result.delta < 0 and result.p_value < 0.01


def test_mcnemar_equals_an_exact_binomial_test_on_the_discordant_rows() -> None:
    y = np.array(["a"] * 30)
    a = np.array(["a"] * 20 + ["b"] * 10)  # right on 20
    b = np.array(["a"] * 12 + ["b"] * 8 + ["a"] * 4 + ["b"] * 6)  # right on 16
    only_a, only_b = 8, 4

    p = significance.mcnemar(y, a, b)

    expected = stats.binomtest(only_a, only_a + only_b, 0.5, alternative="greater").pvalue
    assert p == pytest.approx(expected)
    assert significance.mcnemar(y, a, a) == 1.0


def test_compare_with_mcnemar_reports_both_accuracies() -> None:
    rng = np.random.default_rng(2)
    y, better, worse = _models(rng, 400, 0.95, 0.7)

    result = significance.compare(
        metrics.METRICS["accuracy"], y, (better, None), (worse, None), None, test="mcnemar"
    )

    assert result.test == "mcnemar" and result.p_value < 1e-6
    assert result.challenger == pytest.approx(np.mean(better == y))
