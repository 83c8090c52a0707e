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
    return f"{method}({'+'.join(members)})"


def build(method: str, members: list[tuple[str, Pipeline]], task: Task, seed: int) -> Pipeline:
    """An unfitted voting or stacking ensemble of ``members``, wrapped as a pipeline."""
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
