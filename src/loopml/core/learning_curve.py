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
    """Train and validation scores of one model at growing training-set sizes.

    Parameters
    ----------
    metric : str
        The scorer's name.
    higher_is_better : bool
    sizes : list of int
        Training rows used at each point (``SIZES`` shares of a fold's training rows).
    train_mean, train_std : list of float
        Mean and standard deviation (ddof=0) over folds of the score on the rows fitted on,
        per size, rounded to 6 decimals; NaN scores are ignored.
    valid_mean, valid_std : list of float
        Likewise on each fold's validation rows.
    folds : int
        Number of CV folds.
    """

    metric: str
    higher_is_better: bool
    sizes: list[int]
    train_mean: list[float]
    train_std: list[float]
    valid_mean: list[float]
    valid_std: list[float]
    folds: int

    def as_dict(self) -> dict[str, object]:
        """The fields as a plain dict, with ``reading`` added.

        Returns
        -------
        dict of str to object
        """
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
    """Fit ``model`` on growing shares of each fold's training rows, score on its validation.

    Uses ``sklearn.model_selection.learning_curve`` with ``train_sizes=SIZES`` (25%, 50%,
    75%, 100%), on joblib's threading backend.

    Parameters
    ----------
    model : sklearn.base.BaseEstimator
        The unfitted winner (cloned per fit).
    X : pandas.DataFrame, shape (n_rows, n_features)
    y : pandas.Series, shape (n_rows,)
    folds : tuning.Folds
        ``(train_positions, valid_positions)`` pairs.
    scorer : tuning.Scorer
    shuffle : bool
        Shuffle the training rows before taking a share (not for time-ordered data).
    seed : int
        Shuffle seed (used only with ``shuffle``).
    n_jobs : int, default 1
        Fits run at once, in threads.

    Returns
    -------
    LearningCurve
    """
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
    """'more data still helps' when the last step gained more than the fold noise.

    The gain is the change in mean validation score between the last two sizes (in the
    metric's better direction); the noise is the last validation std / sqrt(folds), at
    least 1e-3.

    Parameters
    ----------
    curve : LearningCurve

    Returns
    -------
    str
        One sentence; "too few points..." with fewer than two sizes or a NaN score.
    """
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
