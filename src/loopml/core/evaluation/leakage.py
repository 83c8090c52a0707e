"""Target leakage, suspected: a test score too good to be true, and the columns behind it.

A model that scores a test split perfectly (R² of at least ``PERFECT_R2``, or every row
right) almost always reads a column computed from the target or recorded after it (bike
sharing's ``casual`` and ``registered`` add up to ``cnt``). loopml cannot know; it says
so, with the columns that on their own say most about the target, and how to leave one
out (``data.columns.ignore``). The per-column measures: for a regression target, the
absolute Pearson correlation of a numeric column; for a class, the share of rows whose
class is the majority class of their column value (numbers cut in ``BINS`` quantile
bins), the purity of a one-column rule (Holte, 1993, "Very simple classification rules
perform well on most commonly used datasets": the 1R rule's training accuracy).
"""

from __future__ import annotations

import math

import pandas as pd

PERFECT_R2 = 0.999  # a regression test R² at least this is "perfect"
MIN_ROWS = 30  # fewer test rows than this prove nothing
BINS = 20  # quantile bins of a numeric column for the one-column rule
TOP = 3  # columns named


def too_good(scores: dict[str, float], task: str, rows: int) -> str | None:
    """The perfect score of a test split, as text, or None when it is not perfect.

    Parameters
    ----------
    scores : dict of str to float
        Test metrics by name (``metrics.report``): ``r2`` (regression), ``accuracy``
        (classification).
    task : {"classification", "regression"}
    rows : int
        Test rows scored.

    Returns
    -------
    str or None
        E.g. ``"test r2 1.0000"``; None below ``PERFECT_R2``, below an accuracy of 1, or
        on fewer than ``MIN_ROWS`` rows.
    """
    if rows < MIN_ROWS:
        return None
    name, bound = ("r2", PERFECT_R2) if task == "regression" else ("accuracy", 1.0)
    value = scores.get(name, math.nan)
    return f"test {name} {value:.4f}" if value >= bound else None


def suspects(
    frame: pd.DataFrame, target: str, columns: list[str], task: str
) -> list[tuple[str, float]]:
    """The columns that alone say most about the target, best first.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        Training rows, with the target.
    target : str
    columns : list of str
        Feature columns to measure (text columns are better left out: every value is
        its own).
    task : {"classification", "regression"}

    Returns
    -------
    list of (str, float)
        At most ``TOP`` pairs (column, measure): |Pearson r| of a numeric column with a
        regression target; the one-column rule's accuracy for a class.
    """
    y = frame[target]
    found: list[tuple[str, float]] = []
    for column in columns:
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if task == "regression":
            if not numeric:
                continue
            r = values.astype(float).corr(y.astype(float))
            if not math.isnan(r):
                found.append((column, abs(float(r))))
            continue
        keys = _binned(values) if numeric else values.astype("string").fillna("<missing>")
        counts = pd.crosstab(keys, y.astype("string"))
        found.append((column, float(counts.max(axis=1).sum() / max(1, len(frame)))))
    return sorted(found, key=lambda pair: -pair[1])[:TOP]


def _binned(values: pd.Series) -> pd.Series:
    cut = pd.qcut(values.astype(float), BINS, duplicates="drop")
    return cut.astype("string").fillna("<missing>")


def line(perfect: str, winner: str, found: list[tuple[str, float]], task: str) -> str:
    """The one-line warning.

    Parameters
    ----------
    perfect : str
        ``too_good``'s text.
    winner : str
        The model's name.
    found : list of (str, float)
        ``suspects``'s pairs.
    task : {"classification", "regression"}

    Returns
    -------
    str
    """
    measure = "|r| with the target" if task == "regression" else "one-column rule accuracy"
    named = ", ".join(f"{c} ({v:.3f})" for c, v in found) or "none measured"
    return (
        f"{perfect} ({winner}) is too good to be true: a feature may be computed from the "
        f"target or known only after it (leakage); the columns that alone say most about "
        f"it, by {measure}: {named}; list such a column in data.columns.ignore"
    )
