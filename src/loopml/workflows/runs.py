"""`loopml runs`: the project's latest training runs, newest first, as rows or JSON records."""

from __future__ import annotations

import math
from typing import Any

from loopml.config import ProjectConfig
from loopml.tracking.store import RunRow, Tracker


def list_runs(cfg: ProjectConfig, limit: int = 20) -> list[RunRow]:
    """The latest training runs of the project's experiment.

    Parameters
    ----------
    cfg : ProjectConfig
        The project; its tracking store and experiment are read.
    limit : int
        At most this many runs, newest first.

    Returns
    -------
    list of RunRow
        Run id, start time, winning model, validation/test/baseline scores of the
        selection metric, registered version and aliases; empty before the first run.
    """
    return Tracker.from_config(cfg).list_runs(limit)


def run_record(row: RunRow) -> dict[str, Any]:
    """``row`` as a JSON-ready dict: the start time in ISO 8601, a missing score as None."""
    values = dict(row.__dict__)
    values["started"] = row.started.isoformat()
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}
