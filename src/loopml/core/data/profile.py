"""A data profile (EDA): the numbers behind `loopml profile`'s report. Pure; no plotting.

Label distribution, missing values, numeric summaries and correlations, category
cardinality, duplicates, text lengths and frequent words per class, and how far the test
split's distribution is from the training split's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.feature_extraction.text import CountVectorizer

from loopml.config import Task
from loopml.core.data.roles import ColumnRoles
from loopml.core.data.split import Splits

MAX_WORD_CLASSES = 8
WORDS_PER_CLASS = 80
MAX_CORRELATED = 30
DRIFT_KS = 0.1  # KS statistic above which a numeric column is flagged
DRIFT_TVD = 0.1  # total variation distance above which a category column is flagged
TVD_CATEGORIES = 20  # the most frequent train values compared one by one
ALL_ROWS = "all rows"


@dataclass
class DataProfile:
    """The numbers behind ``loopml profile``'s report (exploratory data analysis).

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The data (or a sample of it), typed.
    target : str
    task : {"classification", "regression"}
    roles : loopml.core.data.roles.ColumnRoles
    splits : loopml.core.data.split.Splits
    warnings : list of str
        Data warnings found earlier, one line each.
    labels : pandas.Series or None
        Rows per class, most frequent first (classification).
    missing : list of dict
        Per column with missing values: ``column``, ``missing`` (count), ``share`` in [0, 1].
    numeric : list of dict
        Per numeric column: ``mean``, ``std`` (ddof=1), ``min``, ``median``, ``max``,
        ``distinct``.
    correlations : pandas.DataFrame or None
        Pearson correlations of up to ``MAX_CORRELATED`` numeric columns and the target
        (a binary label as 0/1).
    top_pairs : list of dict
        The 10 pairs of largest |r|: ``a``, ``b``, ``r``.
    categories : list of dict
        Per categorical column: ``distinct``, ``top`` (5 values with counts), ``rare_share``
        (share of rows in values with fewer than 5 rows).
    duplicates : int
        Fully duplicated rows.
    conflicting : int
        Rows whose feature values repeat with different labels.
    text_lengths : dict of str to pandas.DataFrame
        Text column to each row's ``length`` (characters) and ``group``.
    words : dict of str to dict of str to int
        Class (or "all rows") to its most frequent words (English stop words removed).
    drift : list of dict
        Train-vs-test distance per column, largest first: two-sample Kolmogorov-Smirnov
        (``scipy.stats.ks_2samp``; flagged above ``DRIFT_KS`` with p < 0.01) for numbers and
        text lengths, total variation distance (flagged above ``DRIFT_TVD``) for categories.
    split_labels : pandas.DataFrame or None
        Class shares per split (classification).
    rows : int
        Rows the column statistics cover: ``len(frame)``, or the whole file's.
    missing_cells : int
    target_mean : float
        Mean of the target (regression; NaN otherwise).
    """

    frame: pd.DataFrame
    target: str
    task: Task
    roles: ColumnRoles
    splits: Splits
    warnings: list[str]
    labels: pd.Series | None = None  # class counts (classification)
    missing: list[dict[str, Any]] = field(default_factory=list)
    numeric: list[dict[str, Any]] = field(default_factory=list)
    correlations: pd.DataFrame | None = None
    top_pairs: list[dict[str, Any]] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    conflicting: int = 0  # duplicate feature rows with different labels
    text_lengths: dict[str, pd.DataFrame] = field(default_factory=dict)  # column -> length, group
    words: dict[str, dict[str, int]] = field(default_factory=dict)  # class -> word -> count
    drift: list[dict[str, Any]] = field(default_factory=list)
    split_labels: pd.DataFrame | None = None
    rows: int = 0  # rows the column statistics cover: len(frame), or the whole file's
    missing_cells: int = 0
    target_mean: float = math.nan  # regression

    @property
    def sampled(self) -> bool:
        """True when ``frame`` is a sample and the column statistics cover the whole file."""
        return self.rows > len(self.frame)

    @property
    def groups(self) -> pd.Series:
        """The class of each row (classification), or one group for every row."""
        if self.task == "classification":
            return self.frame[self.target].astype(str)
        return pd.Series(ALL_ROWS, index=self.frame.index)

    def highlights(self) -> dict[str, Any]:
        """The headline numbers of the report, as display strings where formatted.

        Returns
        -------
        dict of str to Any
            Rows, columns, task, classes (or target mean), missing cells, duplicate rows and
            the columns flagged for train/test drift.
        """
        cells = self.rows * self.frame.shape[1]
        flagged = [d["column"] for d in self.drift if d["flagged"]]
        return {
            "rows": f"{self.rows:,}",
            "columns": self.frame.shape[1],
            "task": self.task,
            "classes" if self.task == "classification" else "target mean": (
                len(self.labels) if self.labels is not None else f"{self.target_mean:.4g}"
            ),
            "missing cells": f"{self.missing_cells:,} ({self.missing_cells / max(cells, 1):.1%})",
            f"duplicate rows{self.in_sample}": self.duplicates,
            f"train/test drift{self.in_sample}": ", ".join(flagged) if flagged else "none flagged",
        }

    @property
    def in_sample(self) -> str:
        """ " (in the sample)" when the profile is built on a sample, else ""."""
        return " (in the sample)" if self.sampled else ""

    def summary(self) -> dict[str, Any]:
        """The profile as JSON-ready values (no frames).

        Returns
        -------
        dict of str to Any
        """
        return {
            **{k: str(v) for k, v in self.highlights().items()},
            "labels": None
            if self.labels is None
            else {str(k): int(v) for k, v in self.labels.items()},
            "missing": self.missing,
            "categories": self.categories,
            "duplicates": self.duplicates,
            "conflicting_duplicates": self.conflicting,
            "drift": self.drift,
            "warnings": self.warnings,
        }


def build(
    frame: pd.DataFrame,
    target: str,
    task: Task,
    roles: ColumnRoles,
    splits: Splits,
    warnings: list[str],
) -> DataProfile:
    """Profile ``frame`` and its splits.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The typed data (or a sample of it).
    target : str
    task : {"classification", "regression"}
    roles : loopml.core.data.roles.ColumnRoles
    splits : loopml.core.data.split.Splits
        Train and test are compared for drift.
    warnings : list of str

    Returns
    -------
    DataProfile
        Statistics over ``frame``; see ``with_whole_data`` for a sampled file.
    """
    found = DataProfile(frame, target, task, roles, splits, warnings, rows=len(frame))
    if task == "regression":
        found.target_mean = float(pd.to_numeric(frame[target], errors="coerce").mean())
    if task == "classification":
        found.labels = _by_count(frame[target].astype(str).value_counts())
    missing = frame.isna().sum()
    found.missing, found.missing_cells = _missing(missing, len(frame)), int(missing.sum())
    found.numeric = _numeric(frame, roles)
    found.correlations, found.top_pairs = _correlations(frame, roles, target, task)
    found.categories = [
        _category(c, frame[c].dropna().astype(str).value_counts()) for c in roles.categorical
    ]
    found.duplicates, found.conflicting = _duplicates(frame, target, roles)
    found.text_lengths = {
        c: pd.DataFrame(
            {"length": frame[c].fillna("").astype(str).str.len(), "group": found.groups}
        )
        for c in roles.text
    }
    found.words = _words(frame, roles, found.groups)
    found.drift = _drift(splits, roles)
    if task == "classification":
        found.split_labels = _split_labels(splits, target)
    return found


@dataclass(frozen=True)
class WholeData:
    """Column statistics over every row of a file, computed where the file is (on Ray, see
    ``compute.ray_profile``) when only a sample of it comes into memory.

    Parameters
    ----------
    rows : int
        Rows of the whole file.
    missing : pandas.Series
        Column to its number of missing values.
    numeric : list of dict
        Per numeric column, in ``roles.numeric`` order, as ``DataProfile.numeric``.
    categories : dict of str to pandas.Series
        Categorical column to the counts of its non-missing values, as text.
    labels : pandas.Series or None
        Class to rows (classification).
    target_mean : float, default NaN
        Mean of the target (regression).
    """

    rows: int
    missing: pd.Series  # column -> missing values
    numeric: list[dict[str, Any]]  # as ``_numeric`` makes them, in roles.numeric order
    categories: dict[str, pd.Series]  # column -> counts of its non-missing values, as text
    labels: pd.Series | None  # class -> rows (classification)
    target_mean: float = math.nan  # regression


def with_whole_data(found: DataProfile, whole: WholeData) -> DataProfile:
    """``found`` (built on a sample) with the column statistics of the whole file.

    Parameters
    ----------
    found : DataProfile
        Modified in place.
    whole : WholeData

    Returns
    -------
    DataProfile
        ``found``, with rows, missing values, numeric and category statistics, labels and
        target mean replaced.
    """
    found.rows = whole.rows
    found.missing, found.missing_cells = (
        _missing(whole.missing, whole.rows),
        int(whole.missing.sum()),
    )
    found.numeric = whole.numeric
    found.categories = [_category(c, counts) for c, counts in whole.categories.items()]
    if whole.labels is not None:
        found.labels = _by_count(whole.labels)
    found.target_mean = whole.target_mean
    return found


def _by_count(counts: pd.Series) -> pd.Series:
    """Most frequent first, ties by value: the same order wherever the counts were made."""
    frame = pd.DataFrame({"value": counts.index.astype(str), "count": counts.to_numpy()})
    ordered = frame.sort_values(["count", "value"], ascending=[False, True], kind="stable")
    return pd.Series(ordered["count"].to_numpy(), index=ordered["value"].to_numpy(), name="count")


def _missing(counts: pd.Series, rows: int) -> list[dict[str, Any]]:
    return [
        {"column": str(c), "missing": int(n), "share": float(n / rows)}
        for c, n in counts.sort_values(ascending=False, kind="stable").items()
        if n > 0
    ]


def _numeric(frame: pd.DataFrame, roles: ColumnRoles) -> list[dict[str, Any]]:
    rows = []
    for column in roles.numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        rows.append(
            {
                "column": column,
                "mean": float(values.mean()),
                "std": float(values.std()),
                "min": float(values.min()),
                "median": float(values.median()),
                "max": float(values.max()),
                "distinct": int(values.nunique()),
            }
        )
    return rows


def _correlations(
    frame: pd.DataFrame, roles: ColumnRoles, target: str, task: Task
) -> tuple[pd.DataFrame | None, list[dict[str, Any]]]:
    columns = list(roles.numeric)[:MAX_CORRELATED]
    numbers = frame[columns].apply(pd.to_numeric, errors="coerce")
    if task == "regression":
        numbers[target] = pd.to_numeric(frame[target], errors="coerce")
    elif frame[target].nunique() == 2:  # a binary label correlates as 0/1
        codes = pd.factorize(frame[target], sort=True)[0]
        numbers[target] = pd.Series(codes, index=frame.index)
    numbers = numbers.loc[:, numbers.nunique() > 1]
    if numbers.shape[1] < 2:
        return None, []
    matrix = numbers.corr()
    pairs = [
        {"a": a, "b": b, "r": float(matrix.loc[a, b])}
        for i, a in enumerate(matrix.columns)
        for b in matrix.columns[i + 1 :]
        if not np.isnan(matrix.loc[a, b])
    ]
    pairs.sort(key=lambda p: -abs(p["r"]))
    return matrix, pairs[:10]


def _category(column: str, counts: pd.Series) -> dict[str, Any]:
    counts = _by_count(counts)
    rare = counts[counts < 5].sum()
    return {
        "column": column,
        "distinct": len(counts),
        "top": ", ".join(f"{k} ({v})" for k, v in counts.head(5).items()),
        "rare_share": float(rare / max(counts.sum(), 1)),
    }


def _duplicates(frame: pd.DataFrame, target: str, roles: ColumnRoles) -> tuple[int, int]:
    duplicates = int(frame.duplicated().sum())
    features = [c for c in roles.features if c in frame.columns]
    if not features:
        return duplicates, 0
    keyed = pd.util.hash_pandas_object(frame[features], index=False)
    labels_per_key = frame[target].astype(str).groupby(keyed).nunique()
    conflicting_keys = labels_per_key[labels_per_key > 1].index
    return duplicates, int(keyed.isin(conflicting_keys).sum())


def _words(frame: pd.DataFrame, roles: ColumnRoles, groups: pd.Series) -> dict[str, dict[str, int]]:
    if not roles.text:
        return {}
    text = frame[list(roles.text)].fillna("").astype(str).agg(" ".join, axis=1)
    vectorizer = CountVectorizer(
        stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b", min_df=2, lowercase=True
    )
    try:
        counts = vectorizer.fit_transform(text)
    except ValueError:  # no word appears twice
        return {}
    vocabulary = np.asarray(vectorizer.get_feature_names_out())
    words = {}
    for group in groups.value_counts().index[:MAX_WORD_CLASSES]:
        totals = np.asarray(counts[(groups == group).to_numpy()].sum(axis=0)).ravel()
        top = np.argsort(-totals)[:WORDS_PER_CLASS]
        words[str(group)] = {str(vocabulary[i]): int(totals[i]) for i in top if totals[i] > 0}
    return words


def _drift(splits: Splits, roles: ColumnRoles) -> list[dict[str, Any]]:
    train, test = splits.train, splits.test
    found = []
    for column in roles.numeric:
        a = pd.to_numeric(train[column], errors="coerce").dropna()
        b = pd.to_numeric(test[column], errors="coerce").dropna()
        found.append(_ks(column, "numeric", a, b))
    for column in roles.text:
        lengths = [part[column].fillna("").astype(str).str.len() for part in (train, test)]
        found.append(_ks(column, "text length", *lengths))
    for column in roles.categorical:
        found.append(_tvd(column, train[column], test[column]))
    return sorted(found, key=lambda d: -d["statistic"])


def _ks(column: str, kind: str, a: pd.Series, b: pd.Series) -> dict[str, Any]:
    if len(a) < 2 or len(b) < 2:
        return {
            "column": column,
            "kind": kind,
            "test": "KS",
            "statistic": 0.0,
            "p_value": None,
            "flagged": False,
        }
    result = stats.ks_2samp(a, b)
    statistic, p_value = float(result.statistic), float(result.pvalue)
    flagged = statistic > DRIFT_KS and p_value < 0.01
    return {
        "column": column,
        "kind": kind,
        "test": "KS",
        "statistic": statistic,
        "p_value": p_value,
        "flagged": flagged,
    }


def _tvd(column: str, a: pd.Series, b: pd.Series) -> dict[str, Any]:
    """Distance of category shares; values rare in train count as one '(other)' value."""
    frequent = a.astype(str).value_counts().head(TVD_CATEGORIES).index
    a, b = (s.astype(str).where(s.astype(str).isin(frequent), "(other)") for s in (a, b))
    shares_a = a.value_counts(normalize=True)
    shares_b = b.value_counts(normalize=True)
    both = shares_a.index.union(shares_b.index)
    distance = 0.5 * float(
        np.abs(shares_a.reindex(both, fill_value=0) - shares_b.reindex(both, fill_value=0)).sum()
    )
    return {
        "column": column,
        "kind": "category",
        "test": "total variation",
        "statistic": distance,
        "p_value": None,
        "flagged": distance > DRIFT_TVD,
    }


def _split_labels(splits: Splits, target: str) -> pd.DataFrame:
    shares = {
        name: part[target].astype(str).value_counts(normalize=True)
        for name, part in (
            ("train", splits.train),
            ("validation", splits.validation),
            ("test", splits.test),
        )
    }
    return pd.DataFrame(shares).fillna(0.0)
