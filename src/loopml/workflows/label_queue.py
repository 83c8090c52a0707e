"""`loopml label-queue`: served rows worth a human label, as a CSV `loopml feedback` reads back.

The rows come from the prediction log (the monitoring window, this model's name, no shadow
rows); ``core.label_queue`` picks them: abstained rows, the least confident predictions
and rows from drifted regions, each input once, none labelled already.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from loopml.config import ProjectConfig
from loopml.core import drift as drift_stats
from loopml.core import label_queue
from loopml.errors import DataError
from loopml.tracking import monitoring as runs
from loopml.tracking import registry
from loopml.tracking.prediction_log import PredictionLog
from loopml.tracking.store import Tracker
from loopml.workflows.events import Reporter, SilentReporter
from loopml.workflows.issues import write_csv
from loopml.workflows.monitor import (
    describe_source,
    log_url,
    model_contract,
    read_logged,
)
from loopml.workflows.predict import model_uri

DEFAULT_MAX_ROWS = 100


@dataclass(frozen=True)
class QueueResult:
    table: pd.DataFrame  # the rows written, most useful first
    output: Path
    source: str  # the log and window read
    model: str  # the model whose rows and reference were used
    considered: int  # logged rows not labelled yet
    counts: dict[str, int]  # rows per reason
    notes: list[str]
    label_column: str  # the empty column to fill in


def write_queue(
    cfg: ProjectConfig,
    output: Path,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    model: str | None = None,
    reporter: Reporter | None = None,
) -> QueueResult:
    """Choose at most ``max_rows`` logged rows to label and write them to ``output`` (CSV,
    whole or not at all): request_id, row, reason, score, the model's answer, the inputs as
    logged and an empty column named after the target. Raises ``DataError`` when the log
    holds no row of the model, ``StorageError`` when ``output`` cannot be written."""
    reporter = reporter or SilentReporter()
    tracker = Tracker.from_config(cfg)
    ref = registry.resolve(tracker, model_uri(cfg, model))
    profile = runs.load_reference(tracker, ref)
    log = PredictionLog(log_url(cfg))
    window = cfg.monitoring.window
    source = describe_source(cfg, None)
    reporter.stage(f"Reading {source}")
    logged = log.window(
        model_name=ref.name, rows=window.rows, max_age=window.max_age, classes=profile.classes
    )
    if logged.empty:
        raise DataError(
            f"{source} holds no prediction of {ref.name}; serve it (loopml serve) and let "
            "traffic arrive, or widen monitoring.window"
        )
    features = list(profile.features)
    typed = read_logged(
        logged.copy(), model_contract(tracker, ref, cfg), features, source, reporter
    )
    drift = drift_stats.compare(profile, typed, cfg.monitoring.drift)
    done = log.labelled(model_name=ref.name, classes=profile.classes)
    labelled = set(zip(done["request_id"].astype(str), done["row"].astype(int), strict=True))
    drifted = [f.column for f in drift.drifted if f.kind in ("numeric", "categorical")]
    queue = label_queue.choose(
        typed, features, profile, drifted, max_rows=max_rows, labelled=labelled
    )
    notes = list(queue.notes)
    if not drift.judged:
        notes.append(
            f"drift not judged on {drift.rows} rows (fewer than monitoring.drift.min_rows, "
            f"{cfg.monitoring.drift.min_rows}): no drifted-region rows"
        )
    table = _table(logged, queue, features, cfg.data.target)
    write_csv(table, output)
    return QueueResult(
        table, output, source, ref.describe(), queue.considered, queue.counts(), notes,
        cfg.data.target,
    )  # fmt: skip


def _table(
    logged: pd.DataFrame, queue: label_queue.Queue, features: list[str], target: str
) -> pd.DataFrame:
    chosen = logged.iloc[queue.positions].reset_index(drop=True)
    answer = [c for c in chosen.columns if c == "prediction" or c.startswith("proba_")]
    inputs = [c for c in features if c in chosen.columns]
    table = chosen[["request_id", "row"]].assign(reason=queue.reasons, score=queue.scores)
    table = pd.concat([table, chosen[["timestamp", "model_version", *answer, *inputs]]], axis=1)
    table[target] = pd.Series([None] * len(table), dtype=object)
    return table
