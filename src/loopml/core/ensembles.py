"""Voting, weighted voting and stacking over the best tuned candidates, as one more candidate.

Each member is a whole pipeline (its own preprocessing and tuned model), so the ensemble
takes the same raw frame as any candidate and is scored on the same folds.

``weighted`` is greedy ensemble selection (Caruana, Niculescu-Mizil, Crew & Ksikes,
"Ensemble selection from libraries of models", ICML 2004), as AutoGluon's
``WeightedEnsemble`` and auto-sklearn do: on the members' out-of-fold predictions, add
with replacement the member that most improves the score, ``rounds`` times; a member's
weight is how often it was added. The fitted model is scikit-learn's ``VotingClassifier``
(soft) or ``VotingRegressor`` with those weights, so it compiles and serves as voting does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
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


def build(
    method: str,
    members: list[tuple[str, Pipeline]],
    task: Task,
    seed: int,
    weights: Sequence[float] | None = None,
) -> Pipeline:
    """An unfitted voting or stacking ensemble of ``members``, wrapped as a pipeline.

    Voting and weighted: ``sklearn.ensemble.VotingClassifier`` (soft when every member
    gives probabilities, else hard) or ``VotingRegressor``, with ``weights`` (None: equal).
    Stacking (any other ``method``):
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
    weights : sequence of float, optional
        One per member, for voting and weighted (e.g. from ``select``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        One step, ``model``.
    """
    if method in ("voting", "weighted"):
        # an array, not a list: skl2onnx's voting converters call weights.sum()
        chosen = None if weights is None else np.asarray(weights, dtype=float)
        model: BaseEstimator = _voting(members, task, chosen)
    else:
        model = _stacking(members, task, seed)
    return Pipeline([("model", model)])


def _voting(
    members: list[tuple[str, Pipeline]], task: Task, weights: np.ndarray | None
) -> BaseEstimator:
    if task == "regression":
        return VotingRegressor(members, weights=weights)
    soft = all(has_proba(pipeline) for _, pipeline in members)
    # flatten_transform only shapes transform()'s output; skl2onnx converts only False
    return VotingClassifier(
        members, voting="soft" if soft else "hard", weights=weights, flatten_transform=False
    )


def select(
    predictions: Sequence[np.ndarray],
    score: Callable[[np.ndarray], float],
    *,
    higher_is_better: bool = True,
    rounds: int = 25,
) -> np.ndarray:
    """Greedy ensemble selection with replacement (Caruana et al., ICML 2004).

    Starting from an empty ensemble, each round adds the member whose addition gives the
    best score of the averaged predictions (ties: the earlier member, so the best-ranked
    when members come best first). 25 rounds, as AutoGluon's weighted ensemble
    (``ensemble_size=25``); fewer distinct members than rounds is usual.

    Parameters
    ----------
    predictions : sequence of numpy.ndarray
        One per member, all the same shape: out-of-fold class probabilities
        (n_rows, n_classes) or values (n_rows,).
    score : callable
        ``score(averaged_predictions) -> float`` on the same rows.
    higher_is_better : bool, default True
        The direction of ``score``.
    rounds : int, default 25
        How many members are added, with replacement.

    Returns
    -------
    numpy.ndarray of float, shape (n_members,)
        Weights summing to 1: each member's share of the rounds (0 for members never added).

    Raises
    ------
    ValueError
        With no member, or members of different shapes.
    """
    if not predictions:
        raise ValueError("ensemble selection needs at least one member's predictions")
    shapes = {np.shape(p) for p in predictions}
    if len(shapes) != 1:
        raise ValueError(f"members' predictions differ in shape: {sorted(shapes)}")
    stacked = np.stack([np.asarray(p, dtype=float) for p in predictions])
    counts = np.zeros(len(predictions), dtype=int)
    total = np.zeros_like(stacked[0])
    sign = 1.0 if higher_is_better else -1.0
    for step in range(1, rounds + 1):
        trial_scores = [sign * score((total + member) / step) for member in stacked]
        best = int(np.nanargmax(trial_scores)) if not np.all(np.isnan(trial_scores)) else 0
        counts[best] += 1
        total += stacked[best]
    return counts / counts.sum()


def _stacking(members: list[tuple[str, Pipeline]], task: Task, seed: int) -> BaseEstimator:
    if task == "regression":
        return StackingRegressor(members, final_estimator=RidgeCV(), cv=3)
    final = LogisticRegression(max_iter=2000, random_state=seed)
    return StackingClassifier(members, final_estimator=final, cv=3)


def has_proba(pipeline: Any) -> bool:
    """Whether a pipeline's (or estimator's) model gives class probabilities.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline or estimator

    Returns
    -------
    bool
    """
    model = pipeline.steps[-1][1] if isinstance(pipeline, Pipeline) else pipeline
    return hasattr(model, "predict_proba")  # SVC has it only with probability=True
