"""The model's input schema: request rows to feature columns, read through the data contract.

Built once per model (``InputSchema.for_model``) from its data contract. Every protocol
turns its body into ``Parsed``: one numpy array per feature column with each value read by
its column's ``ColumnRule.parse_value`` (the code that reads the training file,
``loopml predict`` and ``loopml.load_model(...).predict``), and the id columns as sent.
A value written as in the training file (``"15.250,00"``, ``"05/07/2023"``, ``"02134"``,
``"False"``) and the same value in plain JSON form (``15250.0``, ``"2023-07-05"``, ``false``)
read the same.

Columns the contract knows that the model does not score (ids, ignored columns, the
target) may come along, so a row exactly as written in the training file is accepted: id
values are kept to echo beside the predictions, the others are not read. Any other column
is refused, naming it and the known ones. A problem is a ``PredictionInputError`` naming
the row, the column and the value (the app turns it into a 4xx).

Arrays hold what ``ScoringModel.conform`` gives the pipeline: float64 numbers (NaN when
missing), datetime64[ns] dates (NaT), and objects for booleans (True/False/None) and
strings (None when missing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.core.data.contract import ColumnRule, DataContract
from loopml.core.scoring import ColumnSpec, ScoringModel, contract_from_roles
from loopml.errors import PredictionInputError

Columns = dict[str, np.ndarray]
Reader = Callable[[Any], Any]
_NAT = np.datetime64("NaT", "ns")


@dataclass(frozen=True)
class Parsed:
    """A request's rows: ``columns`` (feature -> array) and ``ids`` (id column -> the
    values as sent, None where a row has none; empty when the model has no id column)."""

    columns: Columns
    ids: dict[str, list[Any]]


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

    http_status = 413

    def __init__(self, rows: int, limit: int):
        super().__init__(f"{rows} rows in one request; send at most {limit} (limits.max_rows)")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class InputSchema:
    """Converts request rows to ``Parsed`` for one model.

    Parameters
    ----------
    columns : the model's feature columns, in the model's order.
    contract : the model's data contract (every column of the training file).
    max_rows : the most rows one request may hold.
    """

    def __init__(self, columns: list[ColumnSpec], contract: DataContract, max_rows: int):
        self.columns = columns
        self.contract = contract
        self.names = [c.name for c in columns]
        self.max_rows = max_rows
        by_role = contract_from_roles(columns, contract.target, [])  # a feature it lacks
        self.rules = {n: (contract if n in contract else by_role).rule(n) for n in self.names}
        self.ids = [r.name for r in contract.columns if r.role == "id" and r.name not in self.rules]
        # Every column a row may hold, in the training file's order.
        known = list(contract.names)
        known += [n for n in (*self.names, contract.target) if n and n not in known]
        self.known = known
        self._known = set(known)
        self._readers = [(name, self.rules[name].reader()) for name in self.names]
        self._kinds = {name: rule.kind for name, rule in self.rules.items()}
        self._numbers = [name for name in self.names if self._kinds[name] == "number"]
        self._position_cache: dict[tuple[str, ...], dict[str, int]] = {}

    @classmethod
    def for_model(cls, model: ScoringModel, max_rows: int) -> InputSchema:
        assert model.contract is not None  # ScoringModel fills it in
        return cls(model.columns, model.contract, max_rows)

    @property
    def dialect(self) -> dict[str, Any]:
        """How the training file was written (sep, decimal, thousands, encoding, quotechar)."""
        return dict(self.contract.dialect)

    def _limit(self, rows: int) -> None:
        if rows == 0:
            raise PredictionInputError("no rows to score; send at least one")
        if rows > self.max_rows:
            raise RowsTooMany(rows, self.max_rows)

    def _unknown(self, column: Any) -> str:
        shown = ", ".join(repr(n) for n in self.known[:12]) + (" …" if len(self.known) > 12 else "")
        return (
            f"unknown column {column!r}; the model knows: {shown} "
            "(remove the column or use one of these names)"
        )

    # --- rows as objects ---

    def from_records(self, records: Any) -> Parsed:
        """Rows as objects keyed by column name; every feature column required."""
        if not isinstance(records, list):
            raise PredictionInputError(f"expected a list of records, got {type(records).__name__}")
        self._limit(len(records))
        values: dict[str, list[Any]] = {name: [] for name in self.names}
        ids: dict[str, list[Any]] = {name: [] for name in self.ids}
        width = len(self.names)
        try:
            for i, record in enumerate(records):
                if not isinstance(record, dict):
                    raise PredictionInputError(
                        f"record {i} must be an object of column: value, got {_show(record)}"
                    )
                if len(record) != width or not all(name in record for name in self.names):
                    self._check_keys(i, record)
                for name, read in self._readers:
                    value = record[name]
                    try:
                        values[name].append(read(value))
                    except ValueError as exc:
                        raise self._bad(i, name, exc) from None
                for name in self.ids:
                    ids[name].append(record.get(name))
        except FieldError:
            # The fast path stops at the first problem; only a bad request pays for naming all.
            raise FieldErrors(self._every_problem(records)) from None
        return Parsed(self._arrays(values), ids)

    def _check_keys(self, i: int, record: dict[str, Any]) -> None:
        problems = self._key_problems(i, record)
        if problems:
            raise problems[0]

    def _key_problems(self, i: int, record: dict[str, Any]) -> list[FieldError]:
        problems = []
        missing = [n for n in self.names if n not in record]
        if missing:
            problems.append(
                FieldError(
                    f"record {i} is missing {len(missing)} column(s): "
                    f"{', '.join(repr(m) for m in missing[:5])}; send null for an unknown value",
                    i,
                    missing[0],
                )
            )
        for key in record:
            if key not in self._known:
                problems.append(FieldError(f"record {i}: {self._unknown(key)}", i, str(key)))
        return problems

    def _every_problem(self, records: list[Any]) -> list[FieldError]:
        problems: list[FieldError] = []
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                continue
            problems += self._key_problems(i, record)
            for name, read in self._readers:
                if name in record:
                    try:
                        read(record[name])
                    except ValueError as exc:
                        problems.append(self._bad(i, name, exc))
        return problems

    @staticmethod
    def _bad(row: int, name: str, exc: ValueError) -> FieldError:
        return FieldError(f"row {row}, column {name!r}: {exc}", row, name)

    # --- rows as lists, columns as lists ---

    def from_split(self, columns: Any, data: Any) -> Parsed:
        """Column names plus rows as lists (MLflow's dataframe_split, a CSV body)."""
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise PredictionInputError("'columns' must be a list of column names")
        if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
            raise PredictionInputError("'data' must be a list of rows, each a list of values")
        self._limit(len(data))
        position = self._positions(columns)
        for i, row in enumerate(data):
            if len(row) != len(columns):
                raise PredictionInputError(
                    f"row {i} has {len(row)} values for {len(columns)} columns"
                )
        values: dict[str, list[Any]] = {}
        for name, read in self._readers:
            at = position[name]
            try:
                values[name] = [read(row[at]) for row in data]
            except ValueError:
                raise self._first_bad(name, read, [row[at] for row in data]) from None
        ids = {
            name: [row[position[name]] for row in data] if name in position else [None] * len(data)
            for name in self.ids
        }
        return Parsed(self._arrays(values), ids)

    def _first_bad(self, name: str, read: Reader, items: list[Any]) -> FieldError:
        for i, value in enumerate(items):
            try:
                read(value)
            except ValueError as exc:
                return self._bad(i, name, exc)
        raise AssertionError("a value failed to read once and read the second time")

    def _positions(self, columns: Sequence[str]) -> dict[str, int]:
        """Where each known column is in ``columns``; the last few answers are kept, as
        clients send the same header with every request."""
        key = tuple(columns)
        found = self._position_cache.get(key)
        if found is None:
            found = self._check_positions(columns)
            if len(self._position_cache) >= 16:
                self._position_cache.clear()
            self._position_cache[key] = found
        return found

    def _check_positions(self, columns: Sequence[str]) -> dict[str, int]:
        position = {name: i for i, name in enumerate(columns)}
        missing = [n for n in self.names if n not in position]
        unknown = [name for name in columns if name not in self._known]
        problems = [self._unknown(unknown[0])] if unknown else []
        if missing:  # named first: a misspelt column is both
            problems.insert(
                0,
                f"missing {len(missing)} column(s): {', '.join(repr(m) for m in missing[:5])}; "
                "send null for an unknown value",
            )
        if problems:
            raise PredictionInputError("; ".join(problems))
        if len(position) < len(columns):
            twice = next(n for i, n in enumerate(columns) if n in columns[:i])
            raise PredictionInputError(f"column {twice!r} is given twice; send it once")
        return position

    def from_lists(self, data: Any) -> Parsed:
        """Rows as lists without names: the model's features in the model's order, or every
        column of the training file in the file's order (a row as written)."""
        if not isinstance(data, list) or not data or not isinstance(data[0], list):
            raise PredictionInputError("expected a list of rows, each a list of values")
        return self.from_split(self._order_for(len(data[0])), data)

    def _order_for(self, width: int) -> list[str]:
        if width == len(self.names):
            return list(self.names)
        if width == len(self.known):
            return list(self.known)
        raise PredictionInputError(
            f"a row of {width} values is neither the model's {len(self.names)} features "
            f"({', '.join(repr(n) for n in self.names[:8])}{' …' if len(self.names) > 8 else ''}"
            f", in this order) nor the training file's {len(self.known)} columns "
            f"({', '.join(repr(n) for n in self.known[:8])}{' …' if len(self.known) > 8 else ''})"
        )

    def from_mapping(self, mapping: Any) -> Parsed:
        """One list of values per column name (MLflow's ``inputs`` as a dict of columns)."""
        if not isinstance(mapping, dict):
            raise PredictionInputError("expected an object of column: list of values")
        lists = [v if isinstance(v, list) else [v] for v in mapping.values()]
        if len({len(v) for v in lists}) > 1:
            raise PredictionInputError("every column must have the same number of values")
        return self._from_columns(list(mapping), lists)

    def _from_columns(self, names: list[str], lists: list[list[Any]]) -> Parsed:
        position = self._positions(names)
        rows = len(lists[0]) if lists else 0
        self._limit(rows)
        values: dict[str, list[Any]] = {}
        for name, read in self._readers:
            items = []
            for i, value in enumerate(lists[position[name]]):
                try:
                    items.append(read(value))
                except ValueError as exc:
                    raise self._bad(i, name, exc) from None
            values[name] = items
        ids = {
            name: list(lists[position[name]]) if name in position else [None] * rows
            for name in self.ids
        }
        return Parsed(self._arrays(values), ids)

    def from_matrix(self, data: Sequence[Any], rows: int) -> Parsed:
        """A flat row-major list of rows × width values (one tensor, Open Inference): the
        model's features in order, or every column of the training file."""
        self._limit(rows)
        if len(data) % rows:
            raise PredictionInputError(f"{len(data)} values do not fill {rows} rows")
        width = len(data) // rows
        names = self._order_for(width)
        return self.from_split(
            names, [list(data[r * width : (r + 1) * width]) for r in range(rows)]
        )

    def _arrays(self, values: dict[str, list[Any]]) -> Columns:
        numbers: Columns = {}
        if self._numbers:  # one conversion for every number column (None becomes NaN)
            block = np.array([values[name] for name in self._numbers], dtype=np.float64)
            numbers = dict(zip(self._numbers, block, strict=True))
        columns: Columns = {}
        for name, items in values.items():
            kind = self._kinds[name]
            if kind == "number":
                columns[name] = numbers[name]
            elif kind == "datetime":
                columns[name] = np.array(
                    [_NAT if v is None else v.asm8 for v in items], dtype="datetime64[ns]"
                )
            else:
                array = np.empty(len(items), dtype=object)
                array[:] = items
                columns[name] = array
        return columns

    def missing_row(self) -> Columns:
        """One row with every feature missing (to warm an engine up)."""
        return self.from_records([dict.fromkeys(self.names)]).columns


def rows_of(columns: Columns) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def json_schema(schema: InputSchema) -> dict[str, Any]:
    """JSON schema of one record as the contract reads it, for the OpenAPI document."""
    properties: dict[str, Any] = {}
    for name in schema.known:
        if name in schema.rules:
            properties[name] = _value_schema(schema.rules[name])
        elif name in schema.ids:
            properties[name] = {"description": "id column: not scored, echoed with the prediction"}
        else:
            properties[name] = {"description": "known to the model but not scored; ignored"}
    return {
        "type": "object",
        "properties": properties,
        "required": list(schema.names),
        "additionalProperties": False,
    }


def _value_schema(rule: ColumnRule) -> dict[str, Any]:
    missing = "null, blank or a missing-value marker (NA, ?, -, …) when unknown"
    if rule.kind == "number":
        written = f"decimal {rule.decimal!r}" + (
            f", thousands {rule.thousands!r}" if rule.thousands else ""
        )
        return {
            "type": ["number", "string", "null"],
            "description": f"a number, or text as in the training file ({written}); {missing}",
        }
    if rule.kind == "boolean":
        words = sorted({"true", "false", *rule.true_words, *rule.false_words})
        return {
            "anyOf": [
                {"type": "boolean"},
                {"type": "integer", "enum": [0, 1]},
                {"type": "string"},
                {"type": "null"},
            ],
            "description": f"true/false, 1/0 or {'/'.join(words)} in any case; {missing}",
        }
    if rule.kind == "datetime":
        written = f"{rule.date_format} (as in the training file) or " if rule.date_format else ""
        return {
            "type": ["string", "null"],
            "description": f"a date as {written}ISO 8601 (2023-07-05); {missing}",
        }
    return {
        "type": ["string", "number", "boolean", "null"],
        "description": f"text (numbers and booleans are read as their text); {missing}",
    }
