"""MLflow side of evaluation and promotion: find a model, read its run, log results, aliases.

A reference is what the user typed: a run id, a version number or an alias (``challenger``
by default). Results are added to the run that trained the model; the gate decision is
tagged on its model version.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.errors import ModelNotFoundError, TrackingError
from loopml.tracking.store import CHALLENGER, KIND_TAG, Tracker

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class ModelRef:
    run_id: str
    version: str | None
    uri: str  # what loopml.tracking.models.load takes

    def describe(self, model_name: str) -> str:
        return f"{model_name} v{self.version}" if self.version else f"run {self.run_id}"


def resolve(tracker: Tracker, ref: str | None, default_alias: str = CHALLENGER) -> ModelRef:
    """The model version (and its run) that ``ref`` names: run id, version or alias."""
    from mlflow.exceptions import MlflowException

    name, wanted = tracker.model_name, (ref or default_alias).strip()
    try:
        if _RUN_ID.match(wanted):
            return _by_run(tracker, wanted)
        if wanted.isdigit():
            version = tracker.client.get_model_version(name, wanted)
        else:
            version = tracker.client.get_model_version_by_alias(name, wanted)
    except MlflowException:
        raise ModelNotFoundError(
            f"'{wanted}' is not a run id, version or alias of model '{name}'; "
            "see `loopml runs` (train one with `loopml run`)"
        ) from None
    return ModelRef(str(version.run_id), str(version.version), f"models:/{name}/{version.version}")


def _by_run(tracker: Tracker, run_id: str) -> ModelRef:
    if not tracker.run_exists(run_id):
        raise ModelNotFoundError(f"run '{run_id}' does not exist; see `loopml runs`")
    versions = [
        v
        for v in tracker.client.search_model_versions(f"run_id = '{run_id}'")
        if v.name == tracker.model_name
    ]
    if not versions:
        return ModelRef(run_id, None, f"runs:/{run_id}/model")
    version = max(versions, key=lambda v: int(v.version))
    return ModelRef(run_id, str(version.version), f"models:/{tracker.model_name}/{version.version}")


def run_tags(tracker: Tracker, run_id: str) -> dict[str, str]:
    return dict(tracker.client.get_run(run_id).data.tags)


def run_document(tracker: Tracker, run_id: str, path: str) -> Any | None:
    """A JSON artifact of the run, or None when the run has none at that path."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as folder:
        try:
            local = tracker.client.download_artifacts(run_id, path, folder)
        except (MlflowException, OSError):
            return None
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
    from mlflow.exceptions import MlflowException

    stamp = int(pd.Timestamp.now().timestamp() * 1000)
    try:
        for local in files:
            tracker.client.log_artifact(run_id, str(local), folder)
        tracker.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items() if v == v],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
    except MlflowException as exc:
        raise TrackingError(f"logging results to run {run_id} failed: {exc.message}") from exc


def tag_version(tracker: Tracker, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        tracker.client.set_model_version_tag(tracker.model_name, version, key, value[:5000])


def set_alias(tracker: Tracker, alias: str, version: str) -> None:
    tracker.client.set_registered_model_alias(tracker.model_name, alias, version)


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
        raise TrackingError(f"logging the {kind} report failed ({exc}); nothing was kept") from exc
    return run_id
