"""MLflow runs and registry: log a training run whole or not at all, register, list.

One ``Tracker`` per project. A failed log deletes its run, so a bad input never leaves
a half-written run or registry entry behind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from loopml.config import TrackingConfig
from loopml.core.data.contract import CONTRACT_FILE, DataContract, with_contract
from loopml.core.features import compact_vocabularies
from loopml.errors import ModelNotFoundError, TrackingError
from loopml.tracking.background import write_background
from loopml.tracking.compiled import compile_model, compiled_metrics
from loopml.tracking.mlflow_errors import failure_line, is_not_found, mlflow_errors
from loopml.tracking.registry import CHALLENGER, CHAMPION, alias_version, set_alias

if TYPE_CHECKING:
    from loopml.config import ProjectConfig

KIND_TAG = "loopml.kind"
KEY_TAG = "loopml.training_key"
FINGERPRINT_TAG = "loopml.data_fingerprint"
WINNER_TAG = "loopml.winner"
_LOG_THREADS = 4


@dataclass
class ChildRun:
    name: str
    params: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, str] = field(default_factory=dict)
    children: list[ChildRun] = field(default_factory=list)  # e.g. one per search trial


@dataclass
class RunRecord:
    """Everything one `loopml run` logs: the tracker writes it in one go."""

    name: str
    params: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, str]
    documents: dict[str, Any]  # artifact path -> JSON/YAML-serialisable value
    figures: dict[str, Figure]
    children: list[ChildRun]
    model: Any  # fitted scikit-learn pipeline
    model_input: pd.DataFrame  # training features: signature and input example
    model_output: Any
    model_metadata: dict[str, Any]
    check_input: pd.DataFrame | None = None  # validation features: ONNX parity is checked on them
    contract: DataContract | None = None  # read raw rows in front of the model (plain MLflow)


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class RunRow:
    run_id: str
    started: pd.Timestamp
    winner: str
    metric: str
    validation: float
    test: float
    baseline_test: float
    version: str | None
    aliases: tuple[str, ...]


class Tracker:
    """MLflow tracking and registry for one project."""

    def __init__(self, cfg: TrackingConfig, experiment: str, model_name: str):
        import mlflow

        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        self.cfg, self.experiment, self.model_name = cfg, experiment, model_name
        self._ensure_store_folder()
        mlflow.set_tracking_uri(cfg.uri)
        mlflow.set_registry_uri(cfg.uri)
        self.client = mlflow.MlflowClient(tracking_uri=cfg.uri, registry_uri=cfg.uri)

    @classmethod
    def from_config(cls, cfg: ProjectConfig) -> Tracker:
        """The tracker of a project: its ``tracking`` store, experiment and model name.

        Parameters
        ----------
        cfg : ProjectConfig
            The whole project configuration (``tracking``, ``experiment_name``,
            ``model_name``).

        Returns
        -------
        Tracker
        """
        return cls(cfg.tracking, cfg.experiment_name, cfg.model_name)

    def _ensure_store_folder(self) -> None:
        if self.cfg.uri.startswith("sqlite:///"):
            Path(self.cfg.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    def experiment_id(self, create: bool = True) -> str | None:
        """The project's experiment, created when absent (unless ``create`` is False)."""
        with mlflow_errors(f"opening experiment '{self.experiment}'", uri=self.cfg.uri):
            return self._experiment_id(create)

    def _experiment_id(self, create: bool) -> str | None:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return str(found.experiment_id)
        if not create:
            return None
        try:
            location = self._artifact_location()
            return str(self.client.create_experiment(self.experiment, artifact_location=location))
        except MlflowException:  # another process sharing the server created it first
            found = self.client.get_experiment_by_name(self.experiment)
            if found is None:
                raise
            return str(found.experiment_id)

    def _artifact_location(self) -> str | None:
        """Where a new experiment keeps artifacts; a shared server decides for local paths."""
        location = self.cfg.artifacts
        if "://" in location:
            return location
        if self.cfg.uri.startswith(("http://", "https://")):
            return None  # a path on this machine means nothing to the team's server
        Path(location).mkdir(parents=True, exist_ok=True)
        return Path(location).resolve().as_uri()

    def find_same_run(self, training_key: str, fingerprint: str) -> str | None:
        """A finished run trained on the same data with the same settings, if any."""
        experiment_id = self.experiment_id(create=False)
        if experiment_id is None:
            return None
        runs = self.client.search_runs(
            [experiment_id],
            filter_string=(
                f"tags.`{KEY_TAG}` = '{training_key}' and tags.`{FINGERPRINT_TAG}` = "
                f"'{fingerprint}' and attributes.status = 'FINISHED'"
            ),
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def log_run(self, record: RunRecord) -> tuple[str, str]:
        """Log a whole training run; return (run_id, model_uri). On failure nothing remains."""
        import mlflow

        experiment_id = self.experiment_id()
        run = self.client.create_run(experiment_id, run_name=record.name, tags=record.tags)  # type: ignore[arg-type]
        self._created: list[str] = []  # child runs, deleted with the run if logging fails
        run_id = run.info.run_id
        try:
            with _quiet(), mlflow.start_run(run_id=run_id):
                mlflow.log_params(_flat(record.params))
                mlflow.log_metrics(record.metrics)
                for path, value in record.documents.items():
                    mlflow.log_dict(value, path)
                for path, figure in record.figures.items():
                    mlflow.log_figure(figure, path)
                self._log_children(experiment_id, run_id, record.children)  # type: ignore[arg-type]
                model_uri = _log_model(record)
                mlflow.log_metrics(compiled_metrics(record.model_metadata))
        except Exception as exc:
            for created in [run_id, *self._created]:
                self.client.delete_run(created)
            reason = failure_line(exc, f"logging run to {self.cfg.uri}", uri=self.cfg.uri)
            raise TrackingError(f"{reason}; nothing was kept") from exc
        return run_id, model_uri

    def _log_children(self, experiment_id: str, parent_id: str, children: list[ChildRun]) -> None:
        """One run per child (a run, one batch of params and metrics, its end), then its
        children: the runs of one level are written by a few threads at once, which cuts
        the time of logging hundreds of trials by about a third (the store serialises
        the writes; the client's own work overlaps)."""
        with ThreadPoolExecutor(_LOG_THREADS) as pool:
            ids = list(pool.map(lambda c: self._log_child(experiment_id, parent_id, c), children))
        for child, run_id in zip(children, ids, strict=True):
            if child.children:
                self._log_children(experiment_id, run_id, child.children)

    def _log_child(self, experiment_id: str, parent_id: str, child: ChildRun) -> str:
        from mlflow.entities import Metric, Param

        tags = {"mlflow.parentRunId": parent_id, KIND_TAG: "candidate", **child.tags}
        run_id = str(
            self.client.create_run(experiment_id, run_name=child.name, tags=tags).info.run_id
        )
        self._created.append(run_id)
        stamp = int(pd.Timestamp.now().timestamp() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, v, stamp, 0) for k, v in child.metrics.items() if v == v],
            params=[Param(k, str(v)[:6000]) for k, v in _flat(child.params).items()],
        )
        self.client.set_terminated(run_id)
        return run_id

    def register(
        self, run_id: str, model_uri: str, tags: dict[str, str], alias: str = CHALLENGER
    ) -> Registered:
        """Register the run's model and give it ``alias`` (the gate decides on champion)."""
        with mlflow_errors(f"registering {self.model_name}", uri=self.cfg.uri):
            self._ensure_registered_model()
            version = str(
                self.client.create_model_version(
                    self.model_name,
                    model_uri,
                    run_id=run_id,
                    tags=tags,
                    model_id=_model_id(model_uri),
                ).version
            )
            if alias == CHALLENGER:
                aliases = self._settle_aliases()
            else:
                set_alias(self, alias, version)
                aliases = self._aliases()
        held = tuple(name for name in (alias, CHAMPION) if aliases.get(name) == version)
        return Registered(self.model_name, version, held)

    def _settle_aliases(self, attempts: int = 10) -> dict[str, str]:
        """Point challenger at the newest version; return the aliases. Runs registering at
        once against a shared server all write the value the registry's versions imply (never
        "my version"), then re-read: the last writer sees its own write agree with the
        versions, so no move is lost. (Champion moves only through the gate.)"""
        for _ in range(attempts):
            newest = str(max(self._version_numbers()))
            if self._aliases().get(CHALLENGER) != newest:
                set_alias(self, CHALLENGER, newest)
            settled = self._aliases()
            if settled.get(CHALLENGER) == str(max(self._version_numbers())):
                return settled
        raise TrackingError(
            f"registering {self.model_name}: the challenger alias kept moving under "
            f"{attempts} concurrent registrations; run `loopml runs` and set it by hand"
        )

    def _version_numbers(self) -> list[int]:
        found = self.client.search_model_versions(f"name = '{self.model_name}'")
        return [int(v.version) for v in found]

    def _aliases(self) -> dict[str, str]:
        model = self.client.get_registered_model(self.model_name)
        return {alias: str(version) for alias, version in model.aliases.items()}

    def _ensure_registered_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.model_name)
        except MlflowException as exc:
            if not is_not_found(exc):
                raise
            try:
                self.client.create_registered_model(self.model_name)
            except MlflowException:  # another process created it between the two calls
                self.client.get_registered_model(self.model_name)

    def alias_version(self, alias: str) -> str | None:
        """The version ``alias`` names now; None when the model or alias does not exist."""
        return alias_version(self.client, self.model_name, alias)

    def registry_snapshot(self) -> dict[str, Any]:
        """Versions and aliases of the project's model: compare before and after a command."""
        with mlflow_errors(f"reading the versions of {self.model_name}", uri=self.cfg.uri):
            try:
                model = self.client.get_registered_model(self.model_name)
            except Exception as exc:
                if is_not_found(exc):
                    return {"versions": [], "aliases": {}}
                raise
            versions = self.client.search_model_versions(f"name = '{self.model_name}'")
        return {"versions": sorted(v.version for v in versions), "aliases": dict(model.aliases)}

    def list_runs(self, limit: int = 20) -> list[RunRow]:
        experiment_id = self.experiment_id(create=False)
        if experiment_id is None:
            return []
        runs = self.client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{KIND_TAG}` = 'training'",
            order_by=["attributes.start_time DESC"],
            max_results=limit,
        )
        by_run = self._versions_by_run()
        return [_row(run, by_run.get(run.info.run_id)) for run in runs]

    def _versions_by_run(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        snapshot = self.registry_snapshot()
        if not snapshot["versions"]:
            return {}
        aliases_of: dict[str, list[str]] = {}
        for alias, version in snapshot["aliases"].items():
            aliases_of.setdefault(str(version), []).append(alias)
        return {
            str(v.run_id): (str(v.version), tuple(sorted(aliases_of.get(str(v.version), []))))
            for v in self.client.search_model_versions(f"name = '{self.model_name}'")
        }

    def run_exists(self, run_id: str) -> bool:
        """Whether ``run_id`` is an active run; a store that fails raises TrackingError."""
        with mlflow_errors(f"reading run {run_id}", uri=self.cfg.uri):
            try:
                return self.client.get_run(run_id).info.lifecycle_stage == "active"
            except Exception as exc:
                if is_not_found(exc):
                    return False
                raise


def _row(run: Any, registered: tuple[str, tuple[str, ...]] | None) -> RunRow:
    metric = run.data.tags.get("loopml.metric", "")
    m = run.data.metrics
    return RunRow(
        run_id=run.info.run_id,
        started=pd.Timestamp(run.info.start_time, unit="ms"),
        winner=run.data.tags.get(WINNER_TAG, "?"),
        metric=metric,
        validation=m.get(f"validation_{metric}", float("nan")),
        test=m.get(f"test_{metric}", float("nan")),
        baseline_test=m.get(f"baseline_test_{metric}", float("nan")),
        version=registered[0] if registered else None,
        aliases=registered[1] if registered else (),
    )


def _log_model(record: RunRecord) -> str:
    import tempfile

    import mlflow.sklearn
    import skops.io
    from mlflow.models import infer_signature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    from loopml.tracking.models import pip_requirements

    compact_vocabularies(record.model)  # plain int indices: skops saves them 8x faster
    logged = record.model
    if record.contract is not None:
        logged = with_contract(record.model, record.contract, record.model_input.columns)
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(logged))
    signature = infer_signature(record.model_input, record.model_output)
    if record.contract is not None:  # the contract checks values: any type MLflow may pass
        signature.inputs = Schema([ColSpec(AnyType(), str(c)) for c in record.model_input.columns])
    with tempfile.TemporaryDirectory(prefix="loopml-onnx-") as folder:
        extra_files = compile_model(record, Path(folder))
        extra_files.append(str(write_background(record.model_input, Path(folder))))
        if record.contract is not None:
            contract_file = Path(folder) / CONTRACT_FILE
            contract_file.write_text(json.dumps(record.contract.as_dict(), indent=2))
            extra_files.append(str(contract_file))
        info = mlflow.sklearn.log_model(
            logged,
            name="model",
            serialization_format="skops",
            skops_trusted_types=trusted,
            signature=signature,
            input_example=record.model_input.head(3),
            pip_requirements=pip_requirements(),
            metadata=record.model_metadata,
            extra_files=extra_files or None,
        )
    return str(info.model_uri)


def _model_id(model_uri: str) -> str | None:
    """The logged model's id in ``models:/m-<id>``: a tracking server needs it to register."""
    tail = model_uri.removeprefix("models:/")
    return tail if tail != model_uri and "/" not in tail and "@" not in tail else None


def _flat(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat(value, f"{name}."))
        else:
            flat[name] = value
    return flat


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow prints progress bars and hints while logging; keep the user's terminal clean."""
    import os

    previous = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = previous


__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ChildRun",
    "ModelNotFoundError",
    "Registered",
    "RunRecord",
    "RunRow",
    "Tracker",
]
