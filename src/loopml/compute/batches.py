"""Scoring a file batch by batch, the same on every backend: read, score, place errors.

``scored_rows`` is what every backend writes for a batch (ids, then predictions);
``read_chunks`` reads a file as written; ``score_chunk`` scores a chunk and, when a value
does not read, raises the error naming its file, row, column and value.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow.parquet as pq

from loopml.core.compile import CompiledScorer, Scorer
from loopml.core.data import dialect
from loopml.core.data.dialect import CsvDialect
from loopml.core.data.ingest import file_kind, read_csv_chunks
from loopml.core.scoring import ScoringModel
from loopml.errors import DataContractError, PredictionInputError

T = TypeVar("T")
FILE_FIX = "correct the cell or leave it empty (the model reads it as missing)"


def model_of(scorer: Scorer) -> ScoringModel:
    """The model behind ``scorer`` (a compiled graph's model, or the model itself)."""
    return scorer.model if isinstance(scorer, CompiledScorer) else scorer


def scored_rows(scorer: Scorer, frame: pd.DataFrame) -> pd.DataFrame:
    """Ids, then predictions: what batch scoring writes for ``frame``, on either backend.

    Id columns are read by the model's data contract like the features (an integer id
    stays an integer, a code such as ``"00123"`` stays text), so both backends and every
    chunk write them with the same types.
    """
    keep = [c for c in scorer.id_columns if c in frame.columns]
    scored = scorer.score_frame(frame)
    model = model_of(scorer)
    ids = frame[keep] if model.contract is None else model.contract.apply(frame[keep])
    return pd.concat([ids.reset_index(drop=True), scored.reset_index(drop=True)], axis=1)


def score_chunk(
    scorer: Scorer, chunk: pd.DataFrame, source: Path, *, first_row: int
) -> pd.DataFrame:
    """Ids, then predictions, for one chunk of ``source`` whose first row is ``first_row``.

    Raises
    ------
    DataContractError
        Naming the file, the row in it, the column and the value.
    PredictionInputError
        For a column the model needs that the file lacks.
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
    model = model_of(scorer)
    if model.contract is not None:
        columns = [*model.feature_names, *(c for c in scorer.id_columns if c in chunk)]
        model.contract.apply(chunk[columns], source=str(source), first_row=first_row, fix=FILE_FIX)


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


def ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
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


def row_count(source: Path) -> int | None:
    """Rows in ``source`` when the file says so without being read (Parquet), else None."""
    if file_kind(str(source)) == "parquet":
        return int(pq.ParquetFile(source).metadata.num_rows)
    return None
