"""`loopml feedback FILE`: true labels that arrive later, joined to predictions by request id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from loopml.config import ProjectConfig
from loopml.core import labels as labels_check
from loopml.core.data.ingest import read_file
from loopml.errors import DataValidationError
from loopml.tracking.models import model_metadata
from loopml.tracking.prediction_log import FeedbackResult, Label, PredictionLog
from loopml.workflows.events import Reporter, SilentReporter
from loopml.workflows.monitor import log_url

ID_COLUMN = "request_id"


@dataclass(frozen=True)
class FeedbackOutcome:
    result: FeedbackResult
    log: str  # the log's file, or its URL without the password
    label_column: str
    skipped: int  # rows without a label
    duplicates: int = 0  # rows repeating a record's label, stored once


def record_feedback(
    cfg: ProjectConfig,
    source: Path,
    *,
    label_column: str | None = None,
    reporter: Reporter | None = None,
) -> FeedbackOutcome:
    """Read ``request_id`` (+ optional ``row``) and a label column; store every label at once."""
    reporter = reporter or SilentReporter()
    frame = read_file(str(source))
    column = _label_column(frame, source, label_column, cfg.data.target)
    labels, lines, skipped = _labels(frame, source, column)
    if skipped:
        reporter.warn(f"{source}: {skipped} rows have no value in '{column}' and are left out")
    items = [(lab.request_id, lab.row, lab.value) for lab in labels]
    checked = labels_check.check(
        items, served_contract(cfg), lambda i: f"{source}: line {lines[i]}"
    )
    if checked.refused:
        raise DataValidationError(checked.first_problem() + "; nothing was recorded")
    if checked.duplicates:
        reporter.warn(
            f"{source}: {checked.duplicates} rows repeat a request_id and row with the same "
            "label; each record is stored once"
        )
    log = PredictionLog(log_url(cfg))
    result = log.add_feedback([Label(rid, label, row) for rid, row, label in checked.labels])
    if result.unmatched:
        reporter.warn(
            f"{result.unmatched} of {result.received} labels match no logged prediction yet; "
            "they are kept and join when (or if) that request is logged"
        )
    return FeedbackOutcome(result, log.where, column, skipped, checked.duplicates)


def served_contract(cfg: ProjectConfig) -> labels_check.LabelContract:
    """What a true label must be: a class (or a number) of the model ``serve.alias`` names."""
    uri = f"models:/{cfg.model_name}@{cfg.serve.alias}"
    name, version, meta = model_metadata(uri, tracking_uri=cfg.tracking.uri)
    model = f"{name} v{version}" if version else name
    return labels_check.LabelContract(meta["task"], tuple(meta.get("classes") or ()), model)


def _label_column(frame: pd.DataFrame, source: Path, chosen: str | None, target: str) -> str:
    if ID_COLUMN not in frame.columns:
        names = [str(c) for c in frame.columns]
        shown = ", ".join(names[:8]) + (f", … {len(names) - 8} more" if len(names) > 8 else "")
        raise DataValidationError(
            f"{source}: no '{ID_COLUMN}' column (columns: {shown}); "
            "add the request_id each prediction answered with"
        )
    candidates = [chosen] if chosen else [target, "label"]
    for name in candidates:
        if name in frame.columns:
            return name
    wanted = " or ".join(f"'{c}'" for c in candidates)
    raise DataValidationError(
        f"{source}: no label column {wanted}; name it after the target or pass --label-column"
    )


def _labels(frame: pd.DataFrame, source: Path, column: str) -> tuple[list[Label], list[int], int]:
    """The labelled rows, the file line of each (header = line 1), and how many had none."""
    ids = frame[ID_COLUMN]
    if ids.isna().any():
        line = int(ids.isna().to_numpy().argmax()) + 2
        raise DataValidationError(f"{source}: line {line} has no {ID_COLUMN}; fill it or drop it")
    rows = _row_numbers(frame, source)
    present = frame[column].notna().to_numpy()
    values = frame[column].tolist()
    labels = [
        Label(str(ids.iloc[i]), values[i], int(rows[i])) for i in range(len(frame)) if present[i]
    ]
    if not labels:
        raise DataValidationError(f"{source}: column '{column}' has no values; nothing to record")
    lines = [i + 2 for i in range(len(frame)) if present[i]]
    return labels, lines, int((~present).sum())


def _row_numbers(frame: pd.DataFrame, source: Path) -> list[int]:
    if "row" not in frame.columns:
        return [0] * len(frame)
    numbers = pd.to_numeric(frame["row"], errors="coerce")
    wrong = numbers.isna() | (numbers < 0) | (numbers % 1 != 0) | (numbers >= 2**31)
    if wrong.any():
        bad = frame["row"][wrong].iloc[0]
        raise DataValidationError(
            f"{source}: column 'row' must hold record positions 0, 1, … (got {bad!r}); fix it"
        )
    return [int(n) for n in numbers]
