"""MLflow side of monitoring: the watched version's reference profile, and the runs that
record monitoring, retraining triggers and their chain of links. (Which version a reference
names: ``loopml.tracking.registry``.)

Links are tags holding run ids and versions, set on both ends:
trigger run ``loopml.monitor_run_id`` -> monitoring run, ``loopml.training_run_id`` ->
training run (which carries ``loopml.trigger_run_id`` back), ``loopml.gate.*`` and
``loopml.promoted_version`` -> model version (which carries ``loopml.trigger_run_id``).
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.core.reference import ReferenceProfile
from loopml.errors import ModelNotFoundError, TrackingError
from loopml.tracking.mlflow_errors import failure_line, is_absent, is_not_found, mlflow_errors
from loopml.tracking.registry import ModelRef as ModelRef  # watch/monitor annotate with it
from loopml.tracking.store import KIND_TAG, Tracker
from loopml.tracking.store import _quiet as quiet

REFERENCE_ARTIFACT = "monitoring/reference.json"
TRIGGER_KEY_TAG = "loopml.trigger.key"
TRIGGER_RUN_TAG = "loopml.trigger_run_id"


def load_reference(tracker: Tracker, ref: ModelRef) -> ReferenceProfile:
    """The reference profile logged with the model's training run."""
    from pydantic import ValidationError

    doing = f"reading {REFERENCE_ARTIFACT} of run {ref.run_id}"
    with (
        tempfile.TemporaryDirectory() as folder,
        quiet(),
        mlflow_errors(doing, uri=tracker.cfg.uri),
    ):
        try:
            local = tracker.client.download_artifacts(ref.run_id, REFERENCE_ARTIFACT, folder)
            text = Path(local).read_text(encoding="utf-8")
        except Exception as exc:
            if not is_absent(exc):
                raise
            raise ModelNotFoundError(
                f"{ref.describe()} (run {ref.run_id}) has no {REFERENCE_ARTIFACT}: it was trained "
                "before monitoring existed; train again with `loopml run --force`"
            ) from None
    try:
        return ReferenceProfile.model_validate_json(text)
    except ValidationError as exc:
        raise TrackingError(
            f"{REFERENCE_ARTIFACT} of run {ref.run_id} is unreadable ({exc.error_count()} "
            "problems); train again with `loopml run --force`"
        ) from None


def run_metric(tracker: Tracker, run_id: str, name: str) -> float | None:
    value = tracker.client.get_run(run_id).data.metrics.get(name)
    return None if value is None else float(value)


def run_started(tracker: Tracker, run_id: str) -> float:
    """Start of a run, in Unix seconds."""
    return float(tracker.client.get_run(run_id).info.start_time) / 1000


@dataclass
class Logged:
    """What a monitoring or trigger run holds; written in one go."""

    name: str
    kind: str
    tags: dict[str, str]
    metrics: dict[str, float]
    files: dict[str, Path]  # artifact path -> local file
    documents: dict[str, Any]  # artifact path -> JSON value


def log_run(tracker: Tracker, record: Logged) -> str:
    """Create a finished run holding ``record``; nothing remains if logging fails."""
    from mlflow.entities import Metric, RunTag

    experiment_id = tracker.experiment_id()
    assert experiment_id is not None
    tags = {KIND_TAG: record.kind, **record.tags}
    run = tracker.client.create_run(experiment_id, run_name=record.name, tags=tags)
    run_id = run.info.run_id
    try:
        stamp = int(run.info.start_time)
        finite = {k: v for k, v in record.metrics.items() if v == v and abs(v) != float("inf")}
        tracker.client.log_batch(
            run_id,
            metrics=[Metric(_metric_key(k), v, stamp, 0) for k, v in finite.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        for path, local in record.files.items():
            folder = str(Path(path).parent)
            tracker.client.log_artifact(run_id, str(local), None if folder == "." else folder)
        for path, value in record.documents.items():
            tracker.client.log_text(run_id, json.dumps(value, indent=2, default=str), path)
        tracker.client.set_terminated(run_id)
    except Exception as exc:
        tracker.client.delete_run(run_id)
        doing = f"logging {record.kind} run to {tracker.cfg.uri}"
        raise TrackingError(failure_line(exc, doing, uri=tracker.cfg.uri)) from exc
    return str(run_id)


def start_run(tracker: Tracker, name: str, kind: str, tags: dict[str, str]) -> str:
    """A run left RUNNING until ``finish_run``: a crash leaves it unfinished, and visible."""
    experiment_id = tracker.experiment_id()
    assert experiment_id is not None
    run = tracker.client.create_run(experiment_id, run_name=name, tags={KIND_TAG: kind, **tags})
    return str(run.info.run_id)


def finish_run(
    tracker: Tracker, run_id: str, tags: dict[str, str], document: dict[str, Any], ok: bool
) -> None:
    from mlflow.entities import RunTag

    tracker.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    tracker.client.log_text(run_id, json.dumps(document, indent=2, default=str), "chain.json")
    tracker.client.set_terminated(run_id, "FINISHED" if ok else "FAILED")


def finished_trigger(tracker: Tracker, key: str) -> str | None:
    """The finished trigger run that already handled ``key``, if any."""
    experiment_id = tracker.experiment_id(create=False)
    if experiment_id is None:
        return None
    runs = tracker.client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TRIGGER_KEY_TAG}` = '{key}' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    return str(runs[0].info.run_id) if runs else None


def tag_run(tracker: Tracker, run_id: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        tracker.client.set_tag(run_id, key, value)


def version_history(tracker: Tracker) -> list[dict[str, Any]]:
    """Every version of the project's model, newest first, with aliases and creation time."""
    with mlflow_errors(f"reading the versions of {tracker.model_name}", uri=tracker.cfg.uri):
        try:
            model = tracker.client.get_registered_model(tracker.model_name)
        except Exception as exc:
            if is_not_found(exc):
                return []
            raise
        versions = tracker.client.search_model_versions(f"name = '{tracker.model_name}'")
    aliases: dict[str, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    rows = [
        {
            "version": str(v.version),
            "run_id": v.run_id,
            "created": int(v.creation_timestamp),
            "aliases": sorted(aliases.get(str(v.version), [])),
            "trigger_run_id": (v.tags or {}).get(TRIGGER_RUN_TAG, ""),
        }
        for v in versions
    ]
    return sorted(rows, key=lambda r: int(r["version"]), reverse=True)


def _metric_key(name: str) -> str:
    """MLflow metric names allow letters, digits and _-. /; replace anything else."""
    return re.sub(r"[^\w\-. /]", "_", name)
