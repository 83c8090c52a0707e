"""Fit the baseline and the candidates on the training split; pick the best on validation."""

from __future__ import annotations

import dataclasses
import math
import pickle
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline

from loopml.config import Task
from loopml.core.data.roles import ColumnRoles
from loopml.core.evaluation import metrics
from loopml.core.models import build_pipeline
from loopml.errors import first_line


@dataclass(frozen=True)
class Candidate:
    """What to fit: a name, its estimator and the parameters it was configured with."""

    name: str
    estimator: BaseEstimator
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Everything a candidate fit needs, in one picklable value for the compute backend."""

    task: Task
    target: str
    roles: ColumnRoles
    metric_name: str  # a name, not the Metric, so the problem pickles
    train: pd.DataFrame
    validation: pd.DataFrame


@dataclass(frozen=True)
class Fitted:
    name: str
    params: dict[str, Any]
    pipeline: Pipeline | None
    train_score: float
    validation_score: float
    fit_seconds: float
    error: str | None = None
    # From the search (issue 3): cross-validation on the training split, same folds for all.
    cv_mean: float = math.nan
    cv_std: float = math.nan
    trials: int = 0
    pruned: int = 0
    search_seconds: float = 0.0
    latency_ms: float = math.nan  # prediction time per row, on the validation split
    size_bytes: int = 0  # the fitted pipeline, pickled
    kind: str = "candidate"  # baseline | candidate | rule (models.rules: listed, never picked)


def fit_candidate(problem: Problem, candidate: Candidate) -> Fitted:
    """Fit one candidate on train and score it on train and validation; never raises."""
    started = time.perf_counter()
    try:
        pipeline = build_pipeline(problem.roles, candidate.estimator)
        pipeline.fit(problem.train[list(problem.roles.features)], problem.train[problem.target])
        train_score = score_on(pipeline, problem.train, problem)
        validation_score = score_on(pipeline, problem.validation, problem)
    except Exception as exc:  # a user's estimator may fail in any way; report, don't crash
        reason = first_line(exc)
        return Fitted(candidate.name, candidate.params, None, math.nan, math.nan, 0.0, reason)
    elapsed = time.perf_counter() - started
    return Fitted(
        candidate.name, candidate.params, pipeline, train_score, validation_score, elapsed
    )


def refit(fitted: Fitted, rows: pd.DataFrame, features: list[str], target: str) -> Fitted:
    """The chosen pipeline fitted afresh on ``rows``; its scores stay those of the original fit.

    The scores keep describing the model picked on the validation split: once validation
    rows are in ``rows``, a score on them would no longer be a held-out one.
    """
    assert fitted.pipeline is not None
    started = time.perf_counter()
    pipeline = clone(fitted.pipeline).fit(rows[features], rows[target])
    return dataclasses.replace(fitted, pipeline=pipeline, fit_seconds=time.perf_counter() - started)


def score_on(pipeline: Pipeline, frame: pd.DataFrame, problem: Problem) -> float:
    predicted, proba = predict(pipeline, frame[list(problem.roles.features)], problem.task)
    classes = getattr(pipeline, "classes_", None)
    return metrics.score(
        metrics.METRICS[problem.metric_name], frame[problem.target], predicted, proba, classes
    )


def predict(
    pipeline: Pipeline, features: pd.DataFrame, task: Task
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and, for classifiers that have them, class probabilities."""
    predicted = pipeline.predict(features)
    proba = None
    if task == "classification" and hasattr(pipeline, "predict_proba"):
        proba = pipeline.predict_proba(features)
    return np.asarray(predicted), proba


def footprint(model: Any, features: pd.DataFrame, task: Task) -> tuple[float, int]:
    """Prediction time per row in ms (best of three runs on ``features``) and pickled size."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        predict(model, features, task)
        timings.append(time.perf_counter() - started)
    return 1000 * min(timings) / max(1, len(features)), len(pickle.dumps(model))


def pick_best(fitted: list[Fitted], metric: metrics.Metric) -> Fitted:
    """The candidate with the best validation score; ties go to the one listed first.

    Rules (``kind == "rule"``) are listed beside the candidates but never picked; a rule
    becomes the model only through ``models.register_rule``.
    """
    usable = [
        f
        for f in fitted
        if f.kind != "rule" and f.pipeline is not None and not math.isnan(f.validation_score)
    ]
    if not usable:
        return fitted[0]
    sign = 1.0 if metric.higher_is_better else -1.0
    return max(usable, key=lambda f: sign * f.validation_score)
