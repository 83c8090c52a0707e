"""`loopml predict`: score a CSV or Parquet file in chunks, writing ids beside predictions.

Every value reaches the model through the model's data contract (``ScoringModel.conform``):
a CSV file is read as text, in the dialect the model was trained on (its separator and
encoding; detected from the file when the model has none or the file is written otherwise),
and each cell is read by its column's rule, exactly as ``loopml.load_model(...).predict``
and the server read it. A value that does not read stops scoring with one line naming the
file, the row (1 is the first row under the header), the column and the value; the output
file is then not written.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from loopml.compute.ray_data import scored_rows
from loopml.config import CsvConfig, ProjectConfig
from loopml.core.compile import CompiledScorer, Scorer
from loopml.core.data import dialect
from loopml.core.data.contract import DataContract
from loopml.core.data.dialect import CsvDialect
from loopml.core.data.ingest import file_kind, read_csv_chunks
from loopml.core.scoring import ScoringModel
from loopml.errors import DataContractError, DataError, PredictionInputError
from loopml.tracking import registry
from loopml.tracking.models import LoadedModel, load_with_compiled
from loopml.workflows.events import Reporter, SilentReporter

T = TypeVar("T")
EXPLAIN_CHUNK_ROWS = 2_000  # rows per chunk with --explain: explaining is the slow part
FILE_FIX = "correct the cell or leave it empty (the model reads it as missing)"


@dataclass(frozen=True)
class PredictResult:
    output: Path
    rows: int
    model: str
    id_columns: tuple[str, ...]
    engine: str = "native"
    engine_note: str = ""


def model_uri(cfg: ProjectConfig, model: str | None) -> str:
    """A run id, an alias, a version number or a full URI, as the user typed it."""
    return registry.model_uri(cfg.model_name, model, default_alias=cfg.serve.alias)


def predict_file(
    cfg: ProjectConfig,
    source: Path,
    output: Path,
    *,
    model: str | None = None,
    reporter: Reporter | None = None,
    explain: bool = False,
    top_k: int | None = None,
) -> PredictResult:
    """Score ``source`` chunk by chunk; the output appears only when every row is scored.

    With ``explain``, each row also gets its attributions (``core.explain``): base_value,
    explained_output and a ``contribution_<column>`` per input column, or the ``top_k``
    largest as ``top<i>_column``/``top<i>_contribution``. Raises ``NotExplainableError``
    (before anything is written) for a model with no explainer.
    """
    reporter = reporter or SilentReporter()
    if not source.is_file():
        raise DataError(f"{source}: no such file; pass a CSV or Parquet file to score")
    out_kind = file_kind(str(output))
    loaded = load_with_compiled(model_uri(cfg, model), tracking_uri=cfg.tracking.uri)
    scorer, engine, note = _chunk_scorer(loaded)
    where = (
        f"Ray ({cfg.compute.address or 'local instance'})" if cfg.compute.backend == "ray" else ""
    )
    reporter.stage(
        f"Scoring {source} with {scorer.describe()} ({engine} engine: {note})"
        + (f" on {where}" if where else "")
    )
    found = (
        scoring_dialect(source, _model_of(scorer).contract)
        if file_kind(str(source)) == "csv"
        else None
    )
    if found is not None:
        reporter.stage(found.describe(str(source)))
    if explain:
        explainer = _model_of(scorer).explainer()  # a model with none fails here, in one line
        reporter.stage(
            f"Explaining with {explainer.method}, {'exact' if explainer.exact else 'approximate'}"
            f", in chunks of {min(cfg.batch.chunk_rows, EXPLAIN_CHUNK_ROWS):,} rows"
            + (" on this machine (compute.backend=ray scores only)" if where else "")
        )
    if cfg.compute.backend == "ray" and not explain:
        rows = _predict_on_ray(scorer, source, output, out_kind, cfg, reporter, found)
    else:
        chunks = _scored_chunks(scorer, source, cfg, reporter, found, explain, top_k)
        scored = _ahead(chunks)  # scores while it writes
        rows = _write_atomically(output, out_kind, scored)
    ids = tuple(c for c in scorer.id_columns)
    return PredictResult(output, rows, scorer.describe(), ids, engine, note)


def _chunk_scorer(loaded: LoadedModel) -> tuple[Scorer, str, str]:
    """The compiled graph when the model has one that passed parity, else the pipeline."""
    model = loaded.model
    if loaded.compiled is None:
        return model, "native", loaded.compile_note
    compiled = loaded.compiled
    return CompiledScorer(model, compiled.onnx, compiled.inputs), "onnx", compiled.report.reason


def _model_of(scorer: Scorer) -> ScoringModel:
    return scorer.model if isinstance(scorer, CompiledScorer) else scorer


def scoring_dialect(source: Path, contract: DataContract | None) -> CsvDialect:
    """How to read the CSV file ``source`` for a model: its training file's separator,
    decimal mark, thousands separator and encoding (``contract.dialect``).

    The file's own dialect is detected instead when the model records none, when the file
    does not decode in the model's encoding, or when its header under the model's separator
    is one column while the file has several (a ``,`` file scored by a model trained on a
    ``;`` file, say). The contract's column rules read numbers either way.
    """
    written = (contract.dialect if contract else None) or {}
    known = {k: written[k] for k in ("sep", "decimal", "thousands", "encoding") if k in written}
    if known:
        try:
            found = dialect.detect(str(source), CsvConfig(**known))
            if len(dialect.header_names(str(source), found)) > 1:
                return found
        except DataError:
            pass  # not written as the training file was: read it as it is written
    return dialect.detect(str(source))


def _scored_chunks(
    scorer: Scorer,
    source: Path,
    cfg: ProjectConfig,
    reporter: Reporter,
    found: CsvDialect | None = None,
    explain: bool = False,
    top_k: int | None = None,
) -> Iterator[pd.DataFrame]:
    done, total = 0, _row_count(source)
    chunk_rows = min(cfg.batch.chunk_rows, EXPLAIN_CHUNK_ROWS) if explain else cfg.batch.chunk_rows
    chunks = read_chunks(source, chunk_rows, found)
    for chunk in _ahead(chunks):  # reads while it scores
        if chunk.empty:
            continue
        scored = score_chunk(scorer, chunk, source, first_row=done + 1)
        if explain:
            found_now = _model_of(scorer).explain(chunk).frame(top_k)
            scored = pd.concat([scored, found_now.set_axis(scored.index)], axis=1)
        yield scored
        done += len(chunk)
        reporter.progress("rows explained" if explain else "rows scored", done, total or done)
    if done == 0:
        raise DataError(f"{source}: no rows to score (a header only?); add rows to the file")


def score_chunk(
    scorer: Scorer, chunk: pd.DataFrame, source: Path, *, first_row: int
) -> pd.DataFrame:
    """Ids, then predictions, for one chunk of ``source`` whose first row is ``first_row``.

    Raises ``DataContractError`` naming the file, the row in it, the column and the value
    (or ``PredictionInputError`` for a column the model needs that the file lacks).
    """
    try:
        return scored_rows(scorer, chunk)
    except DataContractError:
        # Only on failure: read the chunk again, placed in the file, for the same error
        # with its file and row (scoring itself stays one pass through the contract).
        read_placed(scorer, chunk, source, first_row=first_row)
        raise
    except PredictionInputError as exc:
        raise PredictionInputError(f"{source}: {exc}") from None


def read_placed(scorer: Scorer, chunk: pd.DataFrame, source: Path, *, first_row: int) -> None:
    """Read ``chunk`` (rows ``first_row``... of ``source``) by the model's contract, for the
    ``DataContractError`` naming the file, its row, the column and the value, if any."""
    model = _model_of(scorer)
    if model.contract is not None:
        columns = [*model.feature_names, *(c for c in scorer.id_columns if c in chunk)]
        model.contract.apply(chunk[columns], source=str(source), first_row=first_row, fix=FILE_FIX)


def _predict_on_ray(
    scorer: Scorer,
    source: Path,
    output: Path,
    out_kind: str,
    cfg: ProjectConfig,
    reporter: Reporter,
    found: CsvDialect | None = None,
) -> int:
    """Score through Ray Data's ``map_batches``; the driver writes the ordered batches."""
    from loopml.compute import ray_data

    first = next(read_chunks(source, 100, found), None)
    if first is not None:  # a wrong column fails here, in one line, before Ray starts
        score_chunk(scorer, first, source, first_row=1)
    with ray_data.ray_session(cfg.compute):
        reporter.stage(f"Scoring on Ray ({cfg.compute.address or 'local instance'})")
        batches = ray_data.score_file(scorer, source, batch_rows=cfg.batch.chunk_rows, found=found)
        located = _located(batches, scorer, source, found, cfg.batch.chunk_rows)
        return _write_atomically(output, out_kind, _counted(located, source, reporter))


def _located(
    batches: Iterator[pd.DataFrame],
    scorer: Scorer,
    source: Path,
    found: CsvDialect | None,
    chunk_rows: int,
) -> Iterator[pd.DataFrame]:
    """``batches``; a value a Ray worker could not read is found again here, in its row of
    the file (a worker sees one block and does not know where the block starts)."""
    try:
        yield from batches
    except DataContractError:
        done = 0
        for chunk in read_chunks(source, chunk_rows, found):
            read_placed(scorer, chunk, source, first_row=done + 1)
            done += len(chunk)
        raise


def _counted(
    batches: Iterator[pd.DataFrame], source: Path, reporter: Reporter
) -> Iterator[pd.DataFrame]:
    done, total = 0, _row_count(source)
    for batch in batches:
        yield batch
        done += len(batch)
        reporter.progress("rows scored", done, total or done)


def read_chunks(
    source: Path, chunk_rows: int, found: CsvDialect | None = None
) -> Iterator[pd.DataFrame]:
    """Chunks of ``source`` as written: CSV cells as text (in ``found``, detected if None),
    Parquet and JSON lines with their own types; the contract reads them when scoring."""
    kind = file_kind(str(source))
    if kind == "parquet":
        for batch in pq.ParquetFile(source).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    elif kind == "csv":
        found = found or dialect.detect(str(source))
        yield from read_csv_chunks(str(source), found, chunk_rows)
    else:
        yield from pd.read_json(source, lines=True, chunksize=chunk_rows)


def _ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """``items``, produced by a thread at most ``depth`` ahead of the consumer: reading,
    scoring and writing overlap (pyarrow and ONNX Runtime release the GIL), memory stays
    bounded by a few chunks, and an error in the producer is raised here."""
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(("error", exc))

    worker = threading.Thread(target=produce, name="loopml-ahead", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join(timeout=30)


def _row_count(source: Path) -> int | None:
    if file_kind(str(source)) == "parquet":
        return int(pq.ParquetFile(source).metadata.num_rows)
    return None


def _write_atomically(output: Path, kind: str, chunks: Iterator[pd.DataFrame]) -> int:
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        rows = _write(temp, kind, chunks)
        if rows == 0:
            raise DataError(f"the input has no rows to score; {output} was not written")
        temp.replace(output)
    finally:
        temp.unlink(missing_ok=True)
    return rows


def _write(path: Path, kind: str, chunks: Iterator[pd.DataFrame]) -> int:
    rows, writer, schema = 0, None, None
    try:
        for chunk in chunks:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                schema = table.schema  # every chunk is written with the first chunk's types
                writer = _open_writer(path, kind, schema)
            writer.write_table(table.cast(schema))
            rows += len(chunk)
    finally:
        if writer is not None:
            writer.close()
    return rows


def _open_writer(path: Path, kind: str, schema: pa.Schema) -> pq.ParquetWriter | pa_csv.CSVWriter:
    if kind == "parquet":
        return pq.ParquetWriter(path, schema)
    if kind == "csv":
        return pa_csv.CSVWriter(path, schema)
    raise DataError(f"{path}: write predictions as .parquet or .csv")
