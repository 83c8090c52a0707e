"""Looking inside a model's results: worst errors, permutation importance, learning curve."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.model_selection import PredefinedSplit, learning_curve

from loopml.config import Task
from loopml.core import training
from loopml.core.evaluation import metrics

TEXT_PREVIEW = 120
LEARNING_SIZES = (0.1, 0.25, 0.5, 0.75, 1.0)


def worst_errors(
    frame: pd.DataFrame,
    columns: list[str],
    y: Any,
    predicted: np.ndarray,
    proba: np.ndarray | None,
    task: Task,
    n: int,
) -> pd.DataFrame:
    """Most confident wrong predictions (classification) or largest residuals (regression)."""
    y = np.asarray(y)
    shown = frame[columns].reset_index(drop=True).map(_preview)
    if task == "classification":
        confidence = proba.max(axis=1) if proba is not None else np.full(len(y), np.nan)
        out = shown.assign(actual=y, predicted=predicted, confidence=confidence)
        wrong = out[np.asarray(predicted) != y]
        return wrong.sort_values("confidence", ascending=False, kind="stable").head(n)
    residual = y.astype(float) - np.asarray(predicted, dtype=float)
    out = shown.assign(actual=y, predicted=predicted, residual=residual)
    order = np.argsort(-np.abs(residual), kind="stable")[:n]
    return out.iloc[order]


def _preview(value: Any) -> Any:
    if isinstance(value, str) and len(value) > TEXT_PREVIEW:
        return value[: TEXT_PREVIEW - 1] + "…"
    return value


def scorer(metric: metrics.Metric, task: Task, classes: Any) -> Callable[..., float]:
    """A scikit-learn scorer (higher is better) for ``metric`` on raw input columns."""
    sign = 1.0 if metric.higher_is_better else -1.0

    def score(estimator: Any, features: pd.DataFrame, y: Any) -> float:
        if task == "classification" and hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(features)  # one pass: the label is its argmax
            predicted = np.asarray(estimator.classes_)[np.argmax(proba, axis=1)]
        else:
            predicted, proba = training.predict(estimator, features, task)
        return sign * metrics.score_safely(metric, y, predicted, proba, classes)

    return score


@dataclass(frozen=True)
class Importance:
    column: str
    mean: float  # drop in the metric when the column is shuffled
    std: float


def importance(
    model: Any,
    features: pd.DataFrame,
    y: Any,
    metric: metrics.Metric,
    task: Task,
    classes: Any,
    *,
    rows: int,
    seed: int = 0,
    repeats: int = 5,
) -> list[Importance]:
    """Permutation importance of each input column on up to ``rows`` test rows."""
    if len(features) > rows:
        sample = features.sample(n=rows, random_state=seed)
        features, y = sample, pd.Series(np.asarray(y), index=features.index).loc[sample.index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = permutation_importance(
            model,
            features,
            np.asarray(y),
            scoring=scorer(metric, task, classes),
            n_repeats=repeats,
            random_state=seed,
            n_jobs=1,
        )
    listed = [
        Importance(str(c), float(m), float(s))
        for c, m, s in zip(
            features.columns, found.importances_mean, found.importances_std, strict=True
        )
    ]
    return sorted(listed, key=lambda item: -item.mean)


@dataclass(frozen=True)
class LearningCurve:
    metric: str
    rows: list[int]
    train: list[float]
    validation: list[float]


def learning(
    model: Any,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    columns: list[str],
    target: str,
    metric: metrics.Metric,
    task: Task,
    classes: Any,
) -> LearningCurve:
    """Refit the model's own pipeline on growing shares of train; score train and validation."""
    both = pd.concat([train, validation], ignore_index=True)
    folds = PredefinedSplit(np.r_[np.full(len(train), -1), np.zeros(len(validation))])
    sign = 1.0 if metric.higher_is_better else -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sizes, train_scores, val_scores = learning_curve(
            clone(unwrap(model)),
            both[columns],
            both[target],
            train_sizes=list(LEARNING_SIZES),
            cv=folds,
            scoring=scorer(metric, task, classes),
            n_jobs=1,
        )
    return LearningCurve(
        metric.name,
        [int(s) for s in sizes],
        [sign * float(v) for v in train_scores[:, 0]],
        [sign * float(v) for v in val_scores[:, 0]],
    )


def unwrap(model: Any) -> Any:
    """The trained pipeline inside a calibrated model (a frozen one in CalibratedClassifierCV)."""
    inner = getattr(model, "estimator", None)
    frozen = getattr(inner, "estimator", None)
    return frozen if frozen is not None and hasattr(model, "calibrated_classifiers_") else model
