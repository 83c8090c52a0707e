"""Score against training-set size for the winner, and a one-line reading of the curve."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import parallel_backend
from sklearn.base import BaseEstimator
from sklearn.model_selection import learning_curve

from loopml.core import tuning

SIZES = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class LearningCurve:
    metric: str
    higher_is_better: bool
    sizes: list[int]
    train_mean: list[float]
    train_std: list[float]
    valid_mean: list[float]
    valid_std: list[float]
    folds: int

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__, reading=reading(self))


def compute(
    model: BaseEstimator,
    X: pd.DataFrame,
    y: pd.Series,
    folds: tuning.Folds,
    scorer: tuning.Scorer,
    *,
    shuffle: bool,
    seed: int,
    n_jobs: int = 1,
) -> LearningCurve:
    """Fit ``model`` on growing shares of each fold's training rows, score on its validation."""
    with parallel_backend("threading", n_jobs=max(1, n_jobs)):
        sizes, train, valid = learning_curve(
            model,
            X,
            y,
            train_sizes=np.array(SIZES),
            cv=folds,
            scoring=scorer,
            shuffle=shuffle,
            random_state=seed if shuffle else None,
            n_jobs=max(1, n_jobs),
        )
    return LearningCurve(
        scorer.name,
        scorer.higher_is_better,
        [int(s) for s in sizes],
        _round(np.nanmean(train, axis=1)),
        _round(np.nanstd(train, axis=1)),
        _round(np.nanmean(valid, axis=1)),
        _round(np.nanstd(valid, axis=1)),
        len(folds),
    )


def _round(values: np.ndarray) -> list[float]:
    return [float(round(v, 6)) for v in values]


def reading(curve: LearningCurve) -> str:
    """'more data still helps' when the last step gained more than the fold noise."""
    if len(curve.sizes) < 2 or any(math.isnan(v) for v in curve.valid_mean[-2:]):
        return "too few points to read the learning curve"
    sign = 1.0 if curve.higher_is_better else -1.0
    gain = sign * (curve.valid_mean[-1] - curve.valid_mean[-2])
    noise = curve.valid_std[-1] / math.sqrt(max(1, curve.folds))
    step = f"from {curve.sizes[-2]:,} to {curve.sizes[-1]:,} rows"
    if gain > max(noise, 1e-3):
        return f"more data still helps: validation {curve.metric} improved by {gain:.4f} {step}"
    return (
        f"more data is unlikely to help much: validation {curve.metric} changed by "
        f"{sign * gain:+.4f} {step}, within the fold noise (±{noise:.4f})"
    )
