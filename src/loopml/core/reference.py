"""The reference profile: a compact summary of the training data saved with every model.

Monitoring compares new rows with this profile, never with the training data itself, so
it needs no access to the data the model was trained on. Per feature:

- numeric: counts in up to ``NUMERIC_BINS`` bins (one per distinct value when there are
  few, otherwise quantile bins), missing count, mean, std and quantiles;
- categorical: counts of the ``MAX_CATEGORIES`` most frequent categories, the rest as
  "other", and missing;
- text: the profile of words per row and of each row's share of out-of-vocabulary words,
  with the ``VOCABULARY_SIZE`` most frequent training words as the vocabulary;
- datetime: the first and last moment (dates move forward by nature; they are not tested).

The prediction distribution (numeric for regression, categorical for classification) is
summarised the same way, from predictions on held-out rows. So is the model's reliance on
each input column (``attributions``): the mean absolute attribution of each column on
held-out rows and its share of their total, the global importance of Lundberg et al.
("From local explanations to global understanding with explainable AI for trees", 2020).
The profile serialises to a JSON document of a few kilobytes per feature.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from loopml.config import Task
from loopml.core.data.roles import ColumnRoles
from loopml.core.explain import Explainer, Explanations
from loopml.core.features import category_key

FORMAT = 1
NUMERIC_BINS = 100
MAX_CATEGORIES = 50
VOCABULARY_SIZE = 5000
ATTRIBUTION_ROWS = 500  # rows an attribution profile explains: LightGBM, XGBoost, linear
# fewer where a row costs more: interventional TreeSHAP on a 100-tree forest against 100
# background rows takes ~20 ms a row, the permutation explainer ~0.5 s (an SVM, 30 columns)
PROFILE_ROWS = {"tree": 100, "permutation": 20}
# with a time budget (a time-limited run): rows explained first to time one row, and the
# fewest rows a profile keeps whatever the budget
PROBE_ROWS = 5
MIN_PROFILE_ROWS = 10
BOOTSTRAP = 200  # resamples for the standard error of each attribution share
_WORD = r"\w+"


class _Summary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: int
    missing: int


class NumericSummary(_Summary):
    """Bin ``i`` holds ``edges[i-1] <= x < edges[i]``; the first and last are open-ended.

    Parameters
    ----------
    rows : int
        Rows summarised.
    missing : int
        Rows whose value is missing or not finite (NaN, +/-inf, or not a number).
    kind : "numeric"
    discrete : bool, default False
        Few distinct training values (at most ``NUMERIC_BINS``): ``edges`` are each
        distinct value ``v`` and ``numpy.nextafter(v, inf)``, so each value has its own bin.
        Otherwise ``edges`` are the inner quantiles of ``NUMERIC_BINS`` equal-frequency bins.
    edges : list of float
        Sorted bin edges; there are ``len(edges) + 1`` bins.
    counts : list of int
        Finite values per bin, length ``len(edges) + 1``.
    mean, std, min, max : float or None
        Of the finite values (``std`` with ddof=0); None when there were none.
    quantiles : dict of str to float
        ``"p5"``, ``"p25"``, ``"p50"``, ``"p75"``, ``"p95"`` of the finite values.
    """

    kind: Literal["numeric"] = "numeric"
    discrete: bool = False  # edges are each distinct training value v and the float after v
    edges: list[float]
    counts: list[int]
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    quantiles: dict[str, float] = Field(default_factory=dict)

    def bin_counts(self, values: Any) -> tuple[np.ndarray, int]:
        """Counts of ``values`` in this summary's bins, and how many were missing.

        Parameters
        ----------
        values : array-like, shape (n_rows,)
            Numbers; booleans count as 0/1, other non-numbers as missing.

        Returns
        -------
        counts : numpy.ndarray of int, shape (len(edges) + 1,)
            Finite values per bin.
        missing : int
            Values that are missing or not finite.
        """
        numbers = _as_float(values)
        finite = numbers[np.isfinite(numbers)]
        bins = np.searchsorted(np.asarray(self.edges, dtype=float), finite, side="right")
        counts = np.bincount(bins, minlength=len(self.edges) + 1)
        return counts, int(len(numbers) - len(finite))


class CategoricalSummary(_Summary):
    """Counts of the most frequent categories (at most ``MAX_CATEGORIES``), the rest as "other".

    Parameters
    ----------
    rows : int
        Rows summarised.
    missing : int
        Rows with a missing value.
    kind : "categorical"
    categories : list of str
        The kept categories' ``category_key``, most frequent first.
    counts : list of int
        Rows per kept category, aligned with ``categories``.
    other : int, default 0
        Non-missing rows in any other category.
    """

    kind: Literal["categorical"] = "categorical"
    categories: list[str]
    counts: list[int]
    other: int = 0

    def category_counts(self, values: Any) -> tuple[np.ndarray, int, int]:
        """Counts per known category, then rows in other categories, then missing rows.

        Parameters
        ----------
        values : array-like, shape (n_rows,)
            Category values, matched through ``category_key`` (1, 1.0 and "1" are one category).

        Returns
        -------
        counts : numpy.ndarray of int, shape (len(categories),)
        other : int
            Non-missing rows outside ``categories``.
        missing : int
        """
        codes, uniques = pd.factorize(pd.Series(values), use_na_sentinel=True)
        position = {name: i for i, name in enumerate(self.categories)}
        known = np.array(
            [position.get(category_key(u), len(self.categories)) for u in uniques], dtype=np.int64
        )
        present = codes >= 0
        slots = known[codes[present]] if len(known) else np.empty(0, dtype=np.int64)
        counts = np.bincount(slots, minlength=len(self.categories) + 1)
        return counts[:-1], int(counts[-1]), int((~present).sum())


class TextSummary(_Summary):
    """Words per row and out-of-vocabulary share per row of a text column.

    Words are the lower-cased runs of word characters (regex ``_WORD``) of each row.

    Parameters
    ----------
    rows : int
    missing : int
        Rows with a missing value.
    kind : "text"
    length : NumericSummary
        Words per row (a missing row is missing).
    oov : NumericSummary
        Per row, the share in [0, 1] of its words outside ``vocabulary`` (missing for a
        row without words).
    oov_rate : float
        Share in [0, 1] of all training words outside the vocabulary.
    vocabulary : list of str
        The ``VOCABULARY_SIZE`` most frequent training words, most frequent first.
    """

    kind: Literal["text"] = "text"
    length: NumericSummary  # words per row
    oov: NumericSummary  # per row, the share of words outside the vocabulary
    oov_rate: float  # over all words of the training rows
    vocabulary: list[str]

    def parts(self, values: Any) -> tuple[np.ndarray, np.ndarray]:
        """Words per row and out-of-vocabulary share per row (NaN for a row without words).

        Parameters
        ----------
        values : array-like of str, shape (n_rows,)

        Returns
        -------
        tuple of numpy.ndarray
            See ``text_parts``.
        """
        return text_parts(pd.Series(values), set(self.vocabulary))


class DateSummary(_Summary):
    """The first and last moment of a date column (dates are not tested for drift).

    Parameters
    ----------
    rows : int
    missing : int
        Rows that are missing or do not parse as a date.
    kind : "datetime"
    start, end : str or None
        ISO 8601 text of the earliest and latest moment; None when no row parses.
    """

    kind: Literal["datetime"] = "datetime"
    start: str | None = None
    end: str | None = None


class AttributionSummary(BaseModel):
    """How much the model relies on each input column, over ``rows`` explained rows.

    ``mean_abs[c]`` is the mean absolute contribution of column ``c`` (in ``space``, the
    explainer's output space, e.g. log-odds); ``share[c]`` is ``mean_abs[c]`` over the sum
    of all columns' (shares add up to 1); ``share_se[c]`` its standard error, from
    ``BOOTSTRAP`` resamples of the explained rows (Efron and Tibshirani, *An Introduction
    to the Bootstrap*, 1993, ch. 6), so a comparison can tell a shift from sampling noise.

    Parameters
    ----------
    rows : int
    space : str
    method : str
        The explainer's method, in words.
    mean_abs, share, share_se : dict of str to float
        Per input column; shares in [0, 1].
    """

    model_config = ConfigDict(extra="forbid")

    rows: int
    space: str
    method: str
    mean_abs: dict[str, float]
    share: dict[str, float]
    share_se: dict[str, float] = Field(default_factory=dict)


Summary = Annotated[
    NumericSummary | CategoricalSummary | TextSummary | DateSummary, Field(discriminator="kind")
]


class ReferenceProfile(BaseModel):
    """What a model version was trained on and how it predicted, in a few kilobytes.

    Parameters
    ----------
    format : int, default FORMAT
        Version of this document's layout.
    created : str
        ISO 8601 UTC time the profile was built, to the second.
    task : {"classification", "regression"}
    target : str
        Name of the target column.
    rows : int
        Training rows summarised.
    features : dict of str to Summary
        Feature column to its numeric, categorical, text or date summary.
    prediction : NumericSummary or CategoricalSummary or None
        The model's predictions on held-out rows (numeric for regression).
    classes : list of str
        The classifier's classes, as ``category_key``.
    metric : str or None
        The selection metric.
    test_score : float or None
        Its value on the test rows (None when unknown or NaN).
    time_column : str or None
    data_end : str or None
        The newest moment of ``time_column`` in the training data, ISO 8601.
    attributions : AttributionSummary or None
        None when the model has no explainer.
    """

    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT
    created: str
    task: Task
    target: str
    rows: int
    features: dict[str, Summary]
    prediction: NumericSummary | CategoricalSummary | None = None
    classes: list[str] = Field(default_factory=list)
    metric: str | None = None
    test_score: float | None = None
    time_column: str | None = None
    data_end: str | None = None  # the newest moment in the training data, with a time column
    attributions: AttributionSummary | None = None  # None: the model has no explainer


def summarize_numeric(values: Any) -> NumericSummary:
    """Summarise a numeric column: bins, missing count, mean, std, min, max and quantiles.

    Parameters
    ----------
    values : array-like, shape (n_rows,)
        Numbers; booleans count as 0/1, other non-numbers and non-finite values as missing.

    Returns
    -------
    NumericSummary
        Discrete bins (one per distinct value) when there are at most ``NUMERIC_BINS``
        distinct finite values, else ``NUMERIC_BINS`` quantile bins (fewer when quantiles
        coincide). With no finite value: no edges, one empty bin, every row missing.
    """
    numbers = _as_float(values)
    finite = numbers[np.isfinite(numbers)]
    if not len(finite):
        return NumericSummary(rows=len(numbers), missing=len(numbers), edges=[], counts=[0])
    distinct = np.unique(finite)
    discrete = len(distinct) <= NUMERIC_BINS
    if discrete:  # a bin for each value, and one for anything between or beyond them
        edges = np.column_stack([distinct, np.nextafter(distinct, np.inf)]).ravel()
    else:
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]))
    probes = np.quantile(finite, [0.05, 0.25, 0.5, 0.75, 0.95])
    summary = NumericSummary(
        rows=len(numbers),
        missing=int(len(numbers) - len(finite)),
        discrete=discrete,
        edges=edges.tolist(),
        counts=[],
        mean=float(finite.mean()),
        std=float(finite.std()),
        min=float(finite.min()),
        max=float(finite.max()),
        quantiles={f"p{q}": float(v) for q, v in zip((5, 25, 50, 75, 95), probes, strict=True)},
    )
    summary.counts = summary.bin_counts(finite)[0].tolist()
    return summary


def summarize_categorical(values: Any) -> CategoricalSummary:
    """Summarise a categorical column: the ``MAX_CATEGORIES`` most frequent categories.

    Parameters
    ----------
    values : array-like, shape (n_rows,)
        Category values, merged by ``category_key``.

    Returns
    -------
    CategoricalSummary
        Categories sorted by count, descending (ties in text order of their keys); the
        rest counted as ``other``.
    """
    series = pd.Series(values)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    present = codes[codes >= 0]
    keys = [category_key(u) for u in uniques]  # once per distinct value, not per row
    counts = pd.Series(np.bincount(present, minlength=len(uniques)), index=keys)
    frequent = counts.groupby(level=0).sum().sort_values(ascending=False, kind="stable")
    missing = int(len(codes) - len(present))
    kept = frequent.head(MAX_CATEGORIES)
    return CategoricalSummary(
        rows=len(series),
        missing=missing,
        categories=[str(k) for k in kept.index],
        counts=[int(c) for c in kept.to_numpy()],
        other=int(frequent.iloc[MAX_CATEGORIES:].sum()),
    )


def summarize_text(values: Any) -> TextSummary:
    """Summarise a text column: words per row, out-of-vocabulary shares and the vocabulary.

    Parameters
    ----------
    values : array-like of str, shape (n_rows,)

    Returns
    -------
    TextSummary
        ``oov_rate`` is 0.0 when the column has no words.
    """
    series = pd.Series(values)
    words = _words(series)
    counted = Counter(word for row in words for word in row)
    vocabulary = [word for word, _ in counted.most_common(VOCABULARY_SIZE)]
    total = sum(counted.values())
    known = sum(counted[word] for word in vocabulary)
    length, oov = text_parts(series, set(vocabulary))
    return TextSummary(
        rows=len(series),
        missing=int(series.isna().sum()),
        length=summarize_numeric(length),
        oov=summarize_numeric(oov),
        oov_rate=float(1 - known / total) if total else 0.0,
        vocabulary=vocabulary,
    )


def text_parts(series: pd.Series, vocabulary: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Words per row and each row's share of words outside ``vocabulary``.

    Parameters
    ----------
    series : pandas.Series of str, shape (n_rows,)
    vocabulary : set of str
        Known lower-cased words.

    Returns
    -------
    length : numpy.ndarray of float, shape (n_rows,)
        Words per row; NaN for a missing row.
    oov : numpy.ndarray of float, shape (n_rows,)
        Share in [0, 1] of the row's words not in ``vocabulary``; NaN for a row without
        words.
    """
    series = series.reset_index(drop=True)
    words = _words(series)
    length = words.map(len).to_numpy(dtype=float)
    length[series.isna().to_numpy()] = np.nan
    flat = words.explode().dropna()
    outside = (~flat.isin(vocabulary)).groupby(level=0).mean()
    oov = outside.reindex(series.index).to_numpy(dtype=float)
    return length, oov


def summarize_dates(values: Any) -> DateSummary:
    """Summarise a date column: its first and last moment and the rows that do not parse.

    Parameters
    ----------
    values : array-like, shape (n_rows,)
        Anything ``pandas.to_datetime(errors="coerce", format="mixed")`` reads.

    Returns
    -------
    DateSummary
    """
    moments = pd.to_datetime(pd.Series(values), errors="coerce", format="mixed")
    present = moments.dropna()
    return DateSummary(
        rows=len(moments),
        missing=int(moments.isna().sum()),
        start=present.min().isoformat() if len(present) else None,
        end=present.max().isoformat() if len(present) else None,
    )


def summarize_attributions(explanations: Explanations, seed: int = 0) -> AttributionSummary:
    """Mean |contribution| per column of ``explanations``, each column's share and the
    share's bootstrap standard error.

    Global importance as in Lundberg et al. (2020); standard errors from ``BOOTSTRAP``
    resamples of the rows (Efron and Tibshirani 1993, ch. 6).

    Parameters
    ----------
    explanations : loopml.core.explain.Explanations
        Per-row contributions, shape (n_rows, n_columns).
    seed : int, default 0
        Seed of the bootstrap resampling.

    Returns
    -------
    AttributionSummary

    Raises
    ------
    ValueError
        No rows, a non-finite contribution, or contributions that are all 0 (there is no
        share to speak of).
    """
    magnitude = np.abs(np.asarray(explanations.contributions, dtype=np.float64))
    if not len(magnitude) or not np.isfinite(magnitude).all():
        raise ValueError("no rows, or a non-finite contribution: no attribution profile")
    mean_abs = magnitude.mean(axis=0)
    total = float(mean_abs.sum())
    if total <= 0:
        raise ValueError("every contribution is 0 on these rows: no attribution profile")
    picks = np.random.default_rng(seed).integers(0, len(magnitude), (BOOTSTRAP, len(magnitude)))
    resampled = magnitude[picks].mean(axis=1)  # (BOOTSTRAP, columns); ~24 MB at 500 x 30
    totals = resampled.sum(axis=1, keepdims=True)
    spread = (resampled / np.where(totals > 0, totals, 1.0)).std(axis=0, ddof=1)
    columns = explanations.columns
    return AttributionSummary(
        rows=len(explanations),
        space=explanations.space,
        method=explanations.method,
        mean_abs={c: float(v) for c, v in zip(columns, mean_abs, strict=True)},
        share={c: float(v) for c, v in zip(columns, mean_abs / total, strict=True)},
        share_se={c: float(v) for c, v in zip(columns, spread, strict=True)},
    )


def explain_sample(
    explainer: Explainer, features: pd.DataFrame, seed: int = 0, seconds: float | None = None
) -> tuple[pd.DataFrame, Explanations]:
    """Up to ``ATTRIBUTION_ROWS`` rows of ``features`` (``PROFILE_ROWS`` for the slower
    explainers), drawn with ``seed``, and their explanations.

    Parameters
    ----------
    explainer : loopml.core.explain.Explainer
    features : pandas.DataFrame, shape (n_rows, n_columns)
        Input rows as the data contract reads them.
    seed : int, default 0
        ``random_state`` of ``DataFrame.sample``; all rows are kept when there are few.
    seconds : float or None, default None
        A time budget (a time-limited run): ``PROBE_ROWS`` rows are explained first to time
        one row (their time counts against the budget), and the sample is cut to the rows
        that fit in the rest, at least ``MIN_PROFILE_ROWS`` (so a tiny budget is exceeded
        by at most those rows). None: no budget.

    Returns
    -------
    rows : pandas.DataFrame
        The sampled rows.
    explanations : loopml.core.explain.Explanations
        Their explanations.

    Raises
    ------
    KeyError
        A column of the explainer is missing from ``features``; otherwise whatever
        ``Explainer.explain`` (the model, SHAP) raises.
    """
    limit = PROFILE_ROWS.get(explainer.kind, ATTRIBUTION_ROWS)
    if seconds is not None and len(features) > MIN_PROFILE_ROWS:
        started = time.perf_counter()
        explainer.explain(features.head(PROBE_ROWS))
        took = time.perf_counter() - started
        per_row = took / min(PROBE_ROWS, len(features))
        fit = int(max(0.0, seconds - took) / per_row) if per_row > 0 else limit
        limit = max(MIN_PROFILE_ROWS, min(limit, fit))
    rows = features.sample(limit, random_state=seed) if len(features) > limit else features
    return rows, explainer.explain(rows)


def attribution_profile(
    explainer: Explainer, features: pd.DataFrame, seed: int = 0, seconds: float | None = None
) -> AttributionSummary:
    """The attribution summary of a sample of ``features`` (rows as the data contract
    reads them; see ``explain_sample``). Training and monitoring both call it, so their
    samples match in size.

    Parameters
    ----------
    explainer : loopml.core.explain.Explainer
    features : pandas.DataFrame, shape (n_rows, n_columns)
    seed : int, default 0
        Seed of the row sample and of the bootstrap.
    seconds : float or None, default None
        A time budget for the explanations (see ``explain_sample``); None: no budget.

    Returns
    -------
    AttributionSummary

    Raises
    ------
    ValueError
        From ``summarize_attributions``: no rows, a non-finite contribution, or all 0.
    KeyError
        A column of the explainer is missing from ``features``; otherwise whatever
        ``Explainer.explain`` raises.
    """
    return summarize_attributions(explain_sample(explainer, features, seed, seconds)[1])


_SUMMARIZERS = {
    "numeric": summarize_numeric,
    "categorical": summarize_categorical,
    "text": summarize_text,
    "datetime": summarize_dates,
}


def build_profile(
    train: pd.DataFrame,
    roles: ColumnRoles,
    *,
    task: Task,
    target: str,
    predictions: Any = None,
    classes: Any = (),
    metric: str | None = None,
    test_score: float | None = None,
    time_column: str | None = None,
) -> ReferenceProfile:
    """Summarise every feature of the training rows, and the model's predictions if given.

    Parameters
    ----------
    train : pandas.DataFrame, shape (n_rows, n_columns)
        The training rows.
    roles : loopml.core.data.roles.ColumnRoles
        Which columns are numeric, categorical, text and dates (others are left out).
    task : {"classification", "regression"}
    target : str
        Name of the target column.
    predictions : array-like, shape (n_predicted,), optional
        The model's predictions on held-out rows.
    classes : sequence, default ()
        The classifier's classes.
    metric : str or None, optional
        The selection metric.
    test_score : float or None, optional
        Its value on the test rows; NaN is stored as None.
    time_column : str or None, optional
        The time column, whose newest moment becomes ``data_end``.

    Returns
    -------
    ReferenceProfile
        ``attributions`` is left None (see ``attribution_profile``).
    """
    features: dict[str, Any] = {}
    for role in ("numeric", "categorical", "text", "datetime"):
        for column in getattr(roles, role):
            features[column] = _SUMMARIZERS[role](train[column])
    return ReferenceProfile(
        created=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        task=task,
        target=target,
        rows=len(train),
        features=features,
        prediction=summarize_predictions(predictions, task),
        classes=[category_key(c) for c in classes],
        metric=metric,
        test_score=None if test_score is None or np.isnan(test_score) else float(test_score),
        time_column=time_column,
        data_end=_data_end(train, time_column),
    )


def summarize_predictions(
    predictions: Any, task: Task
) -> NumericSummary | CategoricalSummary | None:
    """Summarise predictions: numeric for regression, categorical for classification.

    Parameters
    ----------
    predictions : array-like, shape (n_rows,), or None
    task : {"classification", "regression"}

    Returns
    -------
    NumericSummary or CategoricalSummary or None
        None when ``predictions`` is None.
    """
    if predictions is None:
        return None
    if task == "regression":
        return summarize_numeric(predictions)
    return summarize_categorical(predictions)


def _data_end(train: pd.DataFrame, time_column: str | None) -> str | None:
    if not time_column or time_column not in train:
        return None
    moments = pd.to_datetime(train[time_column], errors="coerce", format="mixed").dropna()
    return moments.max().isoformat() if len(moments) else None


def _as_float(values: Any) -> np.ndarray:
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if pd.api.types.is_bool_dtype(series):
        series = series.astype(float)
    elif not pd.api.types.is_numeric_dtype(series):
        series = pd.to_numeric(series, errors="coerce")
    return series.to_numpy(dtype=float, na_value=np.nan)


def _words(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.lower().str.findall(_WORD)
