"""The model's input schema, compiled once at load time into straight column conversion.

Every protocol turns its body into ``Columns``: one numpy array per feature column, values
checked against the column's role. A problem is a ``PredictionInputError`` naming the
row, the column and the value (the app turns it into a 4xx).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from loopml.core.scoring import ColumnSpec
from loopml.errors import PredictionInputError

Columns = dict[str, np.ndarray]
MAX_MAGNITUDE = 1e300  # beyond this a number is treated as an error, not a value


class FieldError(PredictionInputError):
    """A problem with one value or column of one row; ``location`` is (row, column)."""

    def __init__(self, message: str, row: int, column: str):
        super().__init__(message)
        self.location = (row, column)


class FieldErrors(PredictionInputError):
    """Every problem in a request's records, so one 422 names each bad field."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = errors


class RowsTooMany(PredictionInputError):
    """More rows than ``limits.max_rows`` (HTTP 413)."""

    def __init__(self, rows: int, limit: int):
        super().__init__(f"{rows} rows in one request; send at most {limit} (limits.max_rows)")


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number or null, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"number {_show(value)} is too large") from None
    if math.isnan(number):
        return None
    if not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
        raise ValueError(f"number {_show(value)} is too large")
    return number


def _category(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else _number(value)
    raise ValueError(f"must be a string, number, boolean or null, got {_show(value)}")


def _string(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"must be a string or null, got {_show(value)}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "numeric": _number,
    "categorical": _category,
    "text": _string,
    "datetime": _string,
}


class InputSchema:
    """Converts request rows to ``Columns`` for one model's feature columns."""

    def __init__(self, columns: list[ColumnSpec], max_rows: int, id_columns: tuple[str, ...] = ()):
        self.columns = columns
        self.names = [c.name for c in columns]
        self.max_rows = max_rows
        self._known = set(self.names) | set(id_columns)  # ids may come along; they are ignored
        self._checks = [(c.name, _CHECKS[c.role]) for c in columns]
        self._dtypes = {c.name: np.float64 if c.role == "numeric" else object for c in columns}

    def _limit(self, rows: int) -> None:
        if rows == 0:
            raise PredictionInputError("no rows to score; send at least one")
        if rows > self.max_rows:
            raise RowsTooMany(rows, self.max_rows)

    def from_records(self, records: Any, *, allow_extra: bool = False) -> Columns:
        """Rows as objects keyed by column name; every feature column required."""
        if not isinstance(records, list):
            raise PredictionInputError(f"expected a list of records, got {type(records).__name__}")
        self._limit(len(records))
        values: dict[str, list[Any]] = {name: [] for name in self.names}
        try:
            for i, record in enumerate(records):
                if not isinstance(record, dict):
                    raise PredictionInputError(
                        f"record {i} must be an object of column: value, got {_show(record)}"
                    )
                self._check_keys(i, record, allow_extra)
                for name, check in self._checks:
                    values[name].append(self._checked(i, name, record[name], check))
        except FieldError:
            # The fast path stops at the first problem; only a bad request pays for naming all.
            raise FieldErrors(self._every_problem(records, allow_extra)) from None
        return self._arrays(values)

    def _every_problem(self, records: list[Any], allow_extra: bool) -> list[FieldError]:
        problems: list[FieldError] = []
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                continue
            missing = [name for name in self.names if name not in record]
            if missing:
                problems.append(
                    FieldError(
                        f"record {i} is missing {len(missing)} column(s): "
                        f"{', '.join(repr(m) for m in missing[:5])}; "
                        "send null for an unknown value",
                        i,
                        missing[0],
                    )
                )
            for key in record:
                if key not in self._known and not allow_extra:
                    problems.append(
                        FieldError(f"record {i} has unknown column {key!r}", i, str(key))
                    )
            for name, check in self._checks:
                if name in record:
                    try:
                        self._checked(i, name, record[name], check)
                    except FieldError as exc:
                        problems.append(exc)
        return problems

    def _check_keys(self, i: int, record: dict[str, Any], allow_extra: bool) -> None:
        if len(record) == len(self.names) and all(name in record for name in self.names):
            return
        missing = [n for n in self.names if n not in record]
        if missing:
            raise FieldError(
                f"record {i} is missing {len(missing)} column(s): "
                f"{', '.join(repr(m) for m in missing[:5])}; send null for an unknown value",
                i,
                missing[0],
            )
        extra = [k for k in record if k not in self._known]
        if extra and not allow_extra:
            raise FieldError(
                f"record {i} has unknown column {extra[0]!r}; the model takes: "
                f"{', '.join(repr(n) for n in self.names[:10])}"
                + (" …" if len(self.names) > 10 else ""),
                i,
                str(extra[0]),
            )

    def from_split(self, columns: Any, data: Any) -> Columns:
        """Column names plus rows as lists (MLflow's dataframe_split, CSV)."""
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise PredictionInputError("'columns' must be a list of column names")
        if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
            raise PredictionInputError("'data' must be a list of rows, each a list of values")
        self._limit(len(data))
        position = {name: i for i, name in enumerate(columns)}
        missing = [n for n in self.names if n not in position]
        if missing:
            raise PredictionInputError(
                f"missing {len(missing)} column(s): {', '.join(repr(m) for m in missing[:5])}"
            )
        for i, row in enumerate(data):
            if len(row) != len(columns):
                raise PredictionInputError(
                    f"row {i} has {len(row)} values for {len(columns)} columns"
                )
        values = {
            name: [self._checked(i, name, row[position[name]], check) for i, row in enumerate(data)]
            for name, check in self._checks
        }
        return self._arrays(values)

    def from_mapping(self, mapping: Any) -> Columns:
        """One list of values per column name (MLflow's ``inputs`` as a dict of columns)."""
        if not isinstance(mapping, dict):
            raise PredictionInputError("expected an object of column: list of values")
        missing = [n for n in self.names if n not in mapping]
        if missing:
            raise PredictionInputError(
                f"missing {len(missing)} column(s): {', '.join(repr(m) for m in missing[:5])}"
            )
        lengths = {len(v) if isinstance(v, list) else 1 for v in mapping.values()}
        if len(lengths) != 1:
            raise PredictionInputError("every column must have the same number of values")
        rows = lengths.pop()
        self._limit(rows)
        values = {
            name: [
                self._checked(i, name, v, check)
                for i, v in enumerate(
                    mapping[name] if isinstance(mapping[name], list) else [mapping[name]]
                )
            ]
            for name, check in self._checks
        }
        return self._arrays(values)

    def from_matrix(self, data: Sequence[Any], rows: int) -> Columns:
        """A flat row-major list of rows × features values (one tensor, Open Inference)."""
        width = len(self.names)
        if len(data) != rows * width:
            raise PredictionInputError(
                f"{len(data)} values do not fill {rows} rows of {width} features"
            )
        self._limit(rows)
        values = {
            name: [self._checked(r, name, data[r * width + j], check) for r in range(rows)]
            for j, (name, check) in enumerate(self._checks)
        }
        return self._arrays(values)

    @staticmethod
    def _checked(row: int, name: str, value: Any, check: Callable[[Any], Any]) -> Any:
        try:
            return check(value)
        except ValueError as exc:
            raise FieldError(f"row {row}, column {name!r}: {exc}", row, name) from None

    def _arrays(self, values: dict[str, list[Any]]) -> Columns:
        columns: Columns = {}
        for name, items in values.items():
            dtype = self._dtypes[name]
            if dtype is np.float64:
                columns[name] = np.array(
                    [np.nan if v is None else v for v in items], dtype=np.float64
                )
            else:
                array = np.empty(len(items), dtype=object)
                array[:] = items
                columns[name] = array
        return columns


def rows_of(columns: Columns) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def json_schema(columns: list[ColumnSpec]) -> dict[str, Any]:
    """JSON schema of one record, for the OpenAPI document."""
    types: dict[str, Any] = {
        "numeric": {"type": ["number", "null"]},
        "categorical": {"type": ["string", "number", "boolean", "null"]},
        "text": {"type": ["string", "null"]},
        "datetime": {"type": ["string", "null"]},
    }
    return {
        "type": "object",
        "properties": {c.name: types[c.role] for c in columns},
        "required": [c.name for c in columns],
        "additionalProperties": False,
    }
