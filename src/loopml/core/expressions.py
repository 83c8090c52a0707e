"""pandas expressions over data columns: evaluation slices and rule baselines.

An expression is evaluated with ``DataFrame.eval(expression, engine="python")``, so it is
what ``DataFrame.query`` accepts: column names as variables, names with spaces or other
characters in backticks (```mean area` > 700``), ``.str`` and ``.dt`` accessors
(``title.str.len() > 40``), ``&``, ``|``, ``~`` and arithmetic. Any problem is one
``ConfigError`` line naming the key (``where``), the expression and, for a name that is not
a column, that name and the closest column.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import ConfigError, first_line

_BACKTICKED = re.compile(r"`([^`]*)`")
_MANGLED = "BACKTICK_QUOTED_STRING_"
_EXAMPLES = 'e.g. "age >= 65", "title.str.len() < 20" or "`mean area` > 700"'


def evaluate(
    frame: pd.DataFrame,
    expression: str,
    where: str,
    *,
    unavailable: Mapping[str, str] | None = None,
) -> Any:
    """``frame.eval(expression)``: a Series of ``len(frame)`` values, or a scalar.

    ``unavailable`` maps columns of the data that ``frame`` leaves out to why (the target,
    an ignored column), so naming one gets that reason instead of "unknown column".

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
    expression : str
        A ``DataFrame.eval`` expression (python engine).
    where : str
        The config key the expression comes from, for the message.
    unavailable : mapping of str to str, optional

    Returns
    -------
    pandas.Series of length n_rows, or a scalar

    Raises
    ------
    loopml.errors.ConfigError
        Any error pandas raises, as one line naming ``where``, the expression and the
        bad column (with the closest column name).
    """
    try:
        return frame.eval(expression, engine="python")
    except Exception as exc:  # pandas raises many types for a bad expression
        reason = _reason(exc, expression, frame, unavailable or {})
        raise ConfigError(
            f"{where}: cannot evaluate {expression!r} on the data ({reason}); write a pandas "
            f"expression over the data columns, {_EXAMPLES}"
        ) from None


def mask(
    frame: pd.DataFrame,
    expression: str,
    where: str,
    *,
    unavailable: Mapping[str, str] | None = None,
) -> np.ndarray:
    """True/false per row of ``frame`` (missing counts as false); a ConfigError otherwise.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
    expression : str
    where : str
        The config key, for the message.
    unavailable : mapping of str to str, optional
        See ``evaluate``.

    Returns
    -------
    numpy.ndarray of bool, shape (n_rows,)

    Raises
    ------
    loopml.errors.ConfigError
        The expression does not evaluate (see ``evaluate``) or does not give a boolean
        per row.
    """
    result = evaluate(frame, expression, where, unavailable=unavailable)
    if not isinstance(result, pd.Series) or not (
        pd.api.types.is_bool_dtype(result) or _all_bool(result)
    ):
        raise ConfigError(
            f"{where}: {expression!r} does not give true/false per row; use a comparison, "
            'e.g. "age >= 65"'
        )
    return result.fillna(False).to_numpy(dtype=bool)


def _all_bool(values: pd.Series) -> bool:
    """An object Series of True/False/missing (a comparison on a column with gaps)."""
    present = values.dropna()
    return values.dtype == object and all(isinstance(v, bool | np.bool_) for v in present)


def _reason(
    exc: Exception, expression: str, frame: pd.DataFrame, unavailable: Mapping[str, str]
) -> str:
    if isinstance(exc, NameError):
        column = _unknown_name(exc, expression, frame)
        if column is not None:
            if column in unavailable:
                return f"column {column!r} {unavailable[column]}"
            close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"unknown column {column!r}{hint}"
    reason = first_line(exc)
    spaced = [str(c) for c in frame.columns if " " in str(c) and str(c) in expression]
    if isinstance(exc, SyntaxError) and any(f"`{c}`" not in expression for c in spaced):
        bare = next(c for c in spaced if f"`{c}`" not in expression)
        reason += f"; a name with spaces goes in backticks: `{bare}`"
    return reason


def _unknown_name(exc: NameError, expression: str, frame: pd.DataFrame) -> str | None:
    """The column name pandas could not find, as the user wrote it (backticks undone)."""
    match = re.search(r"name '([^']+)' is not defined", str(exc))
    if match is None:
        return None
    name = match.group(1)
    if not name.startswith(_MANGLED):
        return name
    quoted = [q for q in _BACKTICKED.findall(expression) if q not in frame.columns]
    return quoted[0] if quoted else name.removeprefix(_MANGLED)
