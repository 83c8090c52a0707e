"""`loopml feedback FILE`: true labels that arrive later, joined to predictions by request id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from loopml.config import ProjectConfig
from loopml.core.data.ingest import read_file
from loopml.errors import DataValidationError
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
    labels, skipped = _labels(frame, source, column)
    if skipped:
        reporter.warn(f"{source}: {skipped} rows have no value in '{column}' and are left out")
    log = PredictionLog(log_url(cfg))
    result = log.add_feedback(labels)
    if result.unmatched:
        reporter.warn(
            f"{result.unmatched} of {result.received} labels match no logged prediction yet; "
            "they are kept and join when (or if) that request is logged"
        )
    return FeedbackOutcome(result, log.where, column, skipped)


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


def _labels(frame: pd.DataFrame, source: Path, column: str) -> tuple[list[Label], int]:
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
    return labels, int((~present).sum())


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
