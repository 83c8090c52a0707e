"""`loopml profile` on Ray Data: column statistics over the whole file, and a sample for the rest.

The file is read in blocks by Ray's workers, never whole by the driver. Rows, missing values,
numeric summaries (Ray's ``Mean``, ``Std``, ``Min``, ``Max``, ``Quantile``, ``CountDistinct``)
and category counts (``ValueCounter``) are aggregated over every row. What needs rows side by
side (histograms, correlations, duplicates, words, the split) gets a random sample of at most
``profile.sample_rows`` rows, read back into pandas by the same reader as the local backend,
so column types and roles come out as they would locally. CSV cells are read as text in the
file's dialect, and every block is typed by the data contract learned from the sample, as
the local profile types the file. Ray is imported here only.
"""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from loopml.config import CsvConfig, DataConfig
from loopml.core.data import dialect
from loopml.core.data.contract import DataContract
from loopml.core.data.dialect import CsvDialect
from loopml.core.data.ingest import file_kind
from loopml.core.data.profile import WholeData
from loopml.core.data.roles import ColumnRoles
from loopml.errors import ConfigError, DataError

MISSING = "__missing__"


def read(
    source: str, csv: CsvConfig | None = None, fix: str = "use compute.backend: local"
) -> tuple[Any, CsvDialect | None]:
    """The file as a Ray Dataset and, for CSV, its dialect (``dialect.detect``; ``csv`` wins).

    Parquet is read as stored; CSV with every cell as the text written, in its dialect
    (``ray_data.read_csv_text``), as the local reader reads it. ``fix`` ends the error on
    another file type: how to do the work without Ray.
    """
    import ray.data

    from loopml.compute.ray_data import read_csv_text

    kind = file_kind(source)
    if kind == "parquet":
        return ray.data.read_parquet(source), None
    if kind != "csv":
        raise DataError(f"{source}: Ray reads .parquet and .csv files; convert it, or {fix}")
    found = dialect.detect(source, csv)
    return read_csv_text(source, found), found


def refuse_sql(data: DataConfig, who: str, fix: str) -> None:
    """A database source is one ConfigError line: ``read`` takes files (the URL stays hidden)."""
    if data.is_sql():
        raise ConfigError(
            f"data.source '{data.source.split('://')[0]}://...': {who} .parquet and .csv "
            f"files on Ray; export the query to Parquet, or {fix}"
        )


def sample(dataset: Any, source: str, rows: int, seed: int) -> tuple[pd.DataFrame, int]:
    """At most ``rows`` random rows as the local reader would load them, and the row count."""
    total = int(dataset.count())
    picked = dataset
    if total > rows:
        # A little over the share asked for, then cut: a Bernoulli sample varies in size.
        fraction = min(1.0, 1.1 * rows / total)
        picked = dataset.random_sample(fraction, seed=seed).limit(rows)
    return local_frame(picked, source), total


def local_frame(dataset: Any, source: str) -> pd.DataFrame:
    """The rows of ``dataset`` (a few, on the driver) as the local reader reads ``source``:
    CSV cells as text (``ingest.Table``), Parquet as stored."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables(list(dataset.iter_batches(batch_size=None, batch_format="pyarrow")))
    if file_kind(source) != "parquet":
        return table.to_pandas()  # numpy-backed: text cells as Python strings
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    return pd.read_parquet(buffer)


def whole_data(
    dataset: Any, read: DataContract, roles: ColumnRoles, target: str, classification: bool
) -> WholeData:
    """Rows, missing values, numeric summaries and category counts of every row, on Ray.

    Each block is typed by ``read`` (the sample's data contract) first, as the local
    profile's frame is.
    """
    from ray.data.aggregate import (
        Count,
        CountDistinct,
        Max,
        Mean,
        Min,
        Quantile,
        Std,
        Sum,
        ValueCounter,
    )

    columns = list(dataset.schema().names)
    counted = [*roles.categorical, *([target] if classification else [])]
    numeric = [*roles.numeric, *([] if classification else [target])]
    typed = dataset.map_batches(
        _typed,
        fn_kwargs={"read": read, "columns": columns, "numeric": numeric, "counted": counted},
        batch_format="pyarrow",
    )
    aggregations: list[Any] = [Count(alias_name="rows")]
    aggregations += [Sum(MISSING + c, alias_name=MISSING + c) for c in columns]
    for c in roles.numeric:
        aggregations += [
            Mean(c, alias_name=f"mean:{c}"),
            Std(c, ddof=1, alias_name=f"std:{c}"),
            Min(c, alias_name=f"min:{c}"),
            Quantile(c, q=0.5, alias_name=f"median:{c}"),
            Max(c, alias_name=f"max:{c}"),
            CountDistinct(c, alias_name=f"distinct:{c}"),
        ]
    aggregations += [ValueCounter(c, alias_name=f"counts:{c}") for c in counted]
    if not classification:
        aggregations.append(Mean(target, alias_name="target_mean"))
    found = typed.aggregate(*aggregations)
    counts = {c: _counts(found[f"counts:{c}"]) for c in counted}
    return WholeData(
        rows=int(found["rows"]),
        missing=pd.Series({c: int(found[MISSING + c] or 0) for c in columns}, dtype="int64"),
        numeric=[_summary(c, found) for c in roles.numeric],
        categories={c: counts[c] for c in roles.categorical},
        labels=counts[target] if classification else None,
        target_mean=math.nan if classification else float(found["target_mean"]),
    )


def _typed(
    block: Any, read: DataContract, columns: list[str], numeric: list[str], counted: list[str]
) -> pd.DataFrame:
    """One block as the local profile sees it: missing flags, numbers, category text.

    A value the contract cannot read is a ``DataContractError`` naming its column.
    """
    batch = read.apply(block.to_pandas(), first_row=None)
    out: dict[str, pd.Series] = {MISSING + c: batch[c].isna().astype("int64") for c in columns}
    out |= {c: batch[c].astype("float64") for c in numeric}
    out |= {c: batch[c].where(batch[c].isna(), batch[c].astype(str)) for c in counted}
    return pd.DataFrame(out)


def _summary(column: str, found: dict[str, Any]) -> dict[str, Any]:
    def number(name: str) -> float:
        value = found[f"{name}:{column}"]
        return float("nan") if value is None else float(value)

    return {
        "column": column,
        "mean": number("mean"),
        "std": number("std"),
        "min": number("min"),
        "median": number("median"),
        "max": number("max"),
        "distinct": int(found[f"distinct:{column}"] or 0),
    }


def _counts(found: Any) -> pd.Series:
    """``ValueCounter``'s result as value -> rows, missing values left out."""
    values, counts = found["values"], found["counts"]
    kept = {str(v): int(n) for v, n in zip(values, counts, strict=True) if v is not None}
    return pd.Series(kept, dtype="int64")
