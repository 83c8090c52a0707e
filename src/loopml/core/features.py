"""The preprocessing pipeline, built from column roles.

It sits inside the model pipeline, so serving and batch scoring apply exactly the
transforms fitted at training time.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from loopml.core.data.roles import ColumnRoles

Categoricals = Literal["one_hot", "native"]
# A category seen fewer times than this in training joins the column's "infrequent" group.
MIN_CATEGORY_ROWS = 5
UNKNOWN_CODE = -1  # native categoricals: the code of a category unseen in training

CALENDAR_PARTS = ("year", "month", "day", "dayofweek", "hour")
# Periodic parts encoded as sine and cosine: part -> (first value, period). Month and day
# of the month reach the model through the time line only: as cycles they added noise
# (Made-With-ML, logistic regression: CV macro F1 0.671 with them, 0.706 without).
CYCLES = {"dayofweek": (0.0, 7.0), "hour": (0.0, 24.0)}
# part -> years per unit on the time line: a month is 1/12, a day 1/372 (31 per month), so
# the line increases with every later date (the 31st of a month < the 1st of the next).
_DIGITS = 9  # sine and cosine are rounded to this many decimals
_TIME_LINE = {"year": 1.0, "month": 1 / 12, "day": 1 / 372, "hour": 1 / (372 * 24)}


class TextColumn(TransformerMixin, BaseEstimator):
    """Turn a one-column frame of text into the 1-D array of strings TF-IDF expects."""

    def fit(self, X: Any, y: Any = None) -> TextColumn:
        """Record the input width (one column); nothing is learned.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n_rows, 1)
            One column of text.
        y : ignored

        Returns
        -------
        TextColumn
            ``self``.
        """
        self.n_features_in_ = 1
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The column's values as strings, missing values as "".

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n_rows, 1)
            One column of text (only the first column is read).

        Returns
        -------
        numpy.ndarray of str, shape (n_rows,)
        """
        column = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(np.asarray(X)[:, 0])
        return column.fillna("").astype(str).to_numpy()


class CalendarFeatures(TransformerMixin, BaseEstimator):
    """Expand date columns into calendar parts (year, month, day, weekday, hour).

    Parameters
    ----------
    parts : tuple of str, default CALENDAR_PARTS
        Attributes of ``pandas.Series.dt`` to extract, in output order.
    """

    def __init__(self, parts: tuple[str, ...] = CALENDAR_PARTS):
        self.parts = parts

    def fit(self, X: pd.DataFrame, y: Any = None) -> CalendarFeatures:
        """Record the date columns' names; nothing is learned.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_rows, n_dates)
            Date columns (any values ``pandas.to_datetime`` reads).
        y : ignored

        Returns
        -------
        CalendarFeatures
            ``self``.
        """
        self.columns_ = [str(c) for c in X.columns]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Each date column's parts, as floats; unparseable or missing dates give NaN.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_rows, n_dates)
            The columns seen by ``fit``, parsed with ``pandas.to_datetime(errors="coerce",
            format="mixed")``.

        Returns
        -------
        numpy.ndarray of float64, shape (n_rows, n_dates * len(parts))
            Per date column, its parts in ``parts`` order.
        """
        blocks = []
        for column in self.columns_:
            moments = pd.to_datetime(X[column], errors="coerce", format="mixed")
            for part in self.parts:
                blocks.append(getattr(moments.dt, part).astype("float64").to_numpy())
        return np.column_stack(blocks) if blocks else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output names ``"{column}_{part}"``, per date column then per part.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        numpy.ndarray of str (object dtype), shape (n_dates * len(parts),)
        """
        return np.array([f"{c}_{p}" for c in self.columns_ for p in self.parts], dtype=object)


class CalendarEncoder(TransformerMixin, BaseEstimator):
    """Calendar parts as bounded features that a linear model cannot extrapolate from.

    Input: the columns of ``CalendarFeatures`` (``parts`` repeated per date column), imputed.
    Output, per date column: its moment on the time line (years, months, days and hours
    summed so that a later date is always larger), standardized on the training rows and
    clipped to their range; then the sine and cosine of the weekday and the hour.

    Why: read as plain numbers, calendar parts jump (day 31 -> day 1 is -30, 23:00 ->
    00:00 is -23). On taxi trips, ridge fitted on trips that cross midnight mid-month
    weighted ``dropoff_day - pickup_day`` by about 220 and predicted a fare of -736 for
    one that crossed it at the end of March (validation R² -2.3 against CV 0.87).
    Standard scaling made it worse: a part almost constant in training (month: nearly
    every trip in March) has a tiny std, so an April trip was 62 standard deviations
    out. On the time line the end of a month is next to the start of the next, a date
    after the training range counts as its last date, and sine and cosine stay in [-1, 1].

    Parameters
    ----------
    parts : tuple of str, default CALENDAR_PARTS
        The parts each date column was expanded into, in ``CalendarFeatures`` order.
    """

    def __init__(self, parts: tuple[str, ...] = CALENDAR_PARTS):
        self.parts = parts

    def fit(self, X: Any, y: Any = None) -> CalendarEncoder:
        """Learn each date's time-line mean, standard deviation and training range.

        Parameters
        ----------
        X : array-like, shape (n_rows, n_dates * len(parts))
            Imputed calendar parts (no NaN).
        y : ignored

        Returns
        -------
        CalendarEncoder
            ``self``, with ``mean_``, ``scale_`` (std, or 1 where it is 0), ``low_`` and
            ``high_`` (standardized training minimum and maximum), each of shape (n_dates,).
        """
        values = np.asarray(X, dtype=np.float64)
        self.n_features_in_ = values.shape[1]
        moments = values @ self.weights()
        self.mean_ = moments.mean(axis=0)
        std = moments.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        self.low_ = (moments.min(axis=0) - self.mean_) / self.scale_
        self.high_ = (moments.max(axis=0) - self.mean_) / self.scale_
        return self

    def weights(self) -> np.ndarray:
        """The (parts x dates) matrix that turns parts into a date's moment, in years.

        Returns
        -------
        numpy.ndarray, shape (n_features_in_, n_dates)
            Block-diagonal: year 1, month 1/12, day 1/372, hour 1/(372*24), other parts 0.
        """
        per_part = np.array([_TIME_LINE.get(p, 0.0) for p in self.parts])
        dates = self.n_features_in_ // len(self.parts)
        return np.kron(np.eye(dates), per_part.reshape(-1, 1))

    def transform(self, X: Any) -> np.ndarray:
        """Standardized, clipped time line per date, then sine and cosine of each cycle.

        Parameters
        ----------
        X : array-like, shape (n_rows, n_dates * len(parts))
            Imputed calendar parts.

        Returns
        -------
        numpy.ndarray of float64, shape (n_rows, n_dates + 2 * n_periodic)
            The time lines first, then a (sin, cos) pair, rounded to 9 decimals, per
            periodic input column (weekday: period 7, hour: period 24).
        """
        values = np.asarray(X, dtype=np.float64)
        line = (values @ self.weights() - self.mean_) / self.scale_
        blocks = list(np.clip(line, self.low_, self.high_).T)
        for index in self.periodic_columns():
            start, period = CYCLES[self.parts[index % len(self.parts)]]
            angle = (values[:, index] - start) * (2 * np.pi / period)
            # rounded: hour 8 and 16 have the same cosine, not two 1-ulp apart that a
            # tree could split between (and float32 scoring could not tell apart)
            blocks += [np.round(np.sin(angle), _DIGITS), np.round(np.cos(angle), _DIGITS)]
        return np.column_stack(blocks)

    def periodic_columns(self) -> list[int]:
        """Input columns encoded as sine and cosine.

        Returns
        -------
        list of int
            Positions of the input columns whose part is in ``CYCLES`` (weekday, hour).
        """
        size = len(self.parts)
        return [i for i in range(self.n_features_in_) if self.parts[i % size] in CYCLES]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output names: ``"{date}_time"`` per date, then ``"{part}_sin"`` and ``"{part}_cos"``.

        Parameters
        ----------
        input_features : array-like of str, optional
            Input names (``"{date}_{part}"`` from ``CalendarFeatures``); default ``x0, x1...``.

        Returns
        -------
        numpy.ndarray of str (object dtype), shape (n_dates + 2 * n_periodic,)
        """
        names = (
            [str(n) for n in input_features]
            if input_features is not None
            else [f"x{i}" for i in range(self.n_features_in_)]
        )
        size = len(self.parts)
        out = [f"{names[i * size].rsplit('_', 1)[0]}_time" for i in range(len(names) // size)]
        for index in self.periodic_columns():
            out += [f"{names[index]}_sin", f"{names[index]}_cos"]
        return np.array(out, dtype=object)


def build_preprocessor(
    roles: ColumnRoles, categoricals: Categoricals = "one_hot", char_ngrams: bool = True
) -> ColumnTransformer:
    """One branch per role: impute+scale numbers, encode categories, TF-IDF text, dates as a
    bounded time line and daily and weekly cycles (``CalendarEncoder``).

    Numbers: median imputation with missing-value indicators, then
    ``sklearn.preprocessing.StandardScaler``. Categories: ``CategoryText``, constant
    "(missing)" imputation, then either ``OneHotEncoder`` (``categoricals="one_hot"``:
    infrequent below 5 rows, at most 30 categories; an unknown category goes to the
    infrequent column if there is one, else all zeros) or ``OrdinalEncoder``
    (``categoricals="native"``: one code per column, 0..k-1 in sorted order, categories
    below 5 rows share one code, an unknown category is ``UNKNOWN_CODE`` -1, which
    LightGBM scores as missing and CatBoost as an unseen category). Text, one branch per
    column: ``TfidfVectorizer`` on 1-2 grams, ``min_df=2``, at most 20,000 terms,
    sublinear tf; then, in the next branch, its character n-grams (``char_ngrams``).
    Dates: ``CalendarFeatures``, median imputation, ``CalendarEncoder``.

    Parameters
    ----------
    roles : loopml.core.data.roles.ColumnRoles
        The feature columns by role; an empty role adds no branch.
    categoricals : {"one_hot", "native"}, default "one_hot"
        How categories reach the model. "native": the codes come first, so output column
        ``i`` is the code of ``roles.categorical[i]`` (see ``categorical_positions``), for a
        model that splits on categories itself (LightGBM, CatBoost).
    char_ngrams : bool, default True
        Give each text column a second branch, ``chars_<column>`` right after its word
        branch ``text_<column>``: TF-IDF of the character 2-5 grams inside words
        (``analyzer="char_wb"``: each word between two spaces), ``min_df=2``, at most
        20,000 terms, sublinear tf, lower-cased. They catch what words miss in short
        texts: inflections, misspellings, numbers and symbols (``benchmarks/
        bench_text_features.py``: Made-With-ML macro F1 +0.02, titles alone +0.06).

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted; other columns are dropped; the output is sparse when its density is
        below 0.3.
    """
    branches: list[tuple[str, Any, Any]] = []
    if roles.categorical and categoricals == "native":
        branches.append(("categorical", _ordinal(), list(roles.categorical)))
    if roles.numeric:
        branches.append(("numeric", _numeric(), list(roles.numeric)))
    if roles.categorical and categoricals == "one_hot":
        branches.append(("categorical", _categorical(), list(roles.categorical)))
    for column in roles.text:
        branches.append((f"text_{column}", _text(), [column]))
        if char_ngrams:
            branches.append((f"chars_{column}", _chars(), [column]))
    if roles.datetime:
        branches.append(("datetime", _calendar(), list(roles.datetime)))
    return ColumnTransformer(branches, remainder="drop", sparse_threshold=0.3)


def categorical_positions(roles: ColumnRoles) -> list[int]:
    """The output columns of ``build_preprocessor(roles, "native")`` that hold category codes.

    Parameters
    ----------
    roles : loopml.core.data.roles.ColumnRoles

    Returns
    -------
    list of int
        ``0 .. len(roles.categorical) - 1``: the codes come first, one per column.
    """
    return list(range(len(roles.categorical)))


def _numeric() -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("scale", StandardScaler()),
        ]
    )


def _categorical() -> Pipeline:
    return Pipeline(
        [
            ("as_text", CategoryText()),
            ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
            (
                "one_hot",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    min_frequency=MIN_CATEGORY_ROWS,
                    max_categories=30,
                ),
            ),
        ]
    )


def _ordinal() -> Pipeline:
    return Pipeline(
        [
            ("as_text", CategoryText()),
            ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
            (
                "ordinal",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=UNKNOWN_CODE,
                    min_frequency=MIN_CATEGORY_ROWS,
                    dtype=np.float64,
                ),
            ),
        ]
    )


def _text() -> Pipeline:
    return Pipeline(
        [
            ("column", TextColumn()),
            (
                "tfidf",
                TfidfVectorizer(
                    ngram_range=(1, 2), min_df=2, max_features=20_000, sublinear_tf=True
                ),
            ),
        ]
    )


def _chars() -> Pipeline:
    return Pipeline(
        [
            ("column", TextColumn()),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=2,
                    max_features=20_000,
                    sublinear_tf=True,
                    lowercase=True,
                ),
            ),
        ]
    )


def _calendar() -> Pipeline:
    return Pipeline(
        [
            ("parts", CalendarFeatures()),
            # keep_empty_features: a date missing in every row still fills its parts
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("encode", CalendarEncoder()),
        ]
    )


def category_key(value: Any) -> str:
    """One spelling per category: 1, 1.0 and "1" are the same; True stays "True".

    Parameters
    ----------
    value : Any
        A non-missing category value.

    Returns
    -------
    str
        ``str(bool)`` for booleans, the integer's digits for an integral number,
        else ``str(value)``.
    """
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | float | np.number) and float(value).is_integer():
        return str(int(value))
    return str(value)


class CategoryText(TransformerMixin, BaseEstimator):
    """Categories as strings (numbers and booleans included); missing values stay missing."""

    def fit(self, X: Any, y: Any = None) -> CategoryText:
        """Record the input width; nothing is learned.

        Parameters
        ----------
        X : array-like, shape (n_rows, n_columns)
        y : ignored

        Returns
        -------
        CategoryText
            ``self``.
        """
        self.n_features_in_ = pd.DataFrame(X).shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Shape (rows, columns), object: each category's ``category_key``, and NaN for
        every missing value (None, NaN, NA), which the imputer after it fills. A column
        missing in every row of a batch (a single row, say) keeps None from pandas, and
        the imputer does not count None as missing: that row would have been scored as an
        unknown category instead of "(missing)".

        Parameters
        ----------
        X : array-like, shape (n_rows, n_columns)
            Category columns.

        Returns
        -------
        numpy.ndarray of object, shape (n_rows, n_columns)
        """
        frame = pd.DataFrame(X)
        out = frame.map(category_key, na_action="ignore").to_numpy(dtype=object, copy=True)
        out[pd.isna(out)] = np.nan
        return out

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        """The input names, unchanged (one output per input column).

        Parameters
        ----------
        input_features : array-like of str or None

        Returns
        -------
        array-like of str or None
            ``input_features`` as given.
        """
        return input_features


def feature_sources(preprocessor: ColumnTransformer) -> list[str]:
    """The input column behind each output feature of a fitted ``build_preprocessor``.

    A numeric column and its missing-value indicator, every one-hot category (or the one
    native code) of a column, every TF-IDF term of a text column and the time line and
    cycles of a date all map to the column they came from.

    Parameters
    ----------
    preprocessor : sklearn.compose.ColumnTransformer
        A fitted preprocessor from ``build_preprocessor``.

    Returns
    -------
    list of str, length n_features_out
        One input column name per column of ``preprocessor.transform``'s output.

    Raises
    ------
    ValueError
        A branch it does not know (a preprocessor not built here), or a branch whose
        sources do not match its output width.
    """
    widths = preprocessor.output_indices_
    sources = np.empty(max((s.stop for s in widths.values()), default=0), dtype=object)
    for name, branch, columns in preprocessor.transformers_:
        piece = widths.get(name, slice(0, 0))
        if piece.stop == piece.start:
            continue
        found = _branch_sources(branch, [str(c) for c in columns], piece.stop - piece.start)
        if len(found) != piece.stop - piece.start:
            raise ValueError(f"branch {name!r}: {len(found)} sources for {piece} features")
        sources[piece] = found
    return [str(s) for s in sources]


def text_terms(preprocessor: ColumnTransformer) -> dict[str, tuple[slice, np.ndarray]]:
    """Text column -> (its slice of the output features, the TF-IDF term of each).

    A word is shown as it is (``model``, ``deep learning``); a character n-gram in double
    quotes, so that its spaces show (``"ing "`` ends a word, ``" pre"`` starts one).

    Parameters
    ----------
    preprocessor : sklearn.compose.ColumnTransformer
        A fitted preprocessor from ``build_preprocessor``.

    Returns
    -------
    dict of str to (slice, numpy.ndarray of str)
        For every text column: its columns in the output (the word branch, then its
        character branch right after it) and the term of each, in output order. Empty when
        there is no text column.

    Raises
    ------
    ValueError
        A text column whose branches are not side by side in the output.
    """
    terms: dict[str, tuple[slice, np.ndarray]] = {}
    for name, branch, columns in preprocessor.transformers_:
        steps = branch.named_steps if isinstance(branch, Pipeline) else {}
        if "tfidf" in steps:
            names = [str(t) for t in steps["tfidf"].get_feature_names_out()]
        elif "chars" in steps:
            grams = steps["chars"].get_feature_names_out()
            names = [json.dumps(str(t), ensure_ascii=False) for t in grams]
        else:
            continue
        column, piece = str(columns[0]), preprocessor.output_indices_[name]
        if column in terms:  # the word branch came first: the character terms follow it
            before, vocabulary = terms[column]
            if before.stop != piece.start:
                raise ValueError(f"text column {column!r}: its branches are not side by side")
            piece, names = slice(before.start, piece.stop), [*vocabulary, *names]
        terms[column] = (piece, np.array(names, dtype=object))
    return terms


def _branch_sources(branch: Any, columns: list[str], width: int) -> list[str]:
    if len(columns) == 1:  # a text column (every term), or a branch of one column
        return columns * width
    steps = branch.named_steps if isinstance(branch, Pipeline) else {}
    if "impute" in steps and "scale" in steps:  # numeric: values, then missing indicators
        names = steps["impute"].get_feature_names_out(columns)
        return [str(n).removeprefix("missingindicator_") for n in names]
    if "ordinal" in steps:  # native categories: one code per column
        return columns
    if "one_hot" in steps:  # tags that no category name can contain place each output
        tags = [f"\x1f{i}\x1f" for i in range(len(columns))]
        names = steps["one_hot"].get_feature_names_out(tags)
        return [columns[int(str(n).split("\x1f")[1])] for n in names]
    if "encode" in steps:  # dates: one time line each, then sine and cosine per cycle
        encoder, size = steps["encode"], len(steps["encode"].parts)
        return columns + [columns[i // size] for i in encoder.periodic_columns() for _ in (0, 1)]
    raise ValueError(f"unknown preprocessing branch {type(branch).__name__}")


def compact_vocabularies(model: object) -> int:
    """Give every fitted vectorizer in ``model`` a vocabulary of plain ``int`` indices.

    scikit-learn's ``CountVectorizer``/``TfidfVectorizer`` with ``max_features`` keep
    ``numpy.int64`` indices in ``vocabulary_`` (``_limit_features``); skops stores each
    such number as an array of its own, so a text model's 30,000 terms made 30,000 arrays
    (Made-With-ML: 24 s of saving). The indices are the same numbers; transforms are
    unchanged.

    Parameters
    ----------
    model : object
        A fitted estimator; pipelines, column transformers, ensembles and other
        estimators inside it are searched (their attributes, lists, tuples and dicts).

    Returns
    -------
    int
        Vocabularies changed, in place.
    """
    seen: set[int] = set()
    changed = 0

    def visit(node: object) -> None:
        nonlocal changed
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, list | tuple):
            for item in node:
                visit(item)
            return
        if isinstance(node, dict):
            for item in node.values():
                visit(item)
            return
        if not isinstance(node, BaseEstimator):
            return
        vocabulary = getattr(node, "vocabulary_", None)
        if isinstance(vocabulary, dict) and any(
            isinstance(i, np.integer) for i in vocabulary.values()
        ):
            node.vocabulary_ = {term: int(i) for term, i in vocabulary.items()}
            changed += 1
        for value in vars(node).values():
            visit(value)

    visit(model)
    return changed
