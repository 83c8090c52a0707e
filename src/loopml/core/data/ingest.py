"""Read a dataset from a file or a SQL query into a DataFrame, and fingerprint it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.config import CsvConfig, DataConfig
from loopml.core.data import contract, dialect
from loopml.core.data.dialect import CsvDialect
from loopml.errors import DataError, first_line

READERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass(frozen=True)
class Table:
    """Data as read, before the data contract types it.

    ``frame`` holds every CSV cell as the text written (blank cells as ``""``); Parquet,
    JSON lines and SQL keep their own types. ``dialect`` says how a CSV file is written
    (None for other sources).

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
    source : str
        The path, URL or SQLAlchemy URL read.
    dialect : CsvDialect or None, default None
    """

    frame: pd.DataFrame
    source: str
    dialect: CsvDialect | None = None


def load_table(cfg: DataConfig) -> Table:
    """``cfg.source`` as read: a .csv/.parquet/.jsonl path, or a SQLAlchemy URL + ``query``.

    Parameters
    ----------
    cfg : loopml.config.DataConfig
        The ``data`` section.

    Returns
    -------
    Table
        Untyped (see ``Table``).

    Raises
    ------
    loopml.errors.DataError
        The file is missing, of an unknown type, empty or unreadable (``read_table``); the
        SQL URL or query fails; or the data has no rows.
    loopml.errors.DataValidationError
        A CSV header repeats a column name.
    """
    if cfg.is_sql():
        table = Table(_load_sql(cfg.source, cfg.query or ""), cfg.source)
    else:
        table = read_table(cfg.source, cfg.csv)
    if table.frame.empty:
        raise DataError(f"{cfg.source}: the data has no rows; point data.source at a filled file")
    return table


def load(cfg: DataConfig) -> pd.DataFrame:
    """``cfg.source`` typed by a data contract learned from the data itself, with the
    declared roles and date formats of ``cfg`` (the target keeps its labels as written).

    Parameters
    ----------
    cfg : loopml.config.DataConfig

    Returns
    -------
    pandas.DataFrame, shape (n_rows, n_columns)

    Raises
    ------
    loopml.errors.DataError
        As ``load_table``.
    loopml.errors.DataValidationError
        As ``load_table``.
    loopml.errors.DataContractError
        A value does not read as the kind its declared role sets.
    """
    return typed(load_table(cfg), cfg)


def read_file(source: str, csv: CsvConfig | None = None) -> pd.DataFrame:
    """One tabular file typed by a data contract learned from the file itself.

    For data a model scores, apply that model's contract to ``read_table`` instead.

    Parameters
    ----------
    source : str
        A .csv/.tsv/.parquet/.pq/.jsonl/.ndjson path or fsspec URL.
    csv : loopml.config.CsvConfig, optional
        CSV settings that override detection.

    Returns
    -------
    pandas.DataFrame, shape (n_rows, n_columns)

    Raises
    ------
    loopml.errors.DataError
        As ``read_table``.
    loopml.errors.DataValidationError
        A CSV header repeats a column name.
    """
    return typed(read_table(source, csv))


def typed(table: Table, cfg: DataConfig | None = None) -> pd.DataFrame:
    """A table's columns read by a contract learned from the table (numbers, dates, ...);
    ``cfg`` adds the target and the declared roles and date formats.

    Parameters
    ----------
    table : Table
    cfg : loopml.config.DataConfig, optional

    Returns
    -------
    pandas.DataFrame, shape (n_rows, n_columns)

    Raises
    ------
    loopml.errors.DataContractError
        A value does not read as the kind a declared role sets (learned kinds always read).
    """
    learned = contract.learn(
        table.frame,
        target=cfg.target if cfg else "",
        declared=cfg.columns.declared() if cfg else None,
        date_formats=cfg.columns.date_formats() if cfg else None,
        decimal=table.dialect.decimal if table.dialect else ".",
        thousands=table.dialect.thousands if table.dialect else "",
    )
    return learned.apply(table.frame, source=table.source)


def read_table(source: str, csv: CsvConfig | None = None) -> Table:
    """Read one tabular file as written, choosing the reader from its extension.

    CSV: the dialect is detected (``dialect.detect``; ``csv`` fields win), a repeated
    column name is refused, and every cell is read as text.

    Parameters
    ----------
    source : str
        A local path or a URL (containing "://").
    csv : loopml.config.CsvConfig, optional

    Returns
    -------
    Table

    Raises
    ------
    loopml.errors.DataError
        An unknown extension, or a missing, empty or unreadable file, in one line.
    loopml.errors.DataValidationError
        A CSV header repeats a column name.
    """
    kind = file_kind(source)
    if "://" not in source and not Path(source).is_file():
        raise DataError(f"{source}: no such file; check data.source (relative to loopml.yaml)")
    try:
        if kind == "csv":
            found = dialect.detect(source, csv)
            return Table(read_csv_text(source, found), source, found)
        if kind == "parquet":
            return Table(pd.read_parquet(source), source)
        return Table(pd.read_json(source, lines=True), source)
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: the file is empty; it needs a header and rows") from None
    except (ValueError, OSError) as exc:
        first = first_line(exc)
        if "Empty CSV file" in first or "No columns to parse" in first:
            raise DataError(f"{source}: the file is empty; it needs a header and rows") from None
        raise DataError(f"{source}: cannot read as {kind} ({first}); check the file") from None


def read_csv_text(source: str, found: CsvDialect, **options: Any) -> pd.DataFrame:
    """A CSV file in ``found`` dialect with every cell as the text written (``""`` when blank).

    Parameters
    ----------
    source : str
    found : CsvDialect
    **options
        Passed to ``pandas.read_csv`` (e.g. ``chunksize``, which returns a reader).

    Returns
    -------
    pandas.DataFrame or pandas.io.parsers.TextFileReader
        Every column of dtype str (object).

    Raises
    ------
    loopml.errors.DataError
        The header cannot be read (see ``dialect.header_names``).
    loopml.errors.DataValidationError
        The header repeats a column name.
    """
    names = dialect.header_names(source, found)
    return pd.read_csv(
        source,
        sep=found.sep,
        encoding=found.encoding,
        quotechar=found.quotechar,
        header=0,
        names=names,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skiprows=[1] if found.skip_rows else None,  # Excel's "sep=;" line before the header
        **options,
    )


def read_csv_chunks(source: str, found: CsvDialect, rows: int) -> Iterator[pd.DataFrame]:
    """``source`` in chunks of ``rows`` rows, read as ``read_csv_text`` reads it.

    Parameters
    ----------
    source : str
    found : CsvDialect
    rows : int
        Rows per chunk.

    Yields
    ------
    pandas.DataFrame
        Up to ``rows`` rows each, every cell as text.
    """
    reader: Any = read_csv_text(source, found, chunksize=rows)
    with reader:
        yield from reader


def file_kind(source: str) -> str:
    """The reader for ``source``'s extension (a URL's query string is ignored).

    Parameters
    ----------
    source : str

    Returns
    -------
    {"csv", "parquet", "jsonl"}

    Raises
    ------
    loopml.errors.DataError
        An extension not in ``READERS``.
    """
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
        cause = (exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) else None) or exc
        reason = first_line(getattr(cause, "orig", None) or cause)
        raise DataError(f"data.query failed on {url}: {reason}; fix the query") from None
    finally:
        engine.dispose()


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of the rows, column names and dtypes (order-sensitive).

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    str
        The first 16 hex digits of a SHA-256 over the dtypes and
        ``pandas.util.hash_pandas_object`` of the rows (the index is ignored).
    """
    digest = hashlib.sha256()
    digest.update("|".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    row_hashes = pd.util.hash_pandas_object(frame, index=False)
    digest.update(row_hashes.to_numpy().tobytes())
    return digest.hexdigest()[:16]
