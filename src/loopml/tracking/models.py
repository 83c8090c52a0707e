"""Load a registered or logged loopml model from MLflow into a ``ScoringModel``.

The skops file is loaded with an allow-list that loopml decides (the types each model
catalog record declares, ``loopml.core.models.trusted_types()``, and the estimators the
run declared), not the list stored in the model itself, so a tampered artifact cannot
whitelist arbitrary code.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from loopml.core.compile import CompiledModel
from loopml.core.data.contract import without_contract
from loopml.core.evaluation.threshold import Threshold
from loopml.core.models import is_trusted, trusted_types
from loopml.core.scoring import ColumnSpec, ScoringModel
from loopml.errors import ModelNotFoundError, TrackingError, first_line
from loopml.tracking import registry
from loopml.tracking.background import read_background
from loopml.tracking.compiled import read_compiled
from loopml.tracking.mlflow_errors import failure_line, is_not_found

# Derived from the model catalog: each record declares the types its fitted model loads.
SAFE_PREFIXES = trusted_types()


def pip_requirements() -> list[str]:
    """What an environment needs to load the model: pinned to the versions that trained it."""
    names = ["scikit-learn", "lightgbm", "xgboost", "xgboost-cpu", "skops", "pandas", "numpy"]
    names += ["scipy", "loopml"]
    return [f"{n}=={importlib_metadata.version(n)}" for n in names if _installed(n)]


def _installed(name: str) -> bool:
    try:
        importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class LoadedModel:
    """A model with its compiled artifact (None when it has none that passed parity)."""

    model: ScoringModel
    compiled: CompiledModel | None
    compile_note: str  # the parity figures, or why there is no compiled artifact


def load(uri: str, *, tracking_uri: str | None = None) -> ScoringModel:
    """Load ``runs:/<id>/model``, ``models:/<name>@<alias>`` or ``models:/<name>/<version>``."""
    return load_with_compiled(uri, tracking_uri=tracking_uri).model


def load_with_compiled(uri: str, *, tracking_uri: str | None = None) -> LoadedModel:
    """Load a model and, when it was compiled at registration, its ONNX artifact."""
    import mlflow
    from mlflow.exceptions import MlflowException

    with registry.using_store(tracking_uri):
        name, version = _registry_coordinates(uri)
        try:
            info = mlflow.models.get_model_info(uri)
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
        except MlflowException as exc:
            if not is_not_found(exc):  # the store failed: not the same as "no such model"
                raise TrackingError(failure_line(exc, f"loading model '{uri}'")) from exc
            raise _not_found(uri, name, version, first_line(exc)) from None
    meta = info.metadata or {}
    if "loopml" not in meta:
        raise TrackingError(f"model '{uri}' was not trained by loopml; load it with mlflow.pyfunc")
    pipeline, contract = without_contract(_load_skops(local, meta["loopml"]))
    model = _scoring_model(pipeline, meta["loopml"], uri, name, version, info.run_id)
    model.contract = contract or model.contract
    model.background = read_background(local)
    compiled, note = read_compiled(local)
    return LoadedModel(model, compiled, note)


def _not_found(uri: str, name: str | None, version: str | None, reason: str) -> ModelNotFoundError:
    """Which path a registered version's files were expected at, when that path is gone."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if name and version:
        try:
            stored = mlflow.MlflowClient().get_model_version_download_uri(name, version)
        except MlflowException:
            stored = None
        folder = Path(unquote(urlparse(stored).path)) if stored else None
        if stored and stored.startswith("file:") and folder and not folder.exists():
            return ModelNotFoundError(
                f"model '{uri}' (v{version}): the tracking store keeps its files at {folder}, "
                "which does not exist; restore that folder (or the project's .loopml/artifacts "
                "it came with), or train again with `loopml run`"
            )
    return ModelNotFoundError(f"model '{uri}' not found ({reason}); see `loopml runs`")


def model_metadata(uri: str, *, tracking_uri: str) -> tuple[str, str | None, dict[str, Any]]:
    """Name, version and loopml metadata (task, classes, …) of a model, without loading it."""
    import mlflow
    from mlflow.exceptions import MlflowException

    with registry.using_store(tracking_uri):
        name, version = _registry_coordinates(uri)
        try:
            info = mlflow.models.get_model_info(uri)
        except MlflowException as exc:
            if not is_not_found(exc):  # the store failed: not the same as "no such model"
                raise TrackingError(failure_line(exc, f"reading model '{uri}'")) from exc
            raise ModelNotFoundError(
                f"model '{uri}' not found ({first_line(exc)}); see `loopml runs`"
            ) from None
    meta = (info.metadata or {}).get("loopml")
    if meta is None:
        raise TrackingError(f"model '{uri}' was not trained by loopml; load it with mlflow.pyfunc")
    return name or uri, version, meta


def alias_version(model_name: str, alias: str, *, tracking_uri: str) -> str | None:
    """The version an alias points at now, or None when it has none (for hot reload)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return registry.alias_version(client, model_name, alias)


def _registry_coordinates(uri: str) -> tuple[str | None, str | None]:
    """Name and version of a ``models:/`` URI (an alias read from the registry); (None,
    None) for a ``runs:/`` URI."""
    import mlflow

    name, version, alias = registry.registry_coordinates(uri)
    if name is None or alias is None:
        return name, version
    version = registry.alias_version(mlflow.MlflowClient(), name, alias)
    if version is None:
        raise registry.no_alias(name, alias)
    return name, version


def _load_skops(local: Path, meta: dict[str, Any]) -> Any:
    import skops.io

    files = list(local.rglob("*.skops"))
    if not files:
        raise TrackingError(f"{local}: no skops model file; was it logged by loopml?")
    declared = tuple(meta.get("custom_estimators", []))
    untrusted = skops.io.get_untrusted_types(file=files[0])
    refused = [t for t in untrusted if not is_trusted(t, SAFE_PREFIXES + declared)]
    if refused:
        raise TrackingError(
            f"{files[0]}: refusing to load types loopml does not trust: {', '.join(refused)}"
        )
    return skops.io.load(files[0], trusted=untrusted)


def _scoring_model(
    pipeline: Any,
    meta: dict[str, Any],
    uri: str,
    name: str | None,
    version: str | None,
    run_id: str | None,
) -> ScoringModel:
    return ScoringModel(
        pipeline=pipeline,
        task=meta["task"],
        target=meta["target"],
        columns=[ColumnSpec(c["name"], c["role"]) for c in meta["columns"]],
        classes=list(meta.get("classes", [])),
        id_columns=list(meta.get("id_columns", [])),
        name=name,
        version=version,
        run_id=run_id,
        uri=uri,
        threshold=Threshold.from_dict(meta.get("threshold")),
    )
