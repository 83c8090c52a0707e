"""Column roles: what each column is to the model. Declared roles win; the rest are inferred."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from loopml.config import ColumnsConfig, Task

FEATURE_ROLES = ("numeric", "categorical", "text", "datetime")
ALL_ROLES = (*FEATURE_ROLES, "id", "ignore")
# "id", "user_id", "PassengerId", "order-uuid"; not "paid" or "humid".
_SNAKE_ID = re.compile(r"(?:^|[_\s.-])(?:id|uuid|key)$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z](?:Id|ID|Uuid|UUID|Key)$")
_MAX_CLASSES = 50


@dataclass(frozen=True)
class ColumnRoles:
    """Which columns feed which part of the preprocessing pipeline.

    Parameters
    ----------
    numeric, categorical, text, datetime : tuple of str, default ()
        The feature columns of each role.
    id : tuple of str, default ()
        Kept beside predictions, not used as features.
    ignore : tuple of str, default ()
        Not used.
    inferred : dict of str to str, default {}
        Column to "role (why)" for every role that was inferred rather than declared.
    """

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    datetime: tuple[str, ...] = ()
    id: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    inferred: dict[str, str] = field(default_factory=dict)  # column -> why

    @property
    def features(self) -> tuple[str, ...]:
        """Every feature column: numeric, then categorical, text and datetime."""
        return self.numeric + self.categorical + self.text + self.datetime

    def role_of(self, column: str) -> str | None:
        """The role of ``column``, or None when it has none (e.g. the target).

        Parameters
        ----------
        column : str

        Returns
        -------
        str or None
        """
        return next((r for r in ALL_ROLES if column in getattr(self, r)), None)

    def as_dict(self) -> dict[str, list[str]]:
        """Role to its columns, for every role in ``ALL_ROLES``.

        Returns
        -------
        dict of str to list of str
        """
        return {role: list(getattr(self, role)) for role in ALL_ROLES}


def infer_roles(
    frame: pd.DataFrame,
    target: str,
    declared: ColumnsConfig,
    hints: Mapping[str, tuple[str, str]] | None = None,
) -> ColumnRoles:
    """Give every column but the target a role, explaining each inferred one.

    ``hints`` (column -> (role, why)) come from the data contract, where a column's kind
    decides its role: booleans and codes with leading zeros are categorical, dates datetime.
    Inference: empty or constant columns are ignored; booleans categorical; dates datetime;
    unique values under an id-like name id; numbers numeric; strings that parse as dates
    datetime, of 3+ words on average text, unique per row id, else categorical.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
    target : str
    declared : loopml.config.ColumnsConfig
        ``data.columns``: declared roles win.
    hints : mapping of str to (str, str), optional

    Returns
    -------
    ColumnRoles
    """
    hints = hints or {}
    given = declared.declared()
    buckets: dict[str, list[str]] = {role: [] for role in ALL_ROLES}
    inferred: dict[str, str] = {}
    for column in frame.columns:
        if column == target:
            continue
        if column in given:
            buckets[given[column]].append(column)
            continue
        role, why = _guess(frame[column])
        if column in hints and role != "ignore":
            role, why = hints[column]
        buckets[role].append(column)
        inferred[column] = f"{role} ({why})"
    return ColumnRoles(**{r: tuple(cols) for r, cols in buckets.items()}, inferred=inferred)


def _guess(series: pd.Series) -> tuple[str, str]:
    values = series.dropna()
    n_unique = values.nunique()
    if values.empty:
        return "ignore", "no values"
    if n_unique == 1:
        return "ignore", "one constant value"
    if pd.api.types.is_bool_dtype(series):
        return "categorical", "true/false"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime", "datetime values"
    all_unique = n_unique == len(series)
    if all_unique and looks_like_id_name(str(series.name)):
        return "id", "unique per row and named like an id"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric", "numbers"
    return _guess_strings(values.astype(str), n_unique, all_unique)


def looks_like_id_name(name: str) -> bool:
    """Whether ``name`` reads like an id column ("id", "user_id", "PassengerId", "order-uuid").

    Parameters
    ----------
    name : str

    Returns
    -------
    bool
        True for a trailing id/uuid/key word (snake, kebab or spaced) or camel-case
        Id/ID/Uuid/Key; not for "paid" or "humid".
    """
    return bool(_SNAKE_ID.search(name) or _CAMEL_ID.search(name))


def _guess_strings(values: pd.Series, n_unique: int, all_unique: bool) -> tuple[str, str]:
    sample = values.head(500)
    if _looks_like_dates(sample):
        return "datetime", "parses as dates"
    words = sample.map(lambda text: len(text.split())).mean()
    if words >= 3:
        return "text", f"{words:.0f} words on average"
    if all_unique:
        return "id", "unique per row"
    if n_unique <= max(_MAX_CLASSES, 0.05 * len(values)):
        return "categorical", f"{n_unique} distinct values"
    return "categorical", f"{n_unique} distinct values; rare ones are grouped"


def _looks_like_dates(sample: pd.Series) -> bool:
    if not sample.str.contains(r"\d{4}|\d{1,2}[/-]\d{1,2}", regex=True).mean() > 0.9:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.95)


def infer_task(target: pd.Series, declared: str) -> Task:
    """Classification for labels and few distinct integers; regression for other numbers.

    Parameters
    ----------
    target : pandas.Series
        The target column.
    declared : str
        ``data.task``: "classification" or "regression" is used as is; anything else
        (e.g. "auto") infers.

    Returns
    -------
    {"classification", "regression"}
        Classification for non-numeric or boolean targets and integral numbers with at
        most 20 distinct values.
    """
    if declared in ("classification", "regression"):
        return declared  # type: ignore[return-value]
    values = target.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    is_integral = bool((values == values.round()).all())
    return "classification" if is_integral and values.nunique() <= 20 else "regression"
