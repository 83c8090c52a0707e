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
    """What to fit: a name, its estimator and the parameters it was configured with.

    Parameters
    ----------
    name : str
    estimator : sklearn.base.BaseEstimator
        Unfitted; placed after the preprocessing by ``build_pipeline``.
    params : dict of str to Any, default {}
        The parameters it was configured with (for logging).
    """

    name: str
    estimator: BaseEstimator
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Everything a candidate fit needs, in one picklable value for the compute backend.

    Parameters
    ----------
    task : {"classification", "regression"}
    target : str
    roles : loopml.core.data.roles.ColumnRoles
    metric_name : str
        The selection metric's name (a key of ``metrics.METRICS``).
    train, validation : pandas.DataFrame
        The typed splits, target included.
    """

    task: Task
    target: str
    roles: ColumnRoles
    metric_name: str  # a name, not the Metric, so the problem pickles
    train: pd.DataFrame
    validation: pd.DataFrame


@dataclass(frozen=True)
class Fitted:
    """One fitted candidate (or a failed fit) and its scores.

    Parameters
    ----------
    name : str
    params : dict of str to Any
    pipeline : sklearn.pipeline.Pipeline or None
        None when the fit failed.
    train_score, validation_score : float
        The selection metric on the training and validation splits (NaN on failure).
    fit_seconds : float
        Wall-clock time of fitting and scoring, in seconds.
    error : str or None, default None
        First line of the error when the fit failed.
    cv_mean, cv_std : float, default NaN
        Cross-validation score on the training split (from the search).
    trials, pruned : int, default 0
        Search trials run, and how many were pruned.
    search_seconds : float, default 0.0
        Wall-clock time of the search, in seconds.
    latency_ms : float, default NaN
        Prediction time per row on the validation split, in milliseconds.
    size_bytes : int, default 0
        Size of the pickled pipeline, in bytes.
    kind : {"candidate", "baseline", "rule"}, default "candidate"
        Rules are listed, never picked.
    """

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

    @property
    def shown_params(self) -> dict[str, Any]:
        """``params`` as the leaderboard shows them: with ``best_iteration``, the boosting
        rounds the fitted model kept after early stopping, when it has any
        (``loopml.core.early_stopping.fitted_rounds``)."""
        from loopml.core.early_stopping import fitted_rounds

        model: Any = self.pipeline
        while hasattr(model, "steps"):
            model = model.steps[-1][1]
        rounds = None if model is None else fitted_rounds(model)
        return self.params if rounds is None else {**self.params, "best_iteration": rounds}


def fit_candidate(problem: Problem, candidate: Candidate) -> Fitted:
    """Fit one candidate on train and score it on train and validation; never raises.

    Parameters
    ----------
    problem : Problem
    candidate : Candidate
        Its estimator is put behind ``build_pipeline(problem.roles, ...)``.

    Returns
    -------
    Fitted
        With ``pipeline`` None, NaN scores and ``error`` set when anything failed.
    """
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

    Parameters
    ----------
    fitted : Fitted
        A successful fit (``pipeline`` not None); cloned, not modified.
    rows : pandas.DataFrame
        E.g. train + validation.
    features : list of str
    target : str

    Returns
    -------
    Fitted
        A copy with the new pipeline and ``fit_seconds``.
    """
    assert fitted.pipeline is not None
    started = time.perf_counter()
    pipeline = clone(fitted.pipeline).fit(rows[features], rows[target])
    return dataclasses.replace(fitted, pipeline=pipeline, fit_seconds=time.perf_counter() - started)


def score_on(pipeline: Pipeline, frame: pd.DataFrame, problem: Problem) -> float:
    """The selection metric of ``pipeline`` on ``frame``.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted.
    frame : pandas.DataFrame
        Holds the features and the target of ``problem``.
    problem : Problem

    Returns
    -------
    float
        NaN when the metric needs probabilities the pipeline does not give.

    Raises
    ------
    ValueError
        Where scikit-learn finds the metric undefined on these rows.
    """
    predicted, proba = predict(pipeline, frame[list(problem.roles.features)], problem.task)
    classes = getattr(pipeline, "classes_", None)
    return metrics.score(
        metrics.METRICS[problem.metric_name], frame[problem.target], predicted, proba, classes
    )


def predict(
    pipeline: Pipeline, features: pd.DataFrame, task: Task
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and, for classifiers that have them, class probabilities.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted (any estimator with ``predict``).
    features : pandas.DataFrame, shape (n_rows, n_features)
    task : {"classification", "regression"}

    Returns
    -------
    predicted : numpy.ndarray, shape (n_rows,)
    proba : numpy.ndarray, shape (n_rows, n_classes), or None
    """
    predicted = pipeline.predict(features)
    proba = None
    if task == "classification" and hasattr(pipeline, "predict_proba"):
        proba = pipeline.predict_proba(features)
    return np.asarray(predicted), proba


def footprint(model: Any, features: pd.DataFrame, task: Task) -> tuple[float, int]:
    """Prediction time per row in ms (best of three runs on ``features``) and pickled size.

    Parameters
    ----------
    model : Any
        A fitted pipeline.
    features : pandas.DataFrame, shape (n_rows, n_features)
    task : {"classification", "regression"}

    Returns
    -------
    latency_ms : float
        Milliseconds per row (probabilities included for a classifier).
    size_bytes : int
        ``len(pickle.dumps(model))``.
    """
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

    Parameters
    ----------
    fitted : list of Fitted
        Non-empty.
    metric : loopml.core.evaluation.metrics.Metric
        Its direction decides "best".

    Returns
    -------
    Fitted
        ``fitted[0]`` when no fit is usable (all failed or NaN).
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
