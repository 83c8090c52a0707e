"""Metrics by name: how to compute each, and whether higher is better."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from loopml.config import Task
from loopml.errors import ConfigError


@dataclass(frozen=True)
class Metric:
    """A named metric: its task, direction and how to compute it.

    Parameters
    ----------
    name : str
        The name used in ``loopml.yaml`` (a key of ``METRICS``).
    task : {"classification", "regression"}
    higher_is_better : bool
    needs_proba : bool
        ``compute`` takes ``(y_true, proba, classes)`` instead of ``(y_true, y_pred)``.
    compute : callable
        Returns the metric as a float.
    """

    name: str
    task: Task
    higher_is_better: bool
    needs_proba: bool
    compute: Callable[..., float]


def _roc_auc(y: Any, proba: np.ndarray, classes: np.ndarray) -> float:
    if len(classes) == 2:
        return float(skm.roc_auc_score(y, proba[:, 1]))
    return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes))


def _log_loss(y: Any, proba: np.ndarray, classes: np.ndarray) -> float:
    return float(skm.log_loss(y, proba, labels=classes))


def _pr_auc(y: Any, proba: np.ndarray, classes: np.ndarray) -> float:
    """Average precision: of the positive class (binary) or the macro mean over classes."""
    if len(classes) == 2:
        return float(skm.average_precision_score(np.asarray(y) == classes[1], proba[:, 1]))
    onehot = label_binarize(y, classes=classes)
    return float(skm.average_precision_score(onehot, proba, average="macro"))


def _brier(y: Any, proba: np.ndarray, classes: np.ndarray) -> float:
    if len(classes) == 2:
        return float(skm.brier_score_loss(y, proba[:, 1], pos_label=classes[1]))
    return float(skm.brier_score_loss(y, proba, labels=classes))


def expected_calibration_error(
    y: Any, proba: np.ndarray, classes: np.ndarray, bins: int = 15
) -> float:
    """Top-label ECE: the row-weighted gap between confidence and accuracy in equal-width bins.

    ECE = sum over bins of (n_bin / n) * |accuracy_bin - mean confidence_bin| (Naeini,
    Cooper and Hauskrecht, AAAI 2015; top-label form as in Guo et al., "On Calibration of
    Modern Neural Networks", ICML 2017).

    Parameters
    ----------
    y : array-like, shape (n_rows,)
        True labels.
    proba : numpy.ndarray, shape (n_rows, n_classes)
        Class probabilities in [0, 1], columns in ``classes`` order.
    classes : numpy.ndarray, shape (n_classes,)
    bins : int, default 15
        Equal-width confidence bins over [0, 1] (right-closed, the first also holds 0).

    Returns
    -------
    float
        In [0, 1]; 0 for no rows.
    """
    proba = np.asarray(proba, dtype=float)
    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == np.asarray(y)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    gap = np.abs(
        np.bincount(which, weights=correct, minlength=bins)
        - np.bincount(which, weights=confidence, minlength=bins)
    )
    return float(gap.sum() / max(counts.sum(), 1))


def _rmse(y: Any, pred: Any) -> float:
    return float(np.sqrt(skm.mean_squared_error(y, pred)))


def _label(name: str, fn: Callable[..., Any], **kw: Any) -> Metric:
    return Metric(name, "classification", True, False, lambda y, p: float(fn(y, p, **kw)))


METRICS: dict[str, Metric] = {
    "accuracy": _label("accuracy", skm.accuracy_score),
    "balanced_accuracy": _label("balanced_accuracy", skm.balanced_accuracy_score),
    "f1_macro": _label("f1_macro", skm.f1_score, average="macro", zero_division=0),
    "f1_weighted": _label("f1_weighted", skm.f1_score, average="weighted", zero_division=0),
    "precision_macro": _label(
        "precision_macro", skm.precision_score, average="macro", zero_division=0
    ),
    "recall_macro": _label("recall_macro", skm.recall_score, average="macro", zero_division=0),
    "precision_weighted": _label(
        "precision_weighted", skm.precision_score, average="weighted", zero_division=0
    ),
    "recall_weighted": _label(
        "recall_weighted", skm.recall_score, average="weighted", zero_division=0
    ),
    "roc_auc": Metric("roc_auc", "classification", True, True, _roc_auc),
    "pr_auc": Metric("pr_auc", "classification", True, True, _pr_auc),
    "log_loss": Metric("log_loss", "classification", False, True, _log_loss),
    "brier": Metric("brier", "classification", False, True, _brier),
    "ece": Metric("ece", "classification", False, True, expected_calibration_error),
    "r2": Metric("r2", "regression", True, False, lambda y, p: float(skm.r2_score(y, p))),
    "rmse": Metric("rmse", "regression", False, False, _rmse),
    "mae": Metric(
        "mae", "regression", False, False, lambda y, p: float(skm.mean_absolute_error(y, p))
    ),
    "mape": Metric(
        "mape",
        "regression",
        False,
        False,
        lambda y, p: float(skm.mean_absolute_percentage_error(y, p)),
    ),
}

DEFAULT_METRIC: dict[Task, str] = {"classification": "f1_macro", "regression": "r2"}
REPORTED: dict[Task, tuple[str, ...]] = {
    "classification": (
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
    ),
    "regression": ("r2", "rmse", "mae", "mape"),
}


def resolve(name: str | None, task: Task) -> Metric:
    """The metric called ``name`` (or the task's default), checked against the task.

    Parameters
    ----------
    name : str or None
        A key of ``METRICS``; None gives ``DEFAULT_METRIC[task]`` (f1_macro or r2).
    task : {"classification", "regression"}

    Returns
    -------
    Metric

    Raises
    ------
    loopml.errors.ConfigError
        An unknown name, or a metric of the other task.
    """
    name = name or DEFAULT_METRIC[task]
    if name not in METRICS:
        raise ConfigError(f"metric: unknown metric '{name}'; use one of {', '.join(METRICS)}")
    metric = METRICS[name]
    if metric.task != task:
        fits = ", ".join(n for n, m in METRICS.items() if m.task == task)
        raise ConfigError(
            f"metric: '{name}' is a {metric.task} metric; for {task} use one of {fits}"
        )
    return metric


def score(
    metric: Metric, y_true: Any, y_pred: Any, proba: np.ndarray | None, classes: Any
) -> float:
    """Compute one metric; NaN when it needs probabilities the model does not give.

    Parameters
    ----------
    metric : Metric
    y_true : array-like, shape (n_rows,)
    y_pred : array-like, shape (n_rows,)
        Predicted labels or values.
    proba : numpy.ndarray, shape (n_rows, n_classes), or None
        Class probabilities, columns in ``classes`` order.
    classes : array-like, shape (n_classes,)

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Where scikit-learn finds the metric undefined (e.g. ROC AUC on one class); see
        ``score_safely``.
    """
    if metric.needs_proba:
        if proba is None:
            return float("nan")
        return metric.compute(y_true, proba, np.asarray(classes))
    return metric.compute(y_true, y_pred)


def report(
    task: Task, y_true: Any, y_pred: Any, proba: np.ndarray | None, classes: Any
) -> dict[str, float]:
    """The standard metrics of a task, by name.

    Parameters
    ----------
    task : {"classification", "regression"}
        Selects the names in ``REPORTED[task]``.
    y_true, y_pred : array-like, shape (n_rows,)
    proba : numpy.ndarray, shape (n_rows, n_classes), or None
    classes : array-like, shape (n_classes,)

    Returns
    -------
    dict of str to float
        NaN where a metric is undefined or needs missing probabilities.
    """
    return {n: score_safely(METRICS[n], y_true, y_pred, proba, classes) for n in REPORTED[task]}


def score_safely(
    metric: Metric, y_true: Any, y_pred: Any, proba: np.ndarray | None, classes: Any
) -> float:
    """Like ``score``, but NaN where the metric is undefined (e.g. ROC AUC on one class).

    Parameters
    ----------
    metric : Metric
    y_true, y_pred : array-like, shape (n_rows,)
    proba : numpy.ndarray, shape (n_rows, n_classes), or None
    classes : array-like, shape (n_classes,)

    Returns
    -------
    float
        scikit-learn's warnings are silenced and its ValueError becomes NaN.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn warns where it gives NaN
            return score(metric, y_true, y_pred, proba, classes)
    except ValueError:
        return float("nan")


def per_class(y_true: Any, y_pred: Any, classes: Any) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of each class.

    From ``sklearn.metrics.precision_recall_fscore_support`` (0 where undefined).

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_rows,)
    classes : array-like, shape (n_classes,)

    Returns
    -------
    list of dict
        One per class, in ``classes`` order: ``class``, ``precision``, ``recall``, ``f1``
        (in [0, 1]) and ``support`` (rows of that true class).
    """
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=list(classes), zero_division=0
    )
    return [
        {
            "class": label,
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    ]


def confusion(y_true: Any, y_pred: Any, classes: Any) -> np.ndarray:
    """Counts of true (rows) vs predicted (columns) class, in the order of ``classes``.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_rows,)
    classes : array-like, shape (n_classes,)

    Returns
    -------
    numpy.ndarray of int, shape (n_classes, n_classes)
    """
    return np.asarray(skm.confusion_matrix(y_true, y_pred, labels=list(classes)))


def names_for(task: Task) -> list[str]:
    """The names of the metrics of ``task``, in ``METRICS`` order.

    Parameters
    ----------
    task : {"classification", "regression"}

    Returns
    -------
    list of str
    """
    return [name for name, metric in METRICS.items() if metric.task == task]
