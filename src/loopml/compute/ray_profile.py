"""`loopml profile` on Ray Data: column statistics over the whole file, and a sample for the rest.

The file is read in blocks by Ray's workers, never whole by the driver. Rows, missing values,
numeric summaries (Ray's ``Mean``, ``Std``, ``Min``, ``Max``, ``Quantile``, ``CountDistinct``)
and category counts (``ValueCounter``) are aggregated over every row. What needs rows side by
side (histograms, correlations, duplicates, words, the split) gets a random sample of at most
``profile.sample_rows`` rows, read back into pandas by the same reader as the local backend,
so column types and roles come out as they would locally. Values are read as pandas reads
them: CSV cells as text, then numbers the way ``pd.to_numeric(errors="coerce")`` makes them,
and pandas' missing-value markers. Ray is imported here only.
"""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from loopml.config import DataConfig
from loopml.core.data.ingest import csv_delimiter, file_kind
from loopml.core.data.profile import WholeData
from loopml.core.data.roles import ColumnRoles
from loopml.errors import ConfigError, DataError

# pandas' default ``na_values`` for read_csv: the same cells count as missing on both backends.
PANDAS_NA = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip
MISSING = "__missing__"


def read(source: str, fix: str = "use compute.backend: local") -> Any:
    """The file as a Ray Dataset: Parquet as stored, CSV with every cell as text.

    ``fix`` ends the error on another file type: how to do the work without Ray.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import ray.data

    kind = file_kind(source)
    if kind == "parquet":
        return ray.data.read_parquet(source)
    if kind != "csv":
        raise DataError(f"{source}: Ray reads .parquet and .csv files; convert it, or {fix}")
    parse = pa_csv.ParseOptions(delimiter=csv_delimiter(source))
    try:  # the header, from the first block only
        head = pa_csv.ReadOptions(block_size=1 << 16)
        with pa_csv.open_csv(source, read_options=head, parse_options=parse) as reader:
            names = reader.schema.names
    except (pa.ArrowInvalid, OSError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise DataError(f"{source}: cannot be read as CSV ({reason}); fix the file") from None
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        null_values=PANDAS_NA,
        strings_can_be_null=True,
    )
    return ray.data.read_csv(source, parse_options=parse, convert_options=convert)


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
    """The rows of ``dataset`` (a few, on the driver) as the local reader loads ``source``."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    table = pa.concat_tables(list(dataset.iter_batches(batch_size=None, batch_format="pyarrow")))
    buffer = io.BytesIO()
    if file_kind(source) == "parquet":
        pq.write_table(table, buffer)
        buffer.seek(0)
        return pd.read_parquet(buffer)
    pa_csv.write_csv(table, buffer)
    buffer.seek(0)
    return pd.read_csv(buffer)


def whole_data(dataset: Any, roles: ColumnRoles, target: str, classification: bool) -> WholeData:
    """Rows, missing values, numeric summaries and category counts of every row, on Ray."""
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
        fn_kwargs={"columns": columns, "numeric": numeric, "counted": counted},
        batch_format="pandas",
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
    batch: pd.DataFrame, columns: list[str], numeric: list[str], counted: list[str]
) -> pd.DataFrame:
    """One block as the local profile sees it: missing flags, numbers, category text."""
    out: dict[str, pd.Series] = {MISSING + c: batch[c].isna().astype("int64") for c in columns}
    out |= {c: pd.to_numeric(batch[c], errors="coerce").astype("float64") for c in numeric}
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
