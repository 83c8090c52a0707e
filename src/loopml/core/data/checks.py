"""Checks that run before training. Each failure is one line: what, the bad value, the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from loopml.config import DataConfig, Task
from loopml.core.data.roles import ColumnRoles
from loopml.errors import DataValidationError

LEAK_SCORE = 0.995
_LEAK_SAMPLE = 20_000


def check_columns_exist(frame: pd.DataFrame, cfg: DataConfig, time_column: str | None) -> None:
    """The target, every declared column and the time column must be in the data.

    Parameters
    ----------
    frame : pandas.DataFrame
    cfg : loopml.config.DataConfig
    time_column : str or None
        ``split.time_column``.

    Raises
    ------
    loopml.errors.DataValidationError
        Naming the key and the missing column, with the closest column name.
    """
    _require(frame, cfg.target, "data.target", cfg.source)
    for column, role in cfg.columns.declared().items():
        _require(frame, column, f"data.columns.{role}", cfg.source)
    if time_column:
        _require(frame, time_column, "split.time_column", cfg.source)


def _require(frame: pd.DataFrame, column: str, key: str, source: str) -> None:
    if column in frame.columns:
        return
    names = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(column, names, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"columns are: {', '.join(names[:20])}"
    raise DataValidationError(f"{key} '{column}' is not a column of {source}; {hint}")


def check_target(frame: pd.DataFrame, target: str, task: Task) -> tuple[pd.DataFrame, list[str]]:
    """Drop rows without a label (with a warning); refuse a target nothing can be learned from.

    Text labels lose surrounding whitespace (``"up "`` is ``"up"``), and a blank or
    whitespace-only label is a missing one.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
    target : str
    task : {"classification", "regression"}

    Returns
    -------
    frame : pandas.DataFrame
        Rows without a label dropped (the index keeps each row's number).
    warnings : list of str
        One line each.

    Raises
    ------
    loopml.errors.DataValidationError
        No label at all; a single class for classification; a non-numeric target for
        regression.
    """
    frame, warnings = _strip_labels(frame, target)
    missing = int(frame[target].isna().sum())
    if missing == len(frame):
        raise DataValidationError(f"target '{target}' has no values; choose another data.target")
    if missing:
        frame = frame[frame[target].notna()]  # the index keeps each row's number in the file
        warnings.append(f"target '{target}': dropped {missing} rows with no label")
    if task == "classification":
        counts = frame[target].value_counts()
        if len(counts) < 2:
            raise DataValidationError(
                f"target '{target}' has one class ({counts.index[0]!r}) in all {len(frame)} rows; "
                "a classifier needs at least two; check the data or data.target"
            )
    elif not pd.api.types.is_numeric_dtype(frame[target]):
        example = frame[target].iloc[0]
        raise DataValidationError(
            f"target '{target}' is not numeric (e.g. {example!r}) but data.task is regression; "
            "set data.task: classification or clean the column"
        )
    return frame, warnings


def _strip_labels(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, list[str]]:
    """Text labels without surrounding whitespace; blank ones missing."""
    labels = frame[target]
    if pd.api.types.is_numeric_dtype(labels) or pd.api.types.is_bool_dtype(labels):
        return frame, []
    text = labels.map(lambda v: isinstance(v, str))
    if not text.any():
        return frame, []
    stripped = labels.where(~text, labels[text].str.strip())
    padded = text & (stripped != labels) & (stripped != "")
    stripped = stripped.where(~text | (stripped != ""), None)
    warnings = []
    if padded.any():
        example = labels[padded].iloc[0]
        warnings.append(
            f"target '{target}': {int(padded.sum())} labels had surrounding spaces "
            f"(e.g. {example!r}); they are read without them ({example.strip()!r})"
        )
    return frame.assign(**{target: stripped}), warnings


def check_roles(frame: pd.DataFrame, roles: ColumnRoles) -> None:
    """Declared numeric and datetime columns must hold numbers and dates.

    Parameters
    ----------
    frame : pandas.DataFrame
    roles : ColumnRoles

    Raises
    ------
    loopml.errors.DataValidationError
        A non-missing value that does not parse, with the count and an example.
    """
    for column in roles.numeric:
        _check_parses(frame[column], column, "numeric", _as_numeric)
    for column in roles.datetime:
        _check_parses(frame[column], column, "datetime", _as_datetime)


def _check_parses(series: pd.Series, column: str, role: str, parse: object) -> None:
    present = series.dropna()
    parsed = parse(present)  # type: ignore[operator]
    bad = present[parsed.isna()]
    if len(bad):
        fix = "declare it categorical in data.columns.categorical or clean it"
        raise DataValidationError(
            f"column '{column}' is declared {role} but has {len(bad)} values that are not {role} "
            f"(e.g. {bad.iloc[0]!r}); {fix}"
        )


def _as_numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _as_datetime(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    return pd.to_datetime(series.astype(str), errors="coerce", format="mixed")


def describe_frame(frame: pd.DataFrame, roles: ColumnRoles) -> list[str]:
    """Warnings that do not stop training: duplicates and id-like columns.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        Non-empty.
    roles : ColumnRoles

    Returns
    -------
    list of str
        One line each.
    """
    warnings = []
    duplicates = int(frame.duplicated().sum())
    if duplicates:
        warnings.append(
            f"{duplicates} duplicate rows ({duplicates / len(frame):.1%}); they may land in both "
            "train and test and flatter the test score"
        )
    for column in roles.id:
        if column in roles.inferred:
            warnings.append(
                f"column '{column}' looks like an id (unique per row); it is kept beside "
                "predictions, not used as a feature; declare another role to use it"
            )
    return warnings


def check_leakage(frame: pd.DataFrame, target: str, task: Task, roles: ColumnRoles) -> None:
    """Refuse a single column that predicts the target almost perfectly: it leaks the answer.

    Each numeric and categorical column alone (categories as codes, missing as -1e12)
    is scored by 3-fold ``sklearn.model_selection.cross_val_score`` of a shallow decision
    tree (depth 4, accuracy; regression depth 6, R²) on up to 20,000 rows; a mean score of
    at least ``LEAK_SCORE`` (0.995) is a leak. A classification target with a class of
    fewer than 3 rows in the sample is not tested.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
    target : str
    task : {"classification", "regression"}
    roles : ColumnRoles

    Raises
    ------
    loopml.errors.DataValidationError
        Naming the leaking columns.
    """
    sample = frame.sample(min(len(frame), _LEAK_SAMPLE), random_state=0)
    leaks = [c for c in _leak_candidates(roles) if _single_column_score(sample, c, target, task)]
    if leaks:
        names = ", ".join(f"'{c}'" for c in leaks)
        raise DataValidationError(
            f"column {names} predicts target '{target}' almost perfectly (score >= {LEAK_SCORE}); "
            "it likely leaks the answer; add it to data.columns.ignore"
        )


def _leak_candidates(roles: ColumnRoles) -> Iterable[str]:
    return (*roles.numeric, *roles.categorical)


def _single_column_score(frame: pd.DataFrame, column: str, target: str, task: Task) -> bool:
    x = frame[column]
    if not pd.api.types.is_numeric_dtype(x):
        x = x.astype("category").cat.codes
    values = x.to_numpy(dtype=float, na_value=np.nan).reshape(-1, 1)
    values = np.nan_to_num(values, nan=-1e12)
    y = frame[target]
    if task == "classification":
        if y.value_counts().min() < 3:
            return False
        model: object = DecisionTreeClassifier(max_depth=4, random_state=0)
        scoring = "accuracy"
    else:
        model, scoring = DecisionTreeRegressor(max_depth=6, random_state=0), "r2"
    scores = cross_val_score(model, values, y, cv=3, scoring=scoring)
    return bool(np.mean(scores) >= LEAK_SCORE)
