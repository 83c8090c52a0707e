"""The preprocessing pipeline, built from column roles.

It sits inside the model pipeline, so serving and batch scoring apply exactly the
transforms fitted at training time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from loopml.core.data.roles import ColumnRoles

CALENDAR_PARTS = ("year", "month", "day", "dayofweek", "hour")


class TextColumn(BaseEstimator, TransformerMixin):
    """Turn a one-column frame of text into the 1-D array of strings TF-IDF expects."""

    def fit(self, X: Any, y: Any = None) -> TextColumn:
        self.n_features_in_ = 1
        return self

    def transform(self, X: Any) -> np.ndarray:
        column = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(np.asarray(X)[:, 0])
        return column.fillna("").astype(str).to_numpy()


class CalendarFeatures(BaseEstimator, TransformerMixin):
    """Expand date columns into calendar parts (year, month, day, weekday, hour)."""

    def __init__(self, parts: tuple[str, ...] = CALENDAR_PARTS):
        self.parts = parts

    def fit(self, X: pd.DataFrame, y: Any = None) -> CalendarFeatures:
        self.columns_ = [str(c) for c in X.columns]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        blocks = []
        for column in self.columns_:
            moments = pd.to_datetime(X[column], errors="coerce", format="mixed")
            for part in self.parts:
                blocks.append(getattr(moments.dt, part).astype("float64").to_numpy())
        return np.column_stack(blocks) if blocks else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"{c}_{p}" for c in self.columns_ for p in self.parts], dtype=object)


def build_preprocessor(roles: ColumnRoles) -> ColumnTransformer:
    """One branch per role: impute+scale numbers, one-hot categories, TF-IDF text, date parts."""
    branches: list[tuple[str, Any, Any]] = []
    if roles.numeric:
        branches.append(("numeric", _numeric(), list(roles.numeric)))
    if roles.categorical:
        branches.append(("categorical", _categorical(), list(roles.categorical)))
    for column in roles.text:
        branches.append((f"text_{column}", _text(), [column]))
    if roles.datetime:
        branches.append(("datetime", _calendar(), list(roles.datetime)))
    return ColumnTransformer(branches, remainder="drop", sparse_threshold=0.3)


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
                    handle_unknown="infrequent_if_exist", min_frequency=5, max_categories=30
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


def _calendar() -> Pipeline:
    return Pipeline(
        [
            ("parts", CalendarFeatures()),
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
    )


def category_key(value: Any) -> str:
    """One spelling per category: 1, 1.0 and "1" are the same; True stays "True"."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | float | np.number) and float(value).is_integer():
        return str(int(value))
    return str(value)


class CategoryText(BaseEstimator, TransformerMixin):
    """Categories as strings (numbers and booleans included); missing values stay missing."""

    def fit(self, X: Any, y: Any = None) -> CategoryText:
        self.n_features_in_ = pd.DataFrame(X).shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        frame = pd.DataFrame(X)
        return frame.map(category_key, na_action="ignore").to_numpy(dtype=object)

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        return input_features
