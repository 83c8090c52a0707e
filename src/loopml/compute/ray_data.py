"""Batch scoring on Ray Data: read a Parquet/CSV file in blocks and score them in parallel.

The model goes into the object store once; each worker process fetches it once and scores
whole batches with ``score_frame``, the same call the local backend makes, so results
match: CSV cells are read as text in the same dialect and every value goes through the
model's data contract there. Order is preserved (``preserve_order``), so row ``i`` of the
output is row ``i`` of the input, with its id columns beside the predictions. Ray is
imported here only.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.compute.batches import scored_rows
from loopml.compute.ray_errors import ray_errors
from loopml.config import ComputeConfig
from loopml.core.compile import Scorer
from loopml.core.data.dialect import CsvDialect
from loopml.core.data.ingest import file_kind
from loopml.errors import ConfigError, DataError, first_line


@contextmanager
def ray_session(cfg: ComputeConfig) -> Iterator[Any]:
    """Connect to ``compute.address`` (or start a local instance); leave a running one alone."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "compute.backend: ray needs Ray installed; pip install 'loopml[ray]'"
        ) from None
    if ray.is_initialized():
        yield ray
        return
    _quiet()
    try:
        ray.init(
            address=cfg.address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if not cfg.address:
            raise ConfigError(f"compute.backend ray: cannot start a local Ray ({exc})") from None
        raise ConfigError(
            f"compute.address '{cfg.address}': cannot connect to Ray ({exc}); "
            "use ray://HEAD_HOST:10001, or leave it empty for a local instance"
        ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _quiet() -> None:
    """Ray's INFO logs and progress lines are for Ray's developers; loopml reports progress.

    Ray Data also logs a failed task's stack traces, twice, before raising it to loopml,
    which reports it in one line (``ray_errors.from_ray``); they show only when logging is verbose.
    """
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False
    for name in ("ray", "ray.data", "ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)


_MODELS: dict[str, Scorer] = {}  # per worker process: the model, deserialized once
GROUP = "__loopml_row_group__"


def _model(ref: Any) -> Scorer:
    scorer = _MODELS.get(ref.hex())
    if scorer is None:
        import ray

        _MODELS.clear()
        scorer = _MODELS[ref.hex()] = ray.get(ref)
    return scorer


def _score_batch(batch: Any, model: Any) -> pd.DataFrame:
    """Score one block of a CSV file in a Ray worker."""
    return scored_rows(_model(model), batch.to_pandas())  # numpy-backed, as the local path reads


def _score_row_groups(items: Any, source: str, model: Any, rows: int) -> pd.DataFrame:
    """Read and score whole Parquet row groups in a Ray worker, tagging rows with their group."""
    import pyarrow.parquet as pq

    scorer, parquet = _model(model), pq.ParquetFile(source)
    parts = [pd.DataFrame({GROUP: pd.Series([], dtype="int64")})]
    for group in items["group"].tolist():
        for batch in parquet.iter_batches(batch_size=rows, row_groups=[int(group)]):
            parts.append(scored_rows(scorer, batch.to_pandas()).assign(**{GROUP: int(group)}))
    return pd.concat(parts[1:] or parts, ignore_index=True)


def score_file(
    scorer: Scorer, source: Path, *, batch_rows: int, found: CsvDialect | None = None
) -> Iterator[pd.DataFrame]:
    """Scored batches of ``source`` in input order; call inside ``ray_session``.

    ``found`` is how a CSV file is written (``workflows.predict.scoring_dialect``).

    Plain tasks, not an actor pool: no CPU sits reserved by an idle actor, and each worker
    process keeps the model it fetched from the object store for its next task.
    """
    import ray
    import ray.data

    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    model = ray.put(scorer)
    if file_kind(str(source)) == "parquet":
        batches = _score_parquet(source, model, batch_rows)
    else:
        batches = _score_csv(source, found or CsvDialect(), model, batch_rows)
    with ray_errors(source, "scoring"):
        yield from batches


def _score_parquet(source: Path, model: Any, batch_rows: int) -> Iterator[pd.DataFrame]:
    """One task per row group; the driver yields the groups in file order, whatever order
    they finish in (Ray's ``preserve_order`` alone reordered a 50-group file)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import ray.data

    meta = pq.ParquetFile(source).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    items = ray.data.from_items([{"group": g} for g in range(len(sizes))])
    score = functools.partial(_score_row_groups, source=str(source), model=model, rows=batch_rows)
    scored = items.map_batches(score, batch_size=1)
    pending: dict[int, list[Any]] = {}
    done: dict[int, int] = {}
    following = 0
    table: Any
    for table in scored.iter_batches(batch_size=None, batch_format="pyarrow"):
        for group in pc.unique(table[GROUP]).to_pylist():
            piece = table.filter(pc.equal(table[GROUP], group)).drop_columns([GROUP])
            pending.setdefault(group, []).append(piece)
            done[group] = done.get(group, 0) + piece.num_rows
        while following < len(sizes) and done.get(following, 0) == sizes[following]:
            for piece in pending.pop(following, []):
                if piece.num_rows:
                    yield piece.to_pandas()
            following += 1


def _score_csv(
    source: Path, found: CsvDialect, model: Any, batch_rows: int
) -> Iterator[pd.DataFrame]:
    scored = read_csv_text(source, found).map_batches(
        _score_batch,
        fn_args=(model,),
        batch_size=batch_rows,
        batch_format="pyarrow",
        udf_modifying_row_count=False,
    )
    for batch in scored.iter_batches(batch_size=None, batch_format="pyarrow"):
        yield batch.to_pandas()  # numpy-backed columns, as the local backend writes


def read_csv_text(source: Path | str, found: CsvDialect) -> Any:
    """A CSV file on Ray with every cell as the text written (``""`` when blank), in
    ``found`` dialect: what ``ingest.read_csv_text`` gives the local backend."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import ray.data

    from loopml.core.data import dialect

    if file_kind(str(source)) != "csv":
        raise DataError(
            f"{source}: compute.backend ray scores .parquet and .csv files; convert it, "
            "or use compute.backend: local"
        )
    names = dialect.header_names(str(source), found)
    read = {
        "column_names": names,
        "skip_rows": 1 + found.skip_rows,  # the header, after Excel's "sep=;" line if any
        "encoding": _arrow_encoding(found.encoding),
    }
    options = {
        "read_options": pa_csv.ReadOptions(**read),
        "parse_options": pa_csv.ParseOptions(delimiter=found.sep, quote_char=found.quotechar),
        "convert_options": pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }
    if "://" not in str(source):  # a bad first block is named here, by Arrow's own reason
        head = options | {"read_options": pa_csv.ReadOptions(**read, block_size=1 << 16)}
        try:
            with pa_csv.open_csv(str(source), **head) as reader:
                reader.read_next_batch()
        except StopIteration:
            pass  # a header only: Ray reads no rows
        except (pa.ArrowInvalid, OSError) as exc:
            reason = first_line(exc)
            raise DataError(f"{source}: cannot be read as CSV ({reason}); fix the file") from None
    return ray.data.read_csv(str(source), **options)


def _arrow_encoding(encoding: str) -> str:
    """Arrow reads UTF-8 natively (a byte-order mark included) and transcodes the rest."""
    return (
        "utf8"
        if encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig")
        else encoding
    )
