"""Voting and stacking over the best tuned candidates, as one more candidate.

Each member is a whole pipeline (its own preprocessing and tuned model), so the ensemble
takes the same raw frame as any candidate and is scored on the same folds.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import Pipeline

from loopml.config import Task


def name_of(method: str, members: list[str]) -> str:
    """The ensemble's candidate name, e.g. ``"voting(lightgbm+logistic)"``.

    Parameters
    ----------
    method : str
        "voting" or "stacking".
    members : list of str
        Member names, in order.

    Returns
    -------
    str
    """
    return f"{method}({'+'.join(members)})"


def build(method: str, members: list[tuple[str, Pipeline]], task: Task, seed: int) -> Pipeline:
    """An unfitted voting or stacking ensemble of ``members``, wrapped as a pipeline.

    Voting: ``sklearn.ensemble.VotingClassifier`` (soft when every member gives
    probabilities, else hard) or ``VotingRegressor``. Stacking (any other ``method``):
    ``StackingClassifier`` with a logistic regression, or ``StackingRegressor`` with
    ``RidgeCV``, on 3-fold out-of-fold predictions.

    Parameters
    ----------
    method : str
        "voting", else stacking.
    members : list of (str, sklearn.pipeline.Pipeline)
        Named whole pipelines (their own preprocessing and tuned model).
    task : {"classification", "regression"}
    seed : int
        ``random_state`` of the stacking logistic regression.

    Returns
    -------
    sklearn.pipeline.Pipeline
        One step, ``model``.
    """
    if method == "voting":
        model: BaseEstimator = _voting(members, task)
    else:
        model = _stacking(members, task, seed)
    return Pipeline([("model", model)])


def _voting(members: list[tuple[str, Pipeline]], task: Task) -> BaseEstimator:
    if task == "regression":
        return VotingRegressor(members)
    soft = all(_has_proba(pipeline) for _, pipeline in members)
    return VotingClassifier(members, voting="soft" if soft else "hard")


def _stacking(members: list[tuple[str, Pipeline]], task: Task, seed: int) -> BaseEstimator:
    if task == "regression":
        return StackingRegressor(members, final_estimator=RidgeCV(), cv=3)
    final = LogisticRegression(max_iter=2000, random_state=seed)
    return StackingClassifier(members, final_estimator=final, cv=3)


def _has_proba(pipeline: Any) -> bool:
    model = pipeline.steps[-1][1] if isinstance(pipeline, Pipeline) else pipeline
    return hasattr(model, "predict_proba")  # SVC has it only with probability=True
