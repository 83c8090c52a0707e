"""The training data on Ray Data (``train.distributed``): read, split and scored by the workers.

The driver never holds the file. It gets its row count and fingerprint (one pass), a
sample of at most ``train.sample_rows`` rows (checks, roles, preprocessing, baseline,
calibration and the evaluation report work on it), and small results: split sizes, class
labels and the predictions on validation and test. Each row's split comes from the row
itself (``core.data.split.draws``), so the sample's split is a sample of the whole split.
CSV cells are read as text in the file's dialect, as the local reader reads them; each row's
draws are a hash of those cells (Parquet: of its stored values), in every block and in the
sample. Workers type each block with the sample's data contract (``DataContract.apply``),
as local training types the whole file, so the pipeline fitted on the sample sees the same
types everywhere. Ray is imported here only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.compute import ray_profile
from loopml.compute.ray_train import LABEL
from loopml.config import CsvConfig, SplitConfig, Task
from loopml.core import training
from loopml.core.boosters import as_dense
from loopml.core.data import split
from loopml.core.data.contract import DataContract
from loopml.core.data.dialect import CsvDialect

DRAW = "__loopml_draw__"  # the row's split draw, kept in the sample
SAMPLE_DRAW = "__loopml_sample_draw__"
PLACE = "__loopml_split__"  # train, validation or test


@dataclass(frozen=True)
class RawRows:
    """The file on Ray as read (CSV cells as text), each row with its draws; its row count,
    content fingerprint and CSV dialect (None for Parquet)."""

    dataset: Any
    rows: int
    fingerprint: str
    dialect: CsvDialect | None = None


@dataclass(frozen=True)
class PlacedRows:
    """Every labelled row as read, with its split in ``PLACE`` (materialized)."""

    dataset: Any
    sizes: dict[str, int]
    unlabelled: int  # rows dropped for a missing target
    contract: DataContract  # the sample's: it types each batch before a model sees it
    labels: np.ndarray | None  # with classes: the class labels over every row, sorted


def open_rows(source: str, seed: int, csv: CsvConfig | None = None) -> RawRows:
    """Read ``source`` on Ray and count and fingerprint its rows (one pass over the file)."""
    raw, found = ray_profile.read(source, csv, fix="set train.distributed: false")
    dataset = raw.map_batches(_with_draws, fn_kwargs={"seed": seed}, batch_format="pyarrow")
    digests = dataset.map_batches(_digest, batch_format="pandas").to_pandas()
    rows = int(digests["rows"].sum())
    summed = sum(int(v) for v in digests["sum"].astype("uint64")) % 2**64
    schema = str(raw.schema())
    fingerprint = hashlib.sha256(f"{schema}|{rows}|{summed}".encode()).hexdigest()[:16]
    return RawRows(dataset, rows, fingerprint, found)


def sample(raw: RawRows, source: str, rows: int) -> pd.DataFrame:
    """About ``rows`` rows, the same ones on every run, as the local reader reads them.

    Each row is kept when its sampling draw falls under ``rows / raw.rows``, so the sample
    depends on the file's content, not on how Ray cuts it into blocks. Its ``DRAW`` column
    is each row's split draw.
    """
    below = split.DRAW_RANGE * min(1.0, rows / max(raw.rows, 1))
    picked = raw.dataset.map_batches(_kept, fn_kwargs={"below": below}, batch_format="pandas")
    return ray_profile.local_frame(picked, source)


def place(
    raw: RawRows,
    read: DataContract,
    target: str,
    cfg: SplitConfig,
    cutoffs: tuple[pd.Timestamp, pd.Timestamp] | None,
    *,
    classes: bool,
) -> PlacedRows:
    """Every labelled row placed in its split, held in Ray's object store.

    The rows stay as read; the functions below type each batch with ``read`` (the sample's
    contract) before a model sees it. A row is unlabelled when ``read`` reads its target as
    missing.
    """
    placed = raw.dataset.map_batches(
        _placed,
        fn_kwargs={"read": read, "target": target, "cfg": cfg, "cutoffs": cutoffs},
        batch_format="pyarrow",
    ).materialize()
    # Rows per split (and class), counted per block: a few rows back, no shuffle.
    label = target if classes else None
    tally = placed.map_batches(_tally, fn_kwargs={"label": label}, batch_format="pandas")
    counted = tally.to_pandas()
    per_part = counted.groupby(PLACE)["rows"].sum()
    sizes = {part: int(per_part.get(part, 0)) for part in split.PARTS}
    labels = np.unique(read.apply(counted[[target]])[target]) if classes else None
    return PlacedRows(placed, sizes, raw.rows - sum(sizes.values()), read, labels)


def training_rows(placed: PlacedRows, preprocess: Any, features: list[str], target: str) -> Any:
    """The training split as a numeric matrix plus ``LABEL``, transformed on the workers.

    ``LABEL`` is a class's index in ``placed.labels``, or the target itself (regression).
    """
    kwargs = {"preprocess": preprocess, "features": features, "target": target}
    kwargs |= {"labels": placed.labels, "read": placed.contract}
    transformed = placed.dataset.map_batches(_matrix, fn_kwargs=kwargs, batch_format="pyarrow")
    # Transform now, on the workers: once Ray Train holds the CPUs, nothing else could run.
    return transformed.materialize()


def predictions(
    placed: PlacedRows, part: str, model: Any, features: list[str], target: str, task: Task
) -> pd.DataFrame:
    """``model``'s predictions on one split, made on the workers: ``y``, ``predicted``, ``p0``...

    Labels (and predicted classes) come back as the contract reads the target (whole
    numbers as floats where a block holds a fraction), probabilities as floats.
    """
    import pyarrow as pa

    kwargs = {"part": part, "model": model, "features": features, "target": target, "task": task}
    kwargs["read"] = placed.contract
    scored = placed.dataset.map_batches(_predicted, fn_kwargs=kwargs, batch_format="pyarrow")
    tables = list(scored.iter_batches(batch_size=None, batch_format="pyarrow"))
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()


def _with_draws(block: Any, seed: int) -> pd.DataFrame:
    batch = block.to_pandas()  # numpy-backed: text cells as str, hashed alike in any block
    place_draw, sample_draw = split.draws(batch, seed)
    return batch.assign(**{DRAW: place_draw, SAMPLE_DRAW: sample_draw})


def _digest(batch: pd.DataFrame) -> pd.DataFrame:
    """Rows and the sum of the rows' hashes (mod 2**64): the same for any order or blocking."""
    hashed = (batch[DRAW].to_numpy().astype(np.uint64) << np.uint64(32)) | batch[
        SAMPLE_DRAW
    ].to_numpy().astype(np.uint64)
    total = np.add.reduce(hashed, dtype=np.uint64) if len(hashed) else np.uint64(0)
    return pd.DataFrame({"rows": [len(batch)], "sum": [np.uint64(total).view(np.int64)]})


def _tally(batch: pd.DataFrame, label: str | None) -> pd.DataFrame:
    """Rows of the batch per split (and per class label, as text)."""
    keys = pd.DataFrame({PLACE: batch[PLACE].astype(str)})
    if label is not None:
        keys[label] = batch[label].astype(str)
    counted = keys.value_counts().rename("rows").reset_index()
    return counted.astype({column: str for column in keys.columns} | {"rows": "int64"})


def _kept(batch: pd.DataFrame, below: float) -> pd.DataFrame:
    return batch[batch[SAMPLE_DRAW].to_numpy() < below].drop(columns=SAMPLE_DRAW)


def _placed(
    block: Any,
    read: DataContract,
    target: str,
    cfg: SplitConfig,
    cutoffs: tuple[pd.Timestamp, pd.Timestamp] | None,
) -> pd.DataFrame:
    batch = block.to_pandas()
    keys = [target] + ([cfg.time_column] if cutoffs is not None and cfg.time_column else [])
    typed = read.apply(batch[keys], first_row=None)
    labelled = typed[target].notna().to_numpy()
    if cutoffs is not None and cfg.time_column:
        places = split.place_by_time(split.times(typed[labelled], cfg.time_column), cutoffs)
    else:
        places = split.place(batch[DRAW].to_numpy()[labelled], cfg)
    rows = batch[labelled].drop(columns=[DRAW, SAMPLE_DRAW])
    return rows.assign(**{PLACE: places}).reset_index(drop=True)


def _matrix(
    block: Any,
    preprocess: Any,
    features: list[str],
    target: str,
    labels: np.ndarray | None,
    read: DataContract,
) -> pd.DataFrame:
    rows = _rows(block, "train", read)
    if rows.empty:
        return pd.DataFrame()
    matrix = as_dense(preprocess.transform(rows[features]))
    out = pd.DataFrame(matrix, columns=[f"f{i}" for i in range(matrix.shape[1])])
    y = rows[target].to_numpy()
    out[LABEL] = y.astype("float64") if labels is None else np.searchsorted(labels, y) * 1.0
    return out


def _predicted(
    block: Any,
    part: str,
    model: Any,
    features: list[str],
    target: str,
    task: Task,
    read: DataContract,
) -> pd.DataFrame:
    rows = _rows(block, part, read)
    if rows.empty:
        return pd.DataFrame()
    predicted, proba = training.predict(model, rows[features], task)
    out = pd.DataFrame({"y": rows[target].to_numpy(), "predicted": predicted})
    for i in range(0 if proba is None else proba.shape[1]):
        out[f"p{i}"] = proba[:, i]  # type: ignore[index]
    return out


def _rows(block: Any, part: str, read: DataContract) -> pd.DataFrame:
    """The block's rows of one split, typed by the sample's contract (as local training
    types the file); a value it cannot read is a ``DataContractError`` naming its column."""
    batch = block.to_pandas()
    rows = batch[(batch[PLACE] == part).to_numpy()].drop(columns=PLACE)
    return read.apply(rows, first_row=None).reset_index(drop=True)
