"""The training data, read where the compute backend reads it (``compute.make``).

Locally, ``workflows.prepare`` reads the whole file. With ``train.distributed: true``
(``compute.RayTrainCompute``) the driver never reads the whole file: the backend reads it
on Ray Data and hands ``_sample`` a sample of at most ``train.sample_rows`` rows, which is
checked, its roles inferred and split here as every row will be (the preprocessing, the
baseline, calibration and the report work on it); the workers then split every row, and
the boosters are trained on all of the training split (``RayTrainCompute.fit``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loopml import compute
from loopml.config import ProjectConfig
from loopml.core.data import checks, ingest, split
from loopml.workflows.events import Reporter
from loopml.workflows.prepare import Prepared, check, learn_contract
from loopml.workflows.prepare import prepare as prepare_here


def training_data(
    cfg: ProjectConfig, reporter: Reporter, backend: compute.Compute, *, whole: bool = True
) -> Prepared:
    """The checked, split training data as ``backend`` reads it: whole here, or a sample
    here and (with ``whole``) every row split on Ray. Call it inside
    ``backend.training_session``; ``whole=False`` (evaluation) reads the sample only."""
    return backend.read_training(
        lambda: prepare_here(cfg, reporter),
        lambda raw, whole: _sample(cfg, raw, reporter, whole),
        data=cfg.data,
        split=cfg.split,
        stage=reporter.stage,
        warn=reporter.warn,
        whole=whole,
    )


def _sample(
    cfg: ProjectConfig, rows: compute.Sample, reporter: Reporter, whole: bool
) -> tuple[Prepared, tuple[pd.Timestamp, pd.Timestamp] | None]:
    """The sample, checked and split as every row will be; and the time cutoffs, if any."""
    frame, draws = rows.frame, rows.draws
    sampled = rows.rows > len(frame)
    if sampled:
        reporter.stage(f"Checking a sample of {len(frame):,} of the {rows.rows:,} rows")
    table = ingest.Table(frame, cfg.data.source, rows.dialect)
    checks.check_columns_exist(frame, cfg.data, cfg.split.time_column)
    # Rows the contract reads no label in are dropped here, as the workers drop them, so
    # the draws stay beside their rows; check() learns the contract as local training does.
    target = cfg.data.target
    labelled = learn_contract(cfg, table).apply(frame[[target]])[target].notna().to_numpy()
    table = ingest.Table(frame[labelled].reset_index(drop=True), cfg.data.source, rows.dialect)
    draws = draws[labelled]
    found = check(cfg, table, reporter)
    cutoffs, places, how = _places(found.frame, draws, cfg)
    if sampled and not whole:
        how += f"; a sample of {len(frame):,} of {rows.rows:,} rows"
    splits = split.from_places(found.frame, places, how)
    data = Prepared(
        found.frame,
        cfg.data.target,
        found.task,
        found.roles,
        splits,
        rows.fingerprint,
        found.warnings,
        found.contract,
        whole_rows=rows.rows if sampled else None,
    )
    return data, cutoffs


def _places(
    frame: pd.DataFrame, draws: np.ndarray, cfg: ProjectConfig
) -> tuple[tuple[pd.Timestamp, pd.Timestamp] | None, np.ndarray, str]:
    """The sample's places, and the time cutoffs the workers place every row by."""
    column = cfg.split.time_column
    if not column:
        return None, split.place(draws, cfg.split), "hashed"
    moments = split.times(frame, column)
    cutoffs = split.time_cutoffs(moments, cfg.split)
    return cutoffs, split.place_by_time(moments, cutoffs), f"time-based on '{column}'"
