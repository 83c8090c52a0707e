"""Slices of the test rows: declared pandas expressions plus automatic ones.

Automatic slices: each frequent value of a categorical column, quartile bins of numeric
columns, length bins of text columns, and missing values. Each slice is scored with one
metric; slices clearly worse than the whole are flagged weak. Comparing two models slice by
slice finds a challenger that wins overall but loses on most slices (Simpson's paradox).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loopml.core import expressions
from loopml.core.data.roles import ColumnRoles
from loopml.core.evaluation import metrics
from loopml.core.features import category_key

MAX_VALUES_PER_COLUMN = 8
MAX_NUMERIC_CODES = 6
QUANTILE_BINS = 4


@dataclass(frozen=True)
class Slice:
    """A named subset of the test rows.

    Parameters
    ----------
    name : str
        E.g. "country = FR", "age in (30, 45]", or the declared name.
    kind : str
        "declared", "category", "numeric bin", "text length" or "missing".
    column : str or None
        The column it is defined on (None for a declared slice).
    mask : numpy.ndarray of bool, shape (n_rows,)
        Which test rows are in it.
    """

    name: str
    kind: str  # declared | category | numeric bin | text length | missing
    column: str | None
    mask: np.ndarray = field(repr=False)

    @property
    def rows(self) -> int:
        """Number of rows in the slice."""
        return int(self.mask.sum())


@dataclass
class SliceScore:
    """The metric on one slice, and whether the slice is weak.

    Parameters
    ----------
    name, kind : str
        As in ``Slice``.
    rows : int
    value : float
        The metric on the slice (NaN where undefined).
    champion : float or None, default None
        The champion's metric on the same slice, when compared.
    weak : bool, default False
        Set by ``flag_weak``.
    """

    name: str
    kind: str
    rows: int
    value: float
    champion: float | None = None
    weak: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, NaN as None (for JSON reports).

        Returns
        -------
        dict of str to Any
        """
        return {
            "name": self.name,
            "kind": self.kind,
            "rows": self.rows,
            "value": _none_if_nan(self.value),
            "champion": None if self.champion is None else _none_if_nan(self.champion),
            "weak": self.weak,
        }


def declared(frame: pd.DataFrame, expressions: dict[str, str]) -> list[Slice]:
    """Slices from ``evaluation.slices``; a bad expression is a ConfigError naming it.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The test rows.
    expressions : dict of str to str
        Slice name to pandas expression (see ``loopml.core.expressions``).

    Returns
    -------
    list of Slice
        Kind "declared", in the order given.

    Raises
    ------
    loopml.errors.ConfigError
        An expression that does not evaluate or does not give true/false per row.
    """
    return [
        Slice(name, "declared", None, _mask(frame, name, expr))
        for name, expr in expressions.items()
    ]


def _mask(frame: pd.DataFrame, name: str, expression: str) -> np.ndarray:
    return expressions.mask(frame, expression, f"evaluation.slices.{name}")


def automatic(frame: pd.DataFrame, roles: ColumnRoles, min_rows: int) -> list[Slice]:
    """Category values, numeric quartiles, text length quartiles and missing values.

    Per categorical column (and numeric column with at most ``MAX_NUMERIC_CODES``
    distinct values): its ``MAX_VALUES_PER_COLUMN`` most frequent values. Other numeric
    columns and text lengths: ``QUANTILE_BINS`` quantile bins (``pandas.qcut``). Per
    feature with some (not all) values missing: a "missing" slice.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The test rows.
    roles : loopml.core.data.roles.ColumnRoles
    min_rows : int
        Slices with fewer rows are dropped, as are slices holding every row.

    Returns
    -------
    list of Slice
    """
    found: list[Slice] = []
    for column in roles.categorical:
        found += _categories(frame[column], column)
    for column in roles.numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.nunique() <= MAX_NUMERIC_CODES:  # a few codes (class 1, 2, 3): one each
            found += _categories(values, column)
        else:
            found += _bins(values, column, "numeric bin", column)
    for column in roles.text:
        lengths = frame[column].fillna("").astype(str).str.len()
        found += _bins(lengths, column, "text length", f"len({column})")
    for column in roles.features:
        missing = frame[column].isna().to_numpy()
        if missing.any() and not missing.all():
            found.append(Slice(f"{column} is missing", "missing", column, missing))
    return [s for s in found if min_rows <= s.rows < len(frame)]


def _categories(series: pd.Series, column: str) -> list[Slice]:
    """One slice per frequent value; 1, 1.0 and "1" are the same value."""
    present = series.notna().to_numpy()
    keys = series.map(category_key, na_action="ignore").astype(str).to_numpy()
    counts = pd.Series(keys[present]).value_counts().head(MAX_VALUES_PER_COLUMN)
    return [
        Slice(f"{column} = {value}", "category", column, (keys == value) & present)
        for value in counts.index
    ]


def _bins(values: pd.Series, column: str, kind: str, label: str) -> list[Slice]:
    if values.nunique() < 2:
        return []
    bins = pd.qcut(values, QUANTILE_BINS, duplicates="drop")
    slices = []
    for interval in bins.cat.categories:
        mask = (bins == interval).to_numpy()
        name = f"{label} in ({_short(interval.left)}, {_short(interval.right)}]"
        slices.append(Slice(name, kind, column, mask))
    return slices


def _short(value: float) -> str:
    return f"{value:.3g}"


def score(
    slices: list[Slice],
    metric: metrics.Metric,
    y: Any,
    predicted: np.ndarray,
    proba: np.ndarray | None,
    classes: Any,
) -> list[SliceScore]:
    """The metric on each slice (NaN where it is undefined, e.g. AUC on one class).

    Parameters
    ----------
    slices : list of Slice
    metric : loopml.core.evaluation.metrics.Metric
    y : array-like, shape (n_rows,)
    predicted : numpy.ndarray, shape (n_rows,)
    proba : numpy.ndarray, shape (n_rows, n_classes), or None
    classes : array-like, shape (n_classes,)

    Returns
    -------
    list of SliceScore
        In ``slices`` order, not yet flagged.
    """
    y = np.asarray(y)
    scored = []
    for s in slices:
        rows = s.mask
        part = None if proba is None else proba[rows]
        value = (
            metrics.score_safely(metric, y[rows], predicted[rows], part, classes)
            if rows.any()
            else math.nan
        )
        scored.append(SliceScore(s.name, s.kind, s.rows, value))
    return scored


def flag_weak(
    scores: list[SliceScore],
    overall: float,
    metric: metrics.Metric,
    margin: float,
    *,
    relative: bool = False,
) -> list[SliceScore]:
    """Mark slices worse than ``overall`` by more than ``margin`` (a share of it if
    ``relative``); return them, worst first.

    Parameters
    ----------
    scores : list of SliceScore
        Modified in place: ``weak`` is set on every score.
    overall : float
        The metric on all test rows.
    metric : loopml.core.evaluation.metrics.Metric
        Its direction decides what "worse" means.
    margin : float
        In metric units, or a share of |overall| when ``relative``.
    relative : bool, default False

    Returns
    -------
    list of SliceScore
        The weak slices, worst first.
    """
    sign = 1.0 if metric.higher_is_better else -1.0
    allowed = margin * abs(overall) if relative else margin
    for s in scores:
        s.weak = not math.isnan(s.value) and sign * (overall - s.value) > allowed
    weak = [s for s in scores if s.weak]
    return sorted(weak, key=lambda s: sign * s.value)


def simpson_warning(
    scores: list[SliceScore], overall: float, champion_overall: float, metric: metrics.Metric
) -> str:
    """A warning when the challenger wins overall but loses on most comparable slices.

    Simpson's paradox: an aggregate comparison that reverses within most subgroups.

    Parameters
    ----------
    scores : list of SliceScore
        The challenger's slice scores with ``champion`` filled in.
    overall : float
        The challenger's overall metric.
    champion_overall : float
        The champion's overall metric.
    metric : loopml.core.evaluation.metrics.Metric

    Returns
    -------
    str
        "" unless the challenger is better overall and worse on more than half of the
        slices where both scores are defined.
    """
    sign = 1.0 if metric.higher_is_better else -1.0
    if not sign * (overall - champion_overall) > 0:
        return ""
    compared = [
        s
        for s in scores
        if s.champion is not None and not math.isnan(s.value) and not math.isnan(s.champion)
    ]
    losses = [s for s in compared if sign * (s.value - s.champion) < 0]  # type: ignore[operator]
    if not compared or len(losses) <= len(compared) / 2:
        return ""
    return (
        f"Simpson's paradox: the challenger beats the champion overall on {metric.name} "
        f"({overall:.4f} vs {champion_overall:.4f}) but loses on {len(losses)} of "
        f"{len(compared)} slices (e.g. {losses[0].name}); check how the test rows are mixed"
    )


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value
