"""Bounded prediction logs: `loopml log prune`, and the server's periodic retention.

Both delete the oldest logged requests (beyond ``days`` or beyond the newest ``rows``)
with the labels of those requests; labels of requests not logged (yet) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopml.config import ProjectConfig, RetentionConfig, duration_seconds
from loopml.errors import ConfigError
from loopml.tracking.prediction_log import PredictionLog
from loopml.workflows.monitor import log_url


@dataclass(frozen=True)
class Pruned:
    deleted: int  # logged requests deleted, with their labels
    log: str  # the log's file, or its URL without the password


def prune_log(cfg: ProjectConfig, older_than: str | None, rows: int | None) -> Pruned:
    """Apply ``older_than`` (e.g. ``30d``) and/or ``rows``; by default the configured retention."""
    seconds = _seconds(older_than) if older_than else None
    if seconds is None and rows is None:
        kept = cfg.serve.prediction_log.retention
        seconds, rows = kept.max_age, kept.rows
    if seconds is None and rows is None:
        raise ConfigError(
            "nothing to prune by: pass --older-than (e.g. 30d) or --rows, or set "
            "serve.prediction_log.retention.max_age or .rows"
        )
    log = PredictionLog(log_url(cfg))
    return Pruned(log.prune(older_than=seconds, keep_rows=rows), log.where)


def apply_retention(log: PredictionLog, retention: RetentionConfig) -> int:
    """What the server runs every ``retention.interval``."""
    return log.prune(older_than=retention.max_age, keep_rows=retention.rows)


def _seconds(text: str) -> float:
    try:
        return duration_seconds(text)
    except ValueError as exc:
        raise ConfigError(f"--older-than: {exc}") from None
