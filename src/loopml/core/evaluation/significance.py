"""Is the challenger better than the champion on the same test rows, or is it luck?

``paired_bootstrap`` resamples the rows (the same resample for both models) and counts how
often the challenger is not better; ``mcnemar`` is the exact test on the rows where exactly
one of the two models is right. Both give a one-sided p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from loopml.core.evaluation import metrics

# Metrics computed from a confusion matrix: fast enough for 1,000 resamples of 100k rows.
_FROM_CONFUSION = {
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "f1_weighted",
    "precision_macro",
    "precision_weighted",
    "recall_macro",
    "recall_weighted",
}


@dataclass(frozen=True)
class Comparison:
    """Challenger against champion on the same rows: both scores, the difference, the p-value.

    Parameters
    ----------
    metric : str
        The metric compared.
    test : {"bootstrap", "mcnemar"}
    challenger, champion : float
        Each model's score on the rows (NaN where undefined).
    delta : float
        ``challenger - champion`` as computed (positive means a higher score, which is
        better only for a higher-is-better metric).
    p_value : float
        One-sided, in (0, 1]: small when the challenger is really better.
    ci_low, ci_high : float, default NaN
        Bootstrap 95% percentile interval of ``delta`` (NaN for McNemar).
    rows : int, default 0
        Rows compared.
    """

    metric: str
    test: str  # bootstrap | mcnemar
    challenger: float
    champion: float
    delta: float  # challenger - champion, in the metric's own direction
    p_value: float  # one-sided: small when the challenger is really better
    ci_low: float = math.nan
    ci_high: float = math.nan
    rows: int = 0

    @property
    def improvement(self) -> float:
        """Alias of ``delta``."""
        return self.delta

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON reports).

        Returns
        -------
        dict of str to Any
        """
        return dict(self.__dict__)


def compare(
    metric: metrics.Metric,
    y: Any,
    challenger: tuple[np.ndarray, np.ndarray | None],
    champion: tuple[np.ndarray, np.ndarray | None],
    classes: Any,
    *,
    test: str = "bootstrap",
    resamples: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Compare two models' predictions (and probabilities) of the same rows.

    Bootstrap (Efron and Tibshirani, *An Introduction to the Bootstrap*, 1993): the rows are
    resampled with replacement ``resamples`` times, the same draw for both models;
    ``p = (#{resamples where the challenger is not better} + 1) / (resamples + 1)``.
    Label metrics are recomputed from confusion-matrix counts (``from_confusion``), others
    with ``metrics.score_safely``. McNemar: see ``mcnemar``; it compares correctness, not
    ``metric``.

    Parameters
    ----------
    metric : loopml.core.evaluation.metrics.Metric
    y : array-like, shape (n_rows,)
        True labels or values.
    challenger, champion : tuple of (numpy.ndarray, numpy.ndarray or None)
        Each model's predictions, shape (n_rows,), and class probabilities, shape
        (n_rows, n_classes) in ``classes`` order, or None.
    classes : array-like, shape (n_classes,), or None
    test : {"bootstrap", "mcnemar"}, default "bootstrap"
    resamples : int, default 1000
        Bootstrap resamples.
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    Comparison
    """
    y = np.asarray(y)
    a = metrics.score_safely(metric, y, challenger[0], challenger[1], classes)
    b = metrics.score_safely(metric, y, champion[0], champion[1], classes)
    sign = 1.0 if metric.higher_is_better else -1.0
    if test == "mcnemar":
        p_value = mcnemar(y, challenger[0], champion[0])
        return Comparison(metric.name, test, a, b, a - b, p_value, rows=len(y))
    deltas = _bootstrap_deltas(metric, y, challenger, champion, classes, resamples, seed)
    better = sign * deltas
    p_value = float((np.sum(better <= 0) + 1) / (len(better) + 1))
    low, high = np.nanpercentile(deltas, [2.5, 97.5])
    return Comparison(metric.name, test, a, b, a - b, p_value, float(low), float(high), len(y))


def mcnemar(y: Any, pred_a: Any, pred_b: Any) -> float:
    """Exact one-sided McNemar p-value that model A is right more often than model B.

    McNemar (1947), exact form: a binomial test (``scipy.stats.binomtest``,
    ``alternative="greater"``, p = 0.5) of the rows only A gets right among the rows
    exactly one model gets right.

    Parameters
    ----------
    y : array-like, shape (n_rows,)
        True labels.
    pred_a, pred_b : array-like, shape (n_rows,)
        The two models' predicted labels.

    Returns
    -------
    float
        In (0, 1]; 1.0 when no row is right for only one of the models.
    """
    right_a = np.asarray(pred_a) == np.asarray(y)
    right_b = np.asarray(pred_b) == np.asarray(y)
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    if only_a + only_b == 0:
        return 1.0
    return float(stats.binomtest(only_a, only_a + only_b, 0.5, alternative="greater").pvalue)


def _bootstrap_deltas(
    metric: metrics.Metric,
    y: np.ndarray,
    challenger: tuple[np.ndarray, np.ndarray | None],
    champion: tuple[np.ndarray, np.ndarray | None],
    classes: Any,
    resamples: int,
    seed: int,
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(y)
    draws = (rng.integers(0, n, n) for _ in range(resamples))
    if metric.name in _FROM_CONFUSION:
        labels = _labels(y, challenger[0], champion[0], classes)
        cells_a, cells_b = _cells(y, challenger[0], labels), _cells(y, champion[0], labels)
        k = len(labels)
        return np.array(
            [
                from_confusion(metric.name, _counts(cells_a[i], k))
                - from_confusion(metric.name, _counts(cells_b[i], k))
                for i in draws
            ]
        )
    return np.array(
        [
            metrics.score_safely(metric, y[i], challenger[0][i], _rows(challenger[1], i), classes)
            - metrics.score_safely(metric, y[i], champion[0][i], _rows(champion[1], i), classes)
            for i in draws
        ]
    )


def _rows(proba: np.ndarray | None, index: np.ndarray) -> np.ndarray | None:
    return None if proba is None else proba[index]


def _labels(y: np.ndarray, a: np.ndarray, b: np.ndarray, classes: Any) -> list[Any]:
    seen = list(classes) if classes is not None else []
    return seen + [v for v in pd.unique(np.concatenate([y, a, b])) if v not in seen]


def _cells(y: np.ndarray, predicted: np.ndarray, labels: list[Any]) -> np.ndarray:
    """Each row's confusion cell: true index * K + predicted index."""
    position = {label: i for i, label in enumerate(labels)}
    true = np.array([position[v] for v in y])
    pred = np.array([position[v] for v in predicted])
    return true * len(labels) + pred


def _counts(cells: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(cells, minlength=k * k).reshape(k, k).astype(float)


def from_confusion(name: str, matrix: np.ndarray) -> float:
    """Label metrics from a confusion matrix (rows true, columns predicted), as scikit-learn.

    Parameters
    ----------
    name : str
        One of accuracy, balanced_accuracy, f1/precision/recall with _macro or _weighted.
        Macro averages over labels that occur in truth or predictions; undefined ratios
        count as 0 (``zero_division=0``).
    matrix : numpy.ndarray, shape (n_labels, n_labels)
        Counts.

    Returns
    -------
    float
    """
    tp = np.diag(matrix)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    if name == "accuracy":
        return float(tp.sum() / matrix.sum())
    if name == "balanced_accuracy":
        present = support > 0
        return float(np.mean(tp[present] / support[present]))
    present = (support + predicted) > 0  # scikit-learn averages over labels that occur
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    per_class = {"precision": precision, "recall": recall, "f1": f1}[name.split("_")[0]]
    if name.endswith("_macro"):
        return float(per_class[present].mean())
    return float(np.sum(per_class * support) / support.sum())


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    out = np.zeros_like(top, dtype=float)
    np.divide(top, bottom, out=out, where=bottom > 0)
    return out
