"""The model registry, one way: what a model reference names, aliases and version tags.

A reference is what the user typed, in one of five forms:

- an alias: ``champion``, ``challenger`` (MLflow's ``latest`` too);
- a version number: ``3``;
- a run id: 32 hexadecimal digits;
- a registry URI: ``models:/<name>@<alias>`` or ``models:/<name>/<version>``;
- a run URI: ``runs:/<run id>/<path>``.

``model_uri`` turns a reference into the URI MLflow loads, without asking the store;
``resolve`` asks the registry which version and training run the reference names now.
A run's version is the highest version of *this* project's model registered from that run.

``using_store`` points MLflow's module-level tracking and registry URIs at one store for a
block and puts the caller's back after it, so ``loopml.load_model(..., tracking_uri=X)``
leaves a user's own ``mlflow.set_tracking_uri`` in force.

Writes: ``set_alias`` (retries the race of two processes adding the same new alias) and
``tag_version`` (cuts values to ``TAG_VALUE_LIMIT`` characters).
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import ModelNotFoundError
from loopml.tracking.mlflow_errors import is_not_found, mlflow_errors

if TYPE_CHECKING:
    from loopml.tracking.store import Tracker

CHAMPION, CHALLENGER = "champion", "challenger"
#: Longest model-version tag value written, in characters. MLflow 3 accepts 100,000, but a
#: team's server migrated from an older MLflow keeps the old ``String(5000)`` column, which
#: refuses longer values (PostgreSQL) or would make the same tag behave differently per
#: store: every value is cut to 5,000 characters, on every store.
TAG_VALUE_LIMIT = 5000
_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[\w-]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
_RUN_URI = re.compile(r"^runs:/(?P<run_id>[0-9a-f]{32})/(?P<path>.+)$")
_KEY_CONFLICT = re.compile(r"UniqueViolation|UNIQUE constraint failed|duplicate key", re.I)
RUNS_HINT = "see `loopml runs` (train one with `loopml run`)"


@dataclass(frozen=True)
class ModelRef:
    """A model in the registry (or only logged by a run) and the run that trained it.

    Attributes
    ----------
    name : str
        The registered model's name (the project's ``model_name`` unless a URI named
        another).
    version : str or None
        Its version; None for a run whose model was never registered.
    run_id : str
        The training run.
    uri : str
        What ``loopml.tracking.models.load`` takes, pinned to this version:
        ``models:/<name>/<version>``, or ``runs:/<run id>/<path>`` when unregistered.
    """

    name: str
    version: str | None
    run_id: str
    uri: str

    def describe(self) -> str:
        """``"<name> v<version>"``, or ``"run <id>"`` for an unregistered model."""
        return f"{self.name} v{self.version}" if self.version else f"run {self.run_id}"


@dataclass(frozen=True)
class _Parsed:
    name: str
    alias: str | None = None
    version: str | None = None
    run_id: str | None = None
    path: str = "model"


def is_run_id(text: str) -> bool:
    """Whether ``text`` is an MLflow run id (32 lowercase hexadecimal digits)."""
    return bool(_RUN_ID.match(text))


def not_a_uri(ref: str) -> ModelNotFoundError:
    """The error for a ``models:/`` or ``runs:/`` reference in none of the known forms
    (a ``runs:/`` URI whose run id is not 32 hexadecimal digits says so)."""
    run_id = ref.removeprefix("runs:/").split("/", 1)[0] if ref.startswith("runs:/") else ""
    why = f": '{run_id}' is not a run id (32 hexadecimal digits)" if run_id else ""
    return ModelNotFoundError(
        f"'{ref}' is not a model URI{why}; use runs:/<run_id>/model, models:/<name>@<alias> "
        "or models:/<name>/<version>"
    )


def no_alias(name: str, alias: str) -> ModelNotFoundError:
    """The error for an alias that names no version of ``name``."""
    return ModelNotFoundError(
        f"no model version has alias '{alias}' in '{name}'; train one with `loopml run`, "
        "promote one with `loopml promote`; see `loopml runs`"
    )


def _parse(model_name: str, ref: str) -> _Parsed:
    if m := _ALIAS_URI.match(ref):
        return _Parsed(m["name"], alias=m["alias"])
    if m := _VERSION_URI.match(ref):
        return _Parsed(m["name"], version=m["version"])
    if m := _RUN_URI.match(ref):
        return _Parsed(model_name, run_id=m["run_id"], path=m["path"])
    if ref.startswith(("models:/", "runs:/")):
        raise not_a_uri(ref)
    if is_run_id(ref):  # before the version: a run id may be all digits
        return _Parsed(model_name, run_id=ref)
    if ref.isdigit():
        return _Parsed(model_name, version=ref)
    return _Parsed(model_name, alias=ref)


def registry_coordinates(uri: str) -> tuple[str | None, str | None, str | None]:
    """Name, version and alias a model URI spells out, without asking the store.

    Parameters
    ----------
    uri : str
        ``models:/<name>@<alias>``, ``models:/<name>/<version>`` or ``runs:/<id>/<path>``.

    Returns
    -------
    tuple of (str or None, str or None, str or None)
        ``(name, None, alias)``, ``(name, version, None)``, or ``(None, None, None)`` for a
        run URI.

    Raises
    ------
    ModelNotFoundError
        ``uri`` is none of these.
    """
    if not uri.startswith(("models:/", "runs:/")):
        raise not_a_uri(uri)
    parsed = _parse("", uri)
    if parsed.run_id:
        return None, None, None
    return parsed.name, parsed.version, parsed.alias


def model_uri(model_name: str, ref: str | None, default_alias: str = CHALLENGER) -> str:
    """The URI MLflow loads for a reference, as the user typed it (no store is asked).

    Parameters
    ----------
    model_name : str
        The project's registered model.
    ref : str or None
        An alias, version number, run id or URI; None or empty for ``default_alias``.
    default_alias : str
        The alias used when ``ref`` is empty.

    Returns
    -------
    str
        A URI unchanged; ``models:/<name>/<n>`` for a version, ``runs:/<id>/model`` for a
        run id, ``models:/<name>@<alias>`` for anything else.
    """
    wanted = (ref or "").strip() or default_alias
    if wanted.startswith(("runs:/", "models:/")):
        return wanted
    if is_run_id(wanted):  # before the version: a run id may be all digits
        return f"runs:/{wanted}/model"
    if wanted.isdigit():
        return f"models:/{model_name}/{wanted}"
    return f"models:/{model_name}@{wanted}"


def resolve(tracker: Tracker, ref: str | None, default_alias: str = CHALLENGER) -> ModelRef:
    """The model version and training run that ``ref`` names now.

    Parameters
    ----------
    tracker : Tracker
        The project's tracker (its ``model_name`` is the model of a bare alias, version
        or run id).
    ref : str or None
        An alias, version number, run id, ``models:/`` or ``runs:/`` URI; None or empty
        for ``default_alias``.
    default_alias : str
        The alias used when ``ref`` is empty.

    Returns
    -------
    ModelRef
        Pinned to the version: a later move of the alias does not change what it loads.
        For a run, the highest version of the model registered from it (None if none).

    Raises
    ------
    ModelNotFoundError
        The model, version, alias or run does not exist, or a URI is malformed.
    TrackingError
        The store failed.
    """
    wanted = (ref or "").strip() or default_alias
    parsed = _parse(tracker.model_name, wanted)
    client = tracker.client
    with mlflow_errors(f"finding model '{wanted}'", uri=tracker.cfg.uri, hint=RUNS_HINT):
        if parsed.run_id is not None:
            return _by_run(tracker, parsed.run_id, parsed.path)
        if parsed.alias is not None:
            version = _alias_target(client, parsed.name, parsed.alias)
            if version is None:
                raise no_alias(parsed.name, parsed.alias)
        else:
            version = str(parsed.version)
        found = client.get_model_version(parsed.name, version)
    return ModelRef(parsed.name, version, str(found.run_id), f"models:/{parsed.name}/{version}")


def _by_run(tracker: Tracker, run_id: str, path: str) -> ModelRef:
    if not tracker.run_exists(run_id):
        raise ModelNotFoundError(f"run '{run_id}' does not exist; see `loopml runs`")
    versions = [
        int(v.version)
        for v in tracker.client.search_model_versions(f"run_id = '{run_id}'")
        if v.name == tracker.model_name
    ]
    if not versions:
        return ModelRef(tracker.model_name, None, run_id, f"runs:/{run_id}/{path}")
    version = str(max(versions))
    return ModelRef(tracker.model_name, version, run_id, f"models:/{tracker.model_name}/{version}")


def _alias_target(client: Any, name: str, alias: str) -> str | None:
    """The version ``alias`` points at (MLflow's ``latest``: the highest), or None; a
    missing model raises ``MlflowException`` (RESOURCE_DOES_NOT_EXIST)."""
    model = client.get_registered_model(name)
    aliases = {str(a): str(v) for a, v in (model.aliases or {}).items()}
    if alias in aliases:
        return aliases[alias]
    if alias.lower() == "latest":
        found = client.search_model_versions(f"name = '{name}'")
        return str(max(int(v.version) for v in found)) if found else None
    return None


def alias_version(client: Any, model_name: str, alias: str) -> str | None:
    """The version ``alias`` points at now; None when the model or the alias does not exist.

    Parameters
    ----------
    client : mlflow.MlflowClient
        A client of the registry.
    model_name, alias : str
        The registered model and the alias.

    Returns
    -------
    str or None
        The version number, as MLflow spells it.

    Raises
    ------
    TrackingError
        The store failed (unreachable, locked): not the same as "no such alias".
    """
    with mlflow_errors(f"reading alias '{alias}' of model '{model_name}'"):
        try:
            return _alias_target(client, model_name, alias)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise


def set_alias(tracker: Tracker, alias: str, version: str, attempts: int = 5) -> None:
    """Point ``alias`` of the project's model at ``version``.

    MLflow's SQL store reads the alias, then inserts it when absent, so two processes
    setting a new alias at once collide on its key; the loser writes again, after a
    random pause of 0.05–0.25 s, now as an update of the row the winner inserted.

    Parameters
    ----------
    tracker : Tracker
        The project's tracker.
    alias, version : str
        The alias and the version it should name.
    attempts : int
        Writes tried on a key collision before giving up.

    Raises
    ------
    ModelNotFoundError
        The model or version does not exist.
    TrackingError
        The store refused, or the collision persisted over ``attempts`` writes.
    """
    from mlflow.exceptions import MlflowException

    doing = f"pointing alias '{alias}' of {tracker.model_name} at v{version}"
    with mlflow_errors(doing, uri=tracker.cfg.uri):
        for attempt in range(attempts):
            try:
                tracker.client.set_registered_model_alias(tracker.model_name, alias, version)
                return
            except MlflowException as exc:
                if attempt == attempts - 1 or not _KEY_CONFLICT.search(exc.message):
                    raise
                time.sleep(random.uniform(0.05, 0.25))  # out of step with the other writer


def tag_version(tracker: Tracker, version: str, tags: dict[str, str]) -> None:
    """Set tags on a version of the project's model; values cut to ``TAG_VALUE_LIMIT``.

    Parameters
    ----------
    tracker : Tracker
        The project's tracker.
    version : str
        The model version.
    tags : dict of str to str
        Tag names and values; a value longer than ``TAG_VALUE_LIMIT`` characters keeps
        its first ``TAG_VALUE_LIMIT``.

    Raises
    ------
    ModelNotFoundError
        The model or version does not exist.
    TrackingError
        The store refused.
    """
    with mlflow_errors(f"tagging {tracker.model_name} v{version}", uri=tracker.cfg.uri):
        for key, value in tags.items():
            tracker.client.set_model_version_tag(
                tracker.model_name, version, key, value[:TAG_VALUE_LIMIT]
            )


@contextmanager
def using_store(uri: str | None) -> Iterator[None]:
    """MLflow's tracking and registry URIs set to ``uri`` inside the block, the caller's after.

    ``mlflow.set_tracking_uri`` and ``mlflow.set_registry_uri`` change module state and the
    ``MLFLOW_TRACKING_URI``/``MLFLOW_REGISTRY_URI`` environment variables for the whole
    process; a library call that set them for good would send the caller's next
    ``models:/`` lookup to loopml's store (the same model name in another registry: a
    silently different model). The previous values are read from the same module state
    MLflow's own ``_use_tracking_uri`` restores. ``uri`` None: nothing is changed.
    """
    if not uri:
        yield
        return
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    before = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    environment = {name: os.environ.get(name) for name in _URI_VARIABLES}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before[0])  # type: ignore[arg-type]  # None: unset
        registry_utils._registry_uri = before[1]
        for name, value in environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
