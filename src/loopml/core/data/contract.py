"""The data contract: how each column's raw values become model inputs.

Learned once, from the training file as written (``learn``), stored with the model as
``data_contract.json``, and applied by the same code wherever a value reaches the model:
training, ``loopml predict`` (local and Ray), every HTTP protocol, ``loopml.load_model``,
plain ``mlflow.pyfunc.load_model``, monitoring and feedback.

One ``ColumnRule`` per column of the training file says how a value is read:

- ``number``: a number as written in the file (decimal mark and thousands separator of the
  file, e.g. ``"15.250,00"``) or in plain machine form (``15250.0``, ``"15250.0"``);
- ``boolean``: ``true``/``false`` in any case, the file's own words (e.g. ``yes``/``no``),
  ``1``/``0`` and JSON booleans;
- ``datetime``: the training file's format (day-first or month-first decided from the data,
  or ``data.columns.datetime: {column: format}``) or ISO 8601;
- ``string``: text as written, surrounding white space removed; numbers and booleans are
  spelled as categories (``1``, ``1.0`` and ``"1"`` are one category). Codes with leading
  zeros (ZIP codes, product codes) are strings, never numbers.

The cells ``?``, ``-``, ``NA``, ``N/A``, ``#N/A``, ``NULL``, ``None``, ``nan``, blank and white
space (any case) are missing in every kind. Anything else that does not read as the column's
kind is an error naming the row, the column and the value (``DataContractError``: HTTP 422,
or one line and exit 1).

``parse_value`` reads one value (the serving path); ``DataContract.apply`` reads a frame by
calling the same ``parse_value`` once per distinct value, with a vectorised path only for
columns whose values are already typed (Parquet numbers, booleans, dates).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from loopml.errors import DataContractError

Kind = Literal["number", "boolean", "datetime", "string"]
CONTRACT_VERSION = 1
CONTRACT_FILE = "data_contract.json"  # beside the model in its MLflow artifact folder
MISSING_MARKERS = frozenset({"", "?", "-", "na", "n/a", "#n/a", "null", "none", "nan"})
TRUE_WORDS = frozenset({"true", "1"})
FALSE_WORDS = frozenset({"false", "0"})
# Pairs of words a file may use for a boolean column (lower case): true word, false word.
_BOOLEAN_PAIRS = (("true", "false"), ("yes", "no"), ("y", "n"), ("t", "f"), ("sí", "no"))
# Date formats tried in this order when a column is learned; ISO 8601 is always accepted.
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d.%m.%Y",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d/%m/%y",
    "%m/%d/%y",
)
_DAY_FIRST = {"%d/%m/%Y": "%m/%d/%Y", "%d-%m-%Y": "%m-%d-%Y", "%d/%m/%y": "%m/%d/%y"}
_DAY_FIRST |= {"%d/%m/%Y %H:%M": "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S": "%m/%d/%Y %H:%M:%S"}
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_LEADING_ZERO = re.compile(r"^[+-]?0\d")
_DATE_LIKE = re.compile(r"\d{4}|\d{1,2}[/.-]\d{1,2}")
_LEARN_SAMPLE = 5_000
MAX_MAGNITUDE = 1e300
# Dates are datetime64[ns] in the model's frame; outside this range they would wrap around.
_FIRST_MOMENT, _LAST_MOMENT = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT, pd.NA and the missing-value markers (any case, stripped).

    Parameters
    ----------
    value : Any
        One raw value; strings are compared with ``MISSING_MARKERS`` after stripping and
        lower-casing.

    Returns
    -------
    bool
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    if isinstance(value, str):
        return value.strip().lower() in MISSING_MARKERS
    return False


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class ColumnRule:
    """How the raw values of one column are read. Build it with ``learn``.

    Attributes
    ----------
    name : the column name, as written in the file.
    kind : ``number``, ``boolean``, ``datetime`` or ``string``.
    role : ``numeric``, ``categorical``, ``text``, ``datetime``, ``id``, ``ignore`` or
        ``target`` (what the column is to the model; set after role inference).
    decimal, thousands : the file's decimal mark and thousands separator (numbers).
    date_format : the file's ``strptime`` format (dates); ISO 8601 is accepted too.
    true_words, false_words : the file's spellings of a boolean (lower case).
    integer : every training value was a whole number (the target keeps integer labels).
    code : numbers with leading zeros (ZIP codes), kept as text categories.
    affix : a sign written with every number (``%``, ``$``, ``€``, ``£``), dropped when read:
        ``"12,5%"`` reads as 12.5.
    warning : what the user should check about the kind (e.g. text that is mostly numbers).
    missing : the missing-value markers found at training, other than blank, with counts.
    missing_share : share of the training rows with no value, in [0, 1].
    why : how the kind was decided, for the report and ``loopml init``.
    """

    name: str
    kind: Kind
    role: str = ""
    decimal: str = "."
    thousands: str = ""
    date_format: str | None = None
    true_words: tuple[str, ...] = ()
    false_words: tuple[str, ...] = ()
    integer: bool = False
    code: bool = False
    affix: str = ""
    warning: str = ""
    missing: dict[str, int] = field(default_factory=dict)
    missing_share: float = 0.0
    why: str = ""

    # --- one value ---

    def parse_value(self, value: Any) -> Any:
        """One raw value as the model reads it; None when missing.

        Parameters
        ----------
        value : Any
            A raw value: text as written in a file, or a JSON / Python number, boolean or date.

        Returns
        -------
        float, bool, pandas.Timestamp, str or None
            A float (number), a bool (boolean), a naive ``pd.Timestamp`` (datetime) or a str
            (string); None for a missing value (``is_missing``).

        Raises
        ------
        ValueError
            What was expected and the bad value (the caller adds the row and the column).
        """
        if is_missing(value):
            return None
        if self.kind == "number":
            return self._number(value)
        if self.kind == "boolean":
            return self._boolean(value)
        if self.kind == "datetime":
            return self._moment(value)
        return self._string(value)

    def reader(self) -> Callable[[Any], Any]:
        """``parse_value``, with shortcuts that give the same answer for a number column's
        commonest values (the serving path reads every value of every request): a finite
        JSON float is returned as it is, and text in plain machine form (``"12.5"``,
        ``"-3e2"``) is read with ``float`` when the column has no thousands separator or
        affix to remove (so ``parse_value`` would read the same text the same way).

        Returns
        -------
        callable (Any) -> Any
            Reads one raw value as ``parse_value`` does (``parse_value`` itself for other
            kinds); raises ``ValueError`` as it does.
        """
        parse = self.parse_value
        if self.kind != "number":
            return parse
        plain = (not self.thousands and not self.affix) and _PLAIN_NUMBER.match

        def read(value: Any) -> Any:
            kind = type(value)
            if kind is float and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
                return value  # NaN and infinities fail the comparison and go to parse_value
            if plain and kind is str and plain(value):
                number = float(value)
                if -MAX_MAGNITUDE <= number <= MAX_MAGNITUDE:
                    return number
            return parse(value)

        return read

    def _number(self, value: Any) -> float:
        if isinstance(value, bool | np.bool_):
            raise ValueError(f"expected a number, got {_show(value)}")
        if isinstance(value, int | float | np.integer | np.floating):
            try:
                number = float(value)
            except OverflowError:
                raise ValueError(f"number {_show(value)} is too large") from None
        elif isinstance(value, str):
            number = self._number_from_text(value.strip())
        else:
            raise ValueError(f"expected a number, got {_show(value)}")
        if not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
            raise ValueError(f"number {_show(value)} is not finite or too large")
        return number

    def _number_from_text(self, text: str) -> float:
        if self.affix:
            text = _without_affix(text, self.affix)
        written = text
        if self.thousands and self.thousands in written:
            if _grouped(written, self.thousands, self.decimal):
                written = written.replace(self.thousands, "")
            else:
                written = "\x00"  # not the file's grouping: only the plain form can match
        if self.decimal != "." and self.decimal in written:
            written = written.replace(self.decimal, ".", 1)
        for candidate in (written, text):
            if _PLAIN_NUMBER.match(candidate):
                return float(candidate)
        how = f"decimal {self.decimal!r}" + (
            f", thousands {self.thousands!r}" if self.thousands else ""
        )
        raise ValueError(f"expected a number ({how}), got {_show(text)}")

    def _boolean(self, value: Any) -> bool:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS or word in self.true_words:
                return True
            if word in FALSE_WORDS or word in self.false_words:
                return False
        spellings = sorted({"true", "false", "1", "0", *self.true_words, *self.false_words})
        raise ValueError(f"expected a boolean ({'/'.join(spellings)}), got {_show(value)}")

    def _moment(self, value: Any) -> pd.Timestamp:
        moment = self._moment_any(value)
        if moment is not pd.NaT and not _FIRST_MOMENT <= moment <= _LAST_MOMENT:
            raise ValueError(
                f"date {_show(value)} is outside the dates a model reads "
                f"({_FIRST_MOMENT:%Y-%m-%d} to {_LAST_MOMENT:%Y-%m-%d})"
            )
        return moment

    def _moment_any(self, value: Any) -> pd.Timestamp:
        if isinstance(value, datetime | np.datetime64):
            return _naive(pd.Timestamp(value))
        if isinstance(value, str):
            text = value.strip()
            if self.date_format:
                try:
                    return pd.Timestamp(datetime.strptime(text, self.date_format))
                except ValueError:
                    pass
            try:
                return _naive(pd.Timestamp(datetime.fromisoformat(text)))
            except ValueError:
                pass
        written = f"{self.date_format} or " if self.date_format else ""
        raise ValueError(
            f"expected a date ({written}ISO 8601 such as 2023-07-05), got {_show(value)}"
        )

    def _string(self, value: Any) -> str:
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, bool | np.bool_):
            return str(bool(value))
        if isinstance(value, int | float | np.integer | np.floating):
            return str(int(value)) if float(value).is_integer() else str(value)
        raise ValueError(f"expected a string, number or boolean, got {_show(value)}")

    def reads(self, value: Any) -> bool:
        """True when ``parse_value`` reads ``value`` (missing included), False when it refuses.

        Parameters
        ----------
        value : Any

        Returns
        -------
        bool
        """
        try:
            self.parse_value(value)
        except ValueError:
            return False
        return True

    def role_hint(self) -> tuple[str, str] | None:
        """The role the kind implies, with why, where it decides one (booleans, dates, codes).

        Returns
        -------
        tuple of (str, str) or None
            ("categorical", why) for booleans and codes, ("datetime", why) for dates, None
            otherwise.
        """
        if self.kind == "boolean":
            return "categorical", self.why
        if self.kind == "datetime":
            return "datetime", self.why
        if self.code:
            return "categorical", self.why
        return None

    # --- a column ---

    def parse_series(self, series: pd.Series) -> tuple[pd.Series, int | None, str]:
        """The column typed as the model reads it, and the first bad position and problem.

        Numbers become float64 (int64 for an integer column with no gaps), booleans bool
        (object with None where values are missing), dates datetime64[ns], strings object.

        Parameters
        ----------
        series : pandas.Series, shape (n_rows,)
            Raw values (text cells) or typed ones (Parquet, JSON).

        Returns
        -------
        typed : pandas.Series
            Same index and name; ``series`` itself when a value does not read.
        position : int or None
            0-based position of the first value that does not read; None when all read.
        problem : str
            What was expected and the bad value; "" when all read.
        """
        typed = self._typed_fast(series)
        if typed is not None:
            return typed, None, ""
        values = series.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            parsed, bad, problem = self._parse_many(uniques)
            if bad is not None:
                return series, int(np.flatnonzero(codes == bad)[0]), problem
            out = np.empty(len(values), dtype=object)
            out[:] = None
            present = codes >= 0
            out[present] = np.asarray(parsed, dtype=object)[codes[present]]
        else:  # mixed Python types (JSON lines): 1, 1.0 and True must not be merged
            out_list, bad, problem = self._parse_many(values)
            if bad is not None:
                return series, bad, problem
            out = np.empty(len(values), dtype=object)
            out[:] = out_list
        typed = pd.Series(out, index=series.index, name=series.name, dtype=object)
        return self._finish(typed), None, ""

    def _parse_many(self, values: Iterable[Any]) -> tuple[list[Any], int | None, str]:
        parsed = []
        for i, value in enumerate(values):
            try:
                parsed.append(self.parse_value(value))
            except ValueError as exc:
                return parsed, i, str(exc)
        return parsed, None, ""

    def _typed_fast(self, series: pd.Series) -> pd.Series | None:
        dtype = series.dtype
        if self.kind == "number" and pd.api.types.is_numeric_dtype(dtype):
            if pd.api.types.is_bool_dtype(dtype):
                return None
            if self.integer and pd.api.types.is_integer_dtype(dtype) and not series.hasnans:
                return series.astype("int64")  # whole, no gaps: as _finish gives
            numbers = series.astype("float64")
            magnitude = np.abs(numbers.to_numpy())
            if (magnitude[~np.isnan(magnitude)] > MAX_MAGNITUDE).any():
                return None  # the per-value path names the bad one
            return self._finish(numbers) if self.integer else numbers
        if self.kind == "datetime" and pd.api.types.is_datetime64_any_dtype(dtype):
            moments = series
            if getattr(dtype, "tz", None) is not None:
                moments = series.dt.tz_convert("UTC").dt.tz_localize(None)
            return moments.astype("datetime64[ns]")
        if self.kind == "boolean" and pd.api.types.is_bool_dtype(dtype) and series.notna().all():
            return series.astype(bool)
        return None

    def _finish(self, typed: pd.Series) -> pd.Series:
        if self.kind == "number":
            numbers = pd.to_numeric(typed, errors="raise").astype("float64")
            values = numbers.to_numpy()
            whole = self.integer and not np.isnan(values).any() and (values % 1 == 0).all()
            return numbers.astype("int64") if whole else numbers
        if self.kind == "datetime":
            return pd.to_datetime(typed).astype("datetime64[ns]")
        if self.kind == "boolean" and typed.notna().all():
            return typed.astype(bool)
        return typed

    def as_dict(self) -> dict[str, Any]:
        """The rule as plain JSON values (stored in ``data_contract.json``).

        Returns
        -------
        dict of str to Any
        """
        data = asdict(self)
        data["true_words"] = list(self.true_words)
        data["false_words"] = list(self.false_words)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnRule:
        """The rule stored by ``as_dict``.

        Parameters
        ----------
        data : mapping of str to Any

        Returns
        -------
        ColumnRule

        Raises
        ------
        TypeError
            ``data`` lacks ``name`` or ``kind``, or has a key that is not a field.
        """
        fields = dict(data)
        fields["true_words"] = tuple(fields.get("true_words", ()))
        fields["false_words"] = tuple(fields.get("false_words", ()))
        return cls(**fields)


def _without_affix(text: str, affix: str) -> str:
    if text.endswith(affix):
        return text[: -len(affix)].rstrip()
    if text.startswith(affix):
        return text[len(affix) :].lstrip()
    if text[:1] in "+-" and text[1:].startswith(affix):
        return text[0] + text[1 + len(affix) :].lstrip()
    return text


def _grouped(text: str, thousands: str, decimal: str) -> bool:
    """``1.234.567,8`` is grouped by thousands; ``9.48``, ``12.3456`` and ``15,250.00``
    (the separator after the decimal mark) are not."""
    parts = text.lstrip("+-").split(decimal) if decimal != thousands else [text]
    if any(thousands in part for part in parts[1:]):
        return False
    groups = parts[0].split(thousands)
    return (
        1 <= len(groups[0]) <= 3
        and groups[0].isdigit()
        and all(len(g) == 3 and g.isdigit() for g in groups[1:])
    )


def _naive(moment: pd.Timestamp) -> pd.Timestamp:
    """Aware times in UTC without the zone, so a column never mixes aware and naive."""
    return moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo is not None else moment


@dataclass(frozen=True)
class DataContract:
    """Every column of the training data with the rule that reads it.

    ``columns`` is in the order of the training file and includes the target (role
    ``target``), ids and ignored columns: a row sent exactly as written in the file is
    understood. ``dialect`` records how the file was written (sep, decimal, thousands,
    encoding) for the report.

    Parameters
    ----------
    target : str
        The target column.
    columns : tuple of ColumnRule
        One per column of the training file, in file order.
    dialect : dict of str to Any, default {}
        ``CsvDialect.as_dict()`` of the training file (empty for other sources).
    version : int, default CONTRACT_VERSION
        Version of the stored layout.
    """

    target: str
    columns: tuple[ColumnRule, ...]
    dialect: dict[str, Any] = field(default_factory=dict)
    version: int = CONTRACT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {rule.name: rule for rule in self.columns})

    def rule(self, name: str) -> ColumnRule:
        """The rule of one column; ``KeyError`` when the column is unknown to the model.

        Parameters
        ----------
        name : str

        Returns
        -------
        ColumnRule

        Raises
        ------
        KeyError
        """
        return self._by_name[name]  # type: ignore[attr-defined]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name  # type: ignore[attr-defined]

    @property
    def names(self) -> tuple[str, ...]:
        """Every column's name, in the order of the training file."""
        return tuple(rule.name for rule in self.columns)

    def with_roles(self, roles: Mapping[str, str]) -> DataContract:
        """The contract with each column's role (``roles``: column -> role) filled in.

        Parameters
        ----------
        roles : mapping of str to str
            Column to role; the target gets "target", a column not in ``roles`` "ignore".

        Returns
        -------
        DataContract
            A copy; ``self`` is unchanged.
        """
        columns = tuple(
            replace(
                rule, role="target" if rule.name == self.target else roles.get(rule.name, "ignore")
            )
            for rule in self.columns
        )
        return replace(self, columns=columns)

    def apply(
        self,
        frame: pd.DataFrame,
        columns: Iterable[str] | None = None,
        *,
        source: str = "",
        first_row: int | None = 1,
        fix: str | None = None,
    ) -> pd.DataFrame:
        """``frame`` with ``columns`` (default: every column the contract and frame share)
        read by their rules; other columns are left as they are.

        Parameters
        ----------
        frame : pandas.DataFrame, shape (n_rows, n_columns)
            Rows as written (text cells) or typed.
        columns : iterable of str, optional
            Columns to read; those the contract does not know are skipped.
        source : str, default ""
            The file the rows come from, prefixed to the error message.
        first_row : int or None, default 1
            The number of the frame's first row; None when it is not known (e.g. a block read
            by Ray: the value names the row).
        fix : str, optional
            What to tell the user to send instead; by default one sentence per kind.

        Returns
        -------
        pandas.DataFrame, shape (n_rows, n_columns)
            Same index and columns; the read columns typed as ``ColumnRule.parse_series`` types
            them. ``frame`` itself when no column is read.

        Raises
        ------
        loopml.errors.DataContractError
            The first value that does not read, naming the row, the column, the value and the
            fix.
        """
        names = [c for c in (columns if columns is not None else frame.columns) if c in self]
        typed = {}
        for name in names:
            rule = self.rule(name)
            values, bad, problem = rule.parse_series(frame[name])
            if bad is not None:
                where = f"{source}: " if source else ""
                row = "a row" if first_row is None else f"row {first_row + bad}"
                raise DataContractError(
                    f"{where}{row}, column {name!r}: {problem}; {fix or _fix(rule)}"
                )
            typed[name] = values
        if not typed:
            return frame
        if len(typed) == frame.shape[1] and list(typed) == list(frame.columns):
            return pd.DataFrame(typed, index=frame.index, copy=False)  # assembled once
        out = frame.copy(deep=False)
        for name, values in typed.items():
            out[name] = values.set_axis(frame.index)
        return out

    def warnings(self) -> list[str]:
        """One line per column where missing-value markers were read as missing, and one
        per column whose kind the user should check.

        Returns
        -------
        list of str
        """
        lines = [rule.warning for rule in self.columns if rule.warning]
        for rule in self.columns:
            if rule.missing:
                found = ", ".join(f"{m!r} ×{n}" for m, n in rule.missing.items())
                lines.append(
                    f"column {rule.name!r}: read {found} as missing values"
                    + (" (the column stays numeric)" if rule.kind == "number" else "")
                )
        return lines

    def as_dict(self) -> dict[str, Any]:
        """The contract as plain JSON values (``data_contract.json``).

        Returns
        -------
        dict of str to Any
            ``version``, ``target``, ``dialect`` and ``columns`` (each ``ColumnRule.as_dict``).
        """
        return {
            "version": self.version,
            "target": self.target,
            "dialect": dict(self.dialect),
            "columns": [rule.as_dict() for rule in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataContract:
        """The contract stored by ``as_dict``.

        Parameters
        ----------
        data : mapping of str to Any
            Needs ``target`` and ``columns``; ``dialect`` and ``version`` are optional.

        Returns
        -------
        DataContract

        Raises
        ------
        KeyError
            ``target`` or ``columns`` is missing.
        """
        return cls(
            target=data["target"],
            columns=tuple(ColumnRule.from_dict(c) for c in data["columns"]),
            dialect=dict(data.get("dialect", {})),
            version=int(data.get("version", CONTRACT_VERSION)),
        )


def _fix(rule: ColumnRule) -> str:
    if rule.kind == "number":
        return "send a number or leave it empty"
    if rule.kind == "boolean":
        return "send true or false or leave it empty"
    if rule.kind == "datetime":
        return f"send a date as {rule.date_format or 'ISO 8601'} or ISO 8601, or leave it empty"
    return "send a string or leave it empty"


# --- learning ---


def learn(
    frame: pd.DataFrame,
    *,
    target: str,
    declared: Mapping[str, str] | None = None,
    date_formats: Mapping[str, str] | None = None,
    decimal: str = ".",
    thousands: str = "",
    dialect: Mapping[str, Any] | None = None,
    like: DataContract | None = None,
) -> DataContract:
    """Learn one rule per column from the data as read (CSV cells as text, or typed).

    A declared kind is not checked here: ``DataContract.apply`` on the same frame raises
    for the first value that does not read. A boolean-looking target read from text stays
    a string column (labels as written).

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The training data as read.
    target : str
        The target column.
    declared : mapping of str to str, optional
        Column -> role from ``data.columns`` (a declared role decides the kind:
        ``numeric`` reads numbers, ``datetime`` dates, the others strings, booleans kept).
    date_formats : mapping of str to str, optional
        Column -> ``strptime`` format from ``data.columns.datetime``.
    decimal, thousands : str, default "." and ""
        The file's decimal mark and thousands separator.
    dialect : mapping of str to Any, optional
        How the file is written (``CsvDialect.as_dict()``), stored in the contract.
    like : DataContract, optional
        An earlier contract (e.g. the champion's, when retraining on a typed snapshot):
        for a column of the same kind, its reading rules are kept (decimal mark, thousands
        separator, date format, boolean words, sign), so the new model reads values as
        the old one did.

    Returns
    -------
    DataContract
        One rule per column of ``frame``, in order, with the missing-value markers found;
        roles are left empty (see ``DataContract.with_roles``).
    """
    declared = declared or {}
    date_formats = date_formats or {}
    rules = []
    for name in frame.columns:
        series = frame[name]
        rule = _learn_column(
            str(name), series, declared.get(name), date_formats.get(name), decimal, thousands
        )
        if name == target and rule.kind == "boolean" and not pd.api.types.is_bool_dtype(series):
            rule = replace(rule, kind="string", why="labels as written")  # 'sí' stays 'sí'
        if like is not None and name in like and like.rule(name).kind == rule.kind:
            rule = _read_like(rule, like.rule(name))
        rules.append(_with_missing(rule, series))
    return DataContract(target=target, columns=tuple(rules), dialect=dict(dialect or {}))


def _read_like(rule: ColumnRule, earlier: ColumnRule) -> ColumnRule:
    return replace(
        rule,
        decimal=earlier.decimal,
        thousands=earlier.thousands,
        date_format=earlier.date_format or rule.date_format,
        true_words=earlier.true_words or rule.true_words,
        false_words=earlier.false_words or rule.false_words,
        affix=earlier.affix or rule.affix,
    )


def _learn_column(
    name: str,
    series: pd.Series,
    declared: str | None,
    date_format: str | None,
    decimal: str,
    thousands: str,
) -> ColumnRule:
    base = ColumnRule(name=name, kind="string", decimal=decimal, thousands=thousands)
    if date_format or declared == "datetime":
        return _as_dates(base, series, date_format, declared=True) or replace(
            base, kind="datetime", date_format=date_format, why="declared datetime"
        )
    found = _infer(base, series)
    if declared == "numeric":
        return replace(found, kind="number", why="declared numeric")
    if declared is not None and found.kind in ("number", "datetime"):
        return replace(base, why=f"declared {declared}")
    return found


def _infer(base: ColumnRule, series: pd.Series) -> ColumnRule:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return replace(base, kind="boolean", why="true/false values")
    if pd.api.types.is_numeric_dtype(dtype):
        values = series.dropna().to_numpy(dtype="float64")
        whole = bool(len(values)) and bool((values % 1 == 0).all())
        return replace(base, kind="number", integer=whole, why="numbers")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return replace(base, kind="datetime", why="dates")
    present = [v for v in series.to_numpy(dtype=object) if not is_missing(v)]
    if not present:
        return replace(base, why="no values")
    if not all(isinstance(v, str) for v in present):
        return _infer_mixed(base, present)
    texts = pd.Series(present, dtype=object).str.strip()
    distinct = texts.drop_duplicates()
    return (
        _as_boolean(base, distinct)
        or _as_numbers(base, distinct)
        or _as_dates(base, distinct, None)
        or _as_text(base, distinct)
    )


def _as_text(base: ColumnRule, distinct: pd.Series) -> ColumnRule:
    """Text; with a warning when most values are numbers, so a few odd cells do not turn
    a numeric column into categories without a word."""
    reader = replace(base, kind="number")
    bad = [v for v in distinct if not _reads(reader, v)]
    share = 1 - len(bad) / len(distinct)
    if len(distinct) < 5:
        return replace(base, why="text")
    if share < 0.8:
        if distinct.str.fullmatch(_NUMBER_LIKE).mean() < 0.8:
            return replace(base, why="text")
        how = f"decimal {base.decimal!r}, thousands {base.thousands or 'none'!r}"
        warning = (
            f"column {base.name!r} looks like numbers (e.g. {bad[0]!r}) but does not read as "
            f"numbers with {how}, so it is read as text categories; set data.csv.decimal and "
            "data.csv.thousands, or clean the column"
        )
        return replace(base, why="text (looks like numbers)", warning=warning)
    warning = (
        f"column {base.name!r}: {share:.0%} of its distinct values are numbers but "
        f"{len(bad)} are not (e.g. {bad[0]!r}), so it is read as text categories; clean those "
        "values, or declare it in data.columns.numeric to have each one refused"
    )
    return replace(base, why=f"text ({share:.0%} numbers)", warning=warning)


def _reads(rule: ColumnRule, value: Any) -> bool:
    return rule.reads(value)


def _infer_mixed(base: ColumnRule, present: list[Any]) -> ColumnRule:
    """Values of several Python types (JSON lines): numbers only if every value is one."""
    if all(isinstance(v, bool) for v in present):
        return replace(base, kind="boolean", why="true/false values")
    rule = replace(base, kind="number", why="numbers")
    try:
        for value in present:
            rule.parse_value(value)
    except ValueError:
        return replace(base, why="values of mixed types, read as text")
    return rule


def _as_boolean(base: ColumnRule, distinct: pd.Series) -> ColumnRule | None:
    words = set(distinct.str.lower())
    for true, false in _BOOLEAN_PAIRS:
        if words <= {true, false} and len(words) == 2:
            return replace(
                base,
                kind="boolean",
                true_words=(true,),
                false_words=(false,),
                why=f"{true}/{false} values",
            )
    return None


_AFFIXES = ("%", "$", "€", "£")
_NUMBER_LIKE = r"[(+-]?\s*[$€£]?\s*[\d.,'\s\u00a0\u202f]*\d[\d.,'\s\u00a0\u202f]*\s*[%$€£]?\)?"


def _as_numbers(base: ColumnRule, distinct: pd.Series) -> ColumnRule | None:
    rule = replace(base, kind="number")
    try:
        numbers = [rule.parse_value(v) for v in distinct]
    except ValueError:
        affix = next((a for a in _AFFIXES if distinct.str.contains(a, regex=False).all()), "")
        if not affix:
            return None
        rule = replace(rule, affix=affix)
        try:
            numbers = [rule.parse_value(v) for v in distinct]
        except ValueError:
            return None
    zeros = distinct[distinct.str.match(_LEADING_ZERO)]
    if len(zeros):
        return replace(
            base, code=True, why=f"codes with leading zeros (e.g. {zeros.iloc[0]!r}), kept as text"
        )
    whole = all(float(n).is_integer() for n in numbers) and not any(
        base.decimal in v for v in distinct
    )
    how = f"numbers with decimal {base.decimal!r}" if base.decimal != "." else "numbers"
    if rule.affix:
        how += f", written with {rule.affix!r} (read without it: {distinct.iloc[0]!r} -> "
        how += f"{numbers[0]:g})"
    return replace(rule, integer=whole, why=how)


def _as_dates(
    base: ColumnRule, values: pd.Series, date_format: str | None, *, declared: bool = False
) -> ColumnRule | None:
    texts = values.dropna().astype(str).str.strip()
    texts = texts[~texts.str.lower().isin(MISSING_MARKERS)].drop_duplicates()
    sample = texts.head(_LEARN_SAMPLE)
    if date_format:
        why = f"declared {date_format}"
        return replace(base, kind="datetime", date_format=date_format, why=why)
    if sample.empty or (not declared and sample.str.contains(_DATE_LIKE).mean() < 1.0):
        return None
    written = sample[~sample.map(_is_iso)]  # ISO 8601 is read in every column of dates
    if written.empty:
        return replace(base, kind="datetime", date_format=None, why="ISO 8601 dates")
    fits = [f for f in DATE_FORMATS if _all_parse(written, f)]
    if not fits:
        return None
    chosen = fits[0]
    why = f"dates as {chosen}"
    twin = _DAY_FIRST.get(chosen)
    if twin and twin in fits:
        why += (
            f" (day-first and month-first both fit every value; day-first chosen, "
            f"set data.columns.datetime: {{{base.name}: '{twin}'}} if the month comes first)"
        )
    return replace(base, kind="datetime", date_format=chosen, why=why)


def _all_parse(sample: pd.Series, date_format: str) -> bool:
    try:
        pd.to_datetime(sample, format=date_format, errors="raise")
    except (ValueError, TypeError):
        return False
    return True


def _is_iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _with_missing(rule: ColumnRule, series: pd.Series) -> ColumnRule:
    n = len(series)
    missing = int(series.isna().sum())
    markers: dict[str, int] = {}
    if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
        texts = series[series.map(lambda v: isinstance(v, str))].astype(str).str.strip()
        is_marker = texts.str.lower().isin(MISSING_MARKERS)
        missing += int(is_marker.sum())
        found = texts[is_marker & (texts != "")]
        markers = {str(k): int(v) for k, v in found.value_counts().items()}
    return replace(rule, missing=markers, missing_share=(missing / n) if n else 0.0)


class ContractReader(TransformerMixin, BaseEstimator):
    """The first step of a logged model: raw rows in, the contract's typed features out.

    With it, plain ``mlflow.pyfunc.load_model(uri).predict(frame)`` reads values as written
    in the training file (``"15.250,00"``, ``"05/07/2023"``, ``"02134"``, ``"False"``) as
    loopml does. ``contract`` is ``DataContract.as_dict()`` (plain JSON values, so the skops
    file stays free of pickled objects).

    Parameters
    ----------
    contract : dict, the data contract.
    features : tuple of str, the columns handed on, in the model's order.
    """

    def __init__(self, contract: dict[str, Any] | None = None, features: tuple[str, ...] = ()):
        self.contract = contract
        self.features = features

    def fit(self, X: Any = None, y: Any = None) -> ContractReader:
        """Record the input width (``len(features)``); nothing is learned.

        Parameters
        ----------
        X, y : ignored

        Returns
        -------
        ContractReader
            ``self``.
        """
        self.n_features_in_ = len(self.features)
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        """``X`` (a DataFrame of shape (n_rows, n_columns) holding at least ``features``) as
        a DataFrame of shape (n_rows, len(features)), read by the contract.

        Parameters
        ----------
        X : pandas.DataFrame or anything ``pandas.DataFrame`` accepts

        Returns
        -------
        pandas.DataFrame, shape (n_rows, len(features))

        Raises
        ------
        loopml.errors.DataContractError
            A column of ``features`` is missing, or a value does not read as its column's kind.
        """
        frame = pd.DataFrame(X)
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise DataContractError(
                f"input is missing {len(missing)} column(s) the model needs: "
                f"{', '.join(repr(c) for c in missing[:10])}; add them (empty values are allowed)"
            )
        reader = DataContract.from_dict(self.contract or {"target": "", "columns": []})
        return reader.apply(frame[list(self.features)])


def with_contract(model: Any, found: DataContract, features: Iterable[str]) -> Any:
    """``model`` behind a ``ContractReader``: the pipeline logged for plain MLflow.

    Parameters
    ----------
    model : Any
        The fitted model pipeline.
    found : DataContract
    features : iterable of str
        The columns the model takes, in its order.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``contract`` (a fitted ``ContractReader``) and ``model``.
    """
    from sklearn.pipeline import Pipeline

    reader = ContractReader(found.as_dict(), tuple(features)).fit()
    return Pipeline([("contract", reader), ("model", model)])


def without_contract(model: Any) -> tuple[Any, DataContract | None]:
    """The model inside a ``with_contract`` pipeline, and its contract (None if it has none).

    Parameters
    ----------
    model : Any
        A logged model, with or without a ``ContractReader`` first step.

    Returns
    -------
    model : Any
        The inner model, or ``model`` itself.
    contract : DataContract or None
    """
    steps = getattr(model, "steps", None)
    if steps and len(steps) == 2 and isinstance(steps[0][1], ContractReader):
        return steps[1][1], DataContract.from_dict(steps[0][1].contract or {})
    return model, None
