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
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from loopml import compute

# Re-exported: monitor, explain and the tests read files and place errors as predict does.
from loopml.compute.batches import FILE_FIX as FILE_FIX
from loopml.compute.batches import model_of as _model_of
from loopml.compute.batches import read_chunks as read_chunks
from loopml.compute.batches import read_placed as read_placed
from loopml.compute.batches import row_count
from loopml.compute.batches import score_chunk as score_chunk
from loopml.compute.batches import scored_rows as scored_rows
from loopml.config import CsvConfig, ProjectConfig
from loopml.core.compile import CompiledScorer, Scorer
from loopml.core.data import dialect
from loopml.core.data.contract import DataContract
from loopml.core.data.dialect import CsvDialect
from loopml.core.data.ingest import file_kind
from loopml.errors import DataError
from loopml.tracking import registry
from loopml.tracking.models import LoadedModel, load_with_compiled
from loopml.workflows.events import Reporter, SilentReporter

T = TypeVar("T")
EXPLAIN_CHUNK_ROWS = 2_000  # rows per chunk with --explain: explaining is the slow part


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
    backend = compute.make(cfg.compute)
    reporter.stage(
        f"Scoring {source} with {scorer.describe()} ({engine} engine: {note})"
        + (f" on {backend.where}" if backend.where else "")
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
        chunk_rows = min(cfg.batch.chunk_rows, EXPLAIN_CHUNK_ROWS)
        reporter.stage(
            f"Explaining with {explainer.method}, {'exact' if explainer.exact else 'approximate'}"
            f", in chunks of {chunk_rows:,} rows"
            + (
                f" on this machine (compute.backend={backend.name} scores only)"
                if backend.where
                else ""
            )
        )
        # Explaining runs on this machine, whatever the backend.
        batches = compute.LocalCompute(cfg.compute).score_file(
            scorer,
            source,
            batch_rows=chunk_rows,
            found=found,
            stage=reporter.stage,
            extra=lambda chunk: _model_of(scorer).explain(chunk).frame(top_k),
        )
    else:
        batches = backend.score_file(
            scorer, source, batch_rows=cfg.batch.chunk_rows, found=found, stage=reporter.stage
        )
    done = "rows explained" if explain else "rows scored"
    rows = _write_atomically(output, out_kind, _counted(batches, source, reporter, done))
    ids = tuple(c for c in scorer.id_columns)
    return PredictResult(output, rows, scorer.describe(), ids, engine, note)


def _chunk_scorer(loaded: LoadedModel) -> tuple[Scorer, str, str]:
    """The compiled graph when the model has one that passed parity, else the pipeline."""
    model = loaded.model
    if loaded.compiled is None:
        return model, "native", loaded.compile_note
    compiled = loaded.compiled
    return CompiledScorer(model, compiled.onnx, compiled.inputs), "onnx", compiled.report.reason


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


def _counted(
    batches: Iterator[pd.DataFrame], source: Path, reporter: Reporter, what: str
) -> Iterator[pd.DataFrame]:
    done, total = 0, row_count(source)
    for batch in batches:
        yield batch
        done += len(batch)
        reporter.progress(what, done, total or done)


def _write_atomically(output: Path, kind: str, chunks: Iterator[pd.DataFrame]) -> int:
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    os.close(handle)
    temp = Path(temp_name)
    temp.chmod(0o666 & ~_umask())  # mkstemp makes it private (0600); a plain file is not
    try:
        rows = _write(temp, kind, chunks)
        if rows == 0:
            raise DataError(f"the input has no rows to score; {output} was not written")
        temp.replace(output)
    finally:
        temp.unlink(missing_ok=True)
    return rows


def _umask() -> int:
    """The process's file-creation mask (read by setting it, then set back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
