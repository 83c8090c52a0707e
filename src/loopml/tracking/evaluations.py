"""MLflow side of evaluation: read a model's run, add results to it, log report runs.

Which model a reference names, aliases and version tags: ``loopml.tracking.registry``.
Results are added to the run that trained the model.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.errors import TrackingError
from loopml.tracking.mlflow_errors import failure_line, is_absent, mlflow_errors
from loopml.tracking.store import KIND_TAG, Tracker


def run_tags(tracker: Tracker, run_id: str) -> dict[str, str]:
    return dict(tracker.client.get_run(run_id).data.tags)


def run_document(tracker: Tracker, run_id: str, path: str) -> Any | None:
    """A JSON artifact of the run, or None when the run has none at that path."""
    doing = f"reading {path} of run {run_id}"
    with tempfile.TemporaryDirectory() as folder, mlflow_errors(doing, uri=tracker.cfg.uri):
        try:
            local = tracker.client.download_artifacts(run_id, path, folder)
        except Exception as exc:
            if is_absent(exc):
                return None
            raise
        return json.loads(Path(local).read_text(encoding="utf-8"))


def log_results(
    tracker: Tracker,
    run_id: str,
    folder: str,
    files: list[Path],
    metrics: dict[str, float],
    tags: dict[str, str],
) -> None:
    """Add files (under the artifact ``folder``), metrics and tags to a finished run."""
    from mlflow.entities import Metric, RunTag

    stamp = int(pd.Timestamp.now().timestamp() * 1000)
    with mlflow_errors(f"logging results to run {run_id}", uri=tracker.cfg.uri):
        for local in files:
            tracker.client.log_artifact(run_id, str(local), folder)
        tracker.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items() if v == v],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )


def log_report_run(
    tracker: Tracker, name: str, kind: str, report: Path, tags: dict[str, str], summary: Any
) -> str:
    """A run of its own (e.g. a data profile) holding one HTML report; all or nothing."""
    import mlflow

    experiment_id = tracker.experiment_id()
    run = tracker.client.create_run(
        str(experiment_id), run_name=name, tags={KIND_TAG: kind, **tags}
    )
    run_id = str(run.info.run_id)
    try:
        tracker.client.log_artifact(run_id, str(report), "report")
        with mlflow.start_run(run_id=run_id):
            mlflow.log_dict(summary, "report/summary.json")
    except Exception as exc:
        tracker.client.delete_run(run_id)
        reason = failure_line(exc, f"logging the {kind} report", uri=tracker.cfg.uri)
        raise TrackingError(f"{reason}; nothing was kept") from exc
    return run_id
