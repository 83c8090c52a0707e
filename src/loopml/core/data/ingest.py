"""Read a dataset from a file or a SQL query into a DataFrame, and fingerprint it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.config import DataConfig
from loopml.errors import DataError

READERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def load(cfg: DataConfig) -> pd.DataFrame:
    """Load ``cfg.source``: a .csv/.parquet/.jsonl path, or a SQLAlchemy URL with ``query``."""
    frame = _load_sql(cfg.source, cfg.query or "") if cfg.is_sql() else read_file(cfg.source)
    if frame.empty:
        raise DataError(f"{cfg.source}: the data has no rows; point data.source at a filled file")
    return frame


def read_file(source: str) -> pd.DataFrame:
    """Read one tabular file, choosing the reader from its extension."""
    kind = file_kind(source)
    if "://" not in source and not Path(source).is_file():
        raise DataError(f"{source}: no such file; check data.source (relative to loopml.yaml)")
    try:
        if kind == "csv":
            return pd.read_csv(source, sep=csv_delimiter(source))
        if kind == "parquet":
            return pd.read_parquet(source)
        return pd.read_json(source, lines=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: the file is empty; it needs a header and rows") from None
    except (ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Empty CSV file" in first or "No columns to parse" in first:
            raise DataError(f"{source}: the file is empty; it needs a header and rows") from None
        raise DataError(f"{source}: cannot read as {kind} ({first}); check the file") from None


# The cells pandas' CSV reader takes as booleans.
_BOOLEANS = {word: True for word in ("True", "true", "TRUE")}
_BOOLEANS |= {word: False for word in ("False", "false", "FALSE")}


def conform(block: pd.DataFrame, dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """A block of a file, read elsewhere, in the column types pandas gave a sample of it.

    Ray reads CSV cells as text and one block at a time, where pandas infers each column's
    type from the whole file. This puts ``block`` into ``dtypes`` (the sample's): numbers
    as numbers (float where a block has a gap or a fraction in an integer column), True and
    False cells as booleans, dates as dates, and the rest as text. A cell that does not
    parse becomes missing, as ``pd.to_numeric(errors="coerce")`` makes it.
    """
    typed = {}
    for column, dtype in dtypes.items():
        values = block[column].astype(object)  # Ray's blocks may hold Arrow-backed columns
        if pd.api.types.is_bool_dtype(dtype):
            typed[column] = _flags(values)
        elif pd.api.types.is_numeric_dtype(dtype):
            typed[column] = _numbers(values, dtype)
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            typed[column] = pd.to_datetime(values, errors="coerce").astype(dtype)
        else:
            typed[column] = values.where(values.isna(), values.astype(str)).astype(dtype)
    return pd.DataFrame(typed, index=block.index)


def _flags(values: pd.Series) -> pd.Series:
    flags = values.map(lambda v: v if isinstance(v, bool) else _BOOLEANS.get(v))
    return flags.astype(bool) if flags.notna().all() else flags


def _numbers(values: pd.Series, dtype: Any) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    whole = numbers.notna().all() and bool((numbers % 1 == 0).all())
    if pd.api.types.is_integer_dtype(dtype) and not whole:
        return numbers
    return numbers.astype(dtype)


def csv_delimiter(source: str) -> str:
    """Tab for a .tsv file, else comma: every reader of CSV files uses this one rule."""
    return "\t" if source.split("?")[0].lower().endswith(".tsv") else ","


def file_kind(source: str) -> str:
    suffix = Path(source.split("?")[0]).suffix.lower()
    if suffix not in READERS:
        known = ", ".join(sorted(READERS))
        raise DataError(f"{source}: unknown file type '{suffix}'; use one of {known}")
    return READERS[suffix]


def _load_sql(url: str, query: str) -> pd.DataFrame:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url)
    except Exception as exc:  # SQLAlchemy raises several unrelated types for bad URLs
        raise DataError(f"data.source '{url}': not a usable SQLAlchemy URL ({exc})") from None
    try:
        with engine.connect() as conn:
            return pd.read_sql_query(sqlalchemy.text(query), conn)
    except (sqlalchemy.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) else exc
        reason = str(getattr(cause, "orig", cause)).splitlines()[0]
        raise DataError(f"data.query failed on {url}: {reason}; fix the query") from None
    finally:
        engine.dispose()


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of the rows, column names and dtypes (order-sensitive)."""
    digest = hashlib.sha256()
    digest.update("|".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    row_hashes = pd.util.hash_pandas_object(frame, index=False)
    digest.update(row_hashes.to_numpy().tobytes())
    return digest.hexdigest()[:16]
