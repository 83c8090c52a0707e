"""Distillation: a small, fast student trained on the teacher's predicted probabilities.

For classification the student minimises cross-entropy against the teacher's soft
targets: every training row appears once per class, labelled with that class and
weighted by the teacher's probability for it. Any classifier that takes
``sample_weight`` learns the teacher's whole distribution this way, not just its hard
labels. For regression the student fits the teacher's predictions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression, Ridge

from loopml.config import Task


def student(kind: str, task: Task, seed: int) -> BaseEstimator:
    """The student model: a shallow LightGBM or a linear model.

    Parameters
    ----------
    kind : str
        "linear" (``LogisticRegression`` C=10 / ``Ridge`` alpha=1), anything else a
        LightGBM of 100 trees, 8 leaves, depth 3.
    task : {"classification", "regression"}
    seed : int
        ``random_state`` (not used by Ridge).

    Returns
    -------
    sklearn.base.BaseEstimator
        Unfitted.
    """
    if kind == "linear":
        if task == "classification":
            return LogisticRegression(max_iter=2000, C=10.0, random_state=seed)
        return Ridge(alpha=1.0)
    import lightgbm

    cls = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
    return cls(
        n_estimators=100,
        num_leaves=8,
        max_depth=3,
        learning_rate=0.1,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )


def soft_targets(
    features: pd.DataFrame, proba: np.ndarray, classes: Any
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(rows repeated once per class, class labels, teacher probabilities as weights).

    Fitting a classifier on these with ``sample_weight`` minimises the cross-entropy to
    the teacher's probabilities (knowledge distillation: Hinton, Vinyals and Dean,
    "Distilling the Knowledge in a Neural Network", 2015, at temperature 1). Pairs of
    weight at most 1e-6 are dropped.

    Parameters
    ----------
    features : pandas.DataFrame, shape (n_rows, n_features)
    proba : numpy.ndarray, shape (n_rows, n_classes)
        The teacher's probabilities in [0, 1], columns in ``classes`` order.
    classes : array-like, shape (n_classes,)

    Returns
    -------
    rows : pandas.DataFrame, shape (n_kept, n_features)
        ``features`` repeated class by class (fresh RangeIndex).
    labels : numpy.ndarray, shape (n_kept,)
    weights : numpy.ndarray of float, shape (n_kept,)
    """
    labels = np.asarray(classes)
    n_rows, n_classes = proba.shape
    repeated = features.iloc[np.tile(np.arange(n_rows), n_classes)].reset_index(drop=True)
    targets = np.repeat(labels, n_rows)
    weights = proba.T.reshape(-1).astype(float)
    keep = weights > 1e-6  # rows the teacher gives no weight teach nothing
    return repeated[keep].reset_index(drop=True), targets[keep], weights[keep]
