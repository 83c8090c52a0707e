"""A log1p transform of a skewed regression target, tried beside the identity by the search.

A regression model fitted on ``log1p(y)`` and answering ``expm1`` of its output often fits
a right-skewed, non-negative target (fares, counts, prices) better than one fitted on
``y``: errors become relative and the long tail stops dominating the squared loss. Whether
it helps is for the data to say, so loopml does not switch it on: when the target looks
skewed it adds ``target_transform: [none, log1p]`` to each regression candidate's search
space, and the same search, on the same folds and budget, picks per candidate. Every
score is computed on the original scale (the model's ``predict`` gives ``expm1`` of the
log-scale output), so a candidate with the transform competes on equal terms.

The model is scikit-learn's ``sklearn.compose.TransformedTargetRegressor`` (``func=
numpy.log1p``, ``inverse_func=numpy.expm1``) around the catalog estimator, as the
``model`` step of the usual pipeline: the features step is unchanged, and skops stores
the two functions as numpy ufunc references (trusted without a new allow-list entry).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.compose import TransformedTargetRegressor

from loopml.config import Task
from loopml.errors import ConfigError

KEY = "target_transform"  # the parameter's name in a candidate's space
NONE, LOG1P = "none", "log1p"
TRANSFORMS = (NONE, LOG1P)
# Bulmer, "Principles of Statistics" (1979, p. 63): a distribution whose skewness is above
# 1 (or below -1) is "highly skewed". Only a right tail is compressed by a log.
SKEWNESS_THRESHOLD = 1.0


@dataclass(frozen=True)
class TargetShape:
    """What the log1p rule reads from a regression target.

    Parameters
    ----------
    column : str
        The target column's name.
    skewness : float
        Sample skewness of the training split's target (``scipy.stats.skew`` with
        ``bias=False``: the adjusted Fisher-Pearson coefficient G1, Joanes and Gill,
        "Comparing measures of sample skewness and kurtosis", The Statistician, 1998);
        NaN with fewer than 3 values or a constant target.
    minimum : float
        The smallest target value of the rows a model is fitted on (training and
        validation splits): log1p needs every value above -1, loopml's rule asks for none
        below 0.
    """

    column: str
    skewness: float
    minimum: float

    @property
    def offered(self) -> bool:
        """Whether the search tries log1p: skewness above ``SKEWNESS_THRESHOLD`` and no value
        below 0."""
        return self.skewness > SKEWNESS_THRESHOLD and self.minimum >= 0

    def line(self) -> str | None:
        """The one line that says what loopml decided and which key changes it; None when
        the target is not skewed (nothing is added, nothing to say).

        Returns
        -------
        str or None
        """
        seen = f"target {self.column!r} has skewness {self.skewness:.2f} on the training split"
        fix = f"models.candidates.<name>.{KEY}: none or log1p fixes it per candidate"
        if self.offered:
            return (
                f"{seen} (> {SKEWNESS_THRESHOLD:g}, no value below 0): each regression "
                f"candidate's search also tries {KEY} log1p (fitted on log1p, scored on the "
                f"original scale); {fix}"
            )
        if self.skewness > SKEWNESS_THRESHOLD:
            return (
                f"{seen} but holds {_number(self.minimum)} (below 0): {KEY} log1p is not "
                f"tried; {fix}"
            )
        return None


def shape(column: str, train: pd.Series, fitted_rows: pd.Series) -> TargetShape:
    """The skewness of ``train`` and the minimum of ``fitted_rows``.

    Parameters
    ----------
    column : str
        The target column's name (for messages).
    train : pandas.Series, shape (n_train,)
        The training split's target; numeric.
    fitted_rows : pandas.Series, shape (n_rows,)
        The target of every row a model may be fitted on (training and validation).

    Returns
    -------
    TargetShape
    """
    values = pd.to_numeric(train, errors="coerce").dropna().to_numpy(dtype=np.float64)
    skewness = math.nan
    if len(values) >= 3 and np.ptp(values) > 0:
        skewness = float(stats.skew(values, bias=False))
    minimum = float(pd.to_numeric(fitted_rows, errors="coerce").min())
    return TargetShape(column, skewness, minimum)


def check(key: str, values: tuple[Any, ...], task: Task, target: TargetShape | None) -> None:
    """Refuse a ``target_transform`` setting that cannot apply, in one line naming the key.

    Parameters
    ----------
    key : str
        The full config key, e.g. ``models.candidates.lightgbm.target_transform``.
    values : tuple
        The values the setting allows (one when fixed, several for a choice).
    task : {"classification", "regression"}
    target : TargetShape or None
        The target, to check log1p against its smallest value; None skips that check.

    Raises
    ------
    loopml.errors.ConfigError
        A value other than none or log1p; any value for classification; log1p on a target
        with a value at or below -1 (log1p is undefined there).
    """
    unknown = [v for v in values if v not in TRANSFORMS]
    if unknown:
        raise ConfigError(
            f"{key}: unknown transform {unknown[0]!r}; write none, log1p or [none, log1p]"
        )
    if task != "regression":
        raise ConfigError(f"{key}: a target transform is for regression only; remove the key")
    if LOG1P in values and target is not None and not target.minimum > -1:
        raise ConfigError(
            f"{key}: log1p needs every value of target {target.column!r} above -1, but it "
            f"holds {_number(target.minimum)}; set {KEY}: none"
        )


def wrap(estimator: BaseEstimator, transform: Any, key: str) -> BaseEstimator:
    """``estimator`` as is (``none``) or fitted on log1p of the target (``log1p``).

    Parameters
    ----------
    estimator : sklearn.base.BaseEstimator
        An unfitted regressor.
    transform : {"none", "log1p"}
    key : str
        The config key named when ``transform`` is neither.

    Returns
    -------
    sklearn.base.BaseEstimator
        ``estimator``, or ``TransformedTargetRegressor(estimator, func=numpy.log1p,
        inverse_func=numpy.expm1)`` whose ``predict`` is on the original scale.

    Raises
    ------
    loopml.errors.ConfigError
        ``transform`` is not none or log1p.
    """
    if transform == NONE:
        return estimator
    if transform != LOG1P:
        raise ConfigError(
            f"{key}: unknown transform {transform!r}; write none, log1p or [none, log1p]"
        )
    return TransformedTargetRegressor(
        regressor=estimator, func=np.log1p, inverse_func=np.expm1, check_inverse=False
    )


def is_log1p(model: Any) -> bool:
    """Whether ``model`` is a fitted log1p ``TransformedTargetRegressor`` (as ``wrap`` makes).

    Parameters
    ----------
    model : Any

    Returns
    -------
    bool
    """
    return (
        isinstance(model, TransformedTargetRegressor)
        and model.func is np.log1p
        and model.inverse_func is np.expm1
        and hasattr(model, "regressor_")
    )


def _number(value: float) -> str:
    return f"{value:g}"
