"""The typed schema of loopml.yaml: load once at the edge, pass sub-configs down.

``load_config`` reads the file, applies ``--set a.b=value`` overrides, validates
with pydantic and resolves relative paths against the file's folder. Every problem
becomes one line that names the key, e.g. ``loopml.yaml: data.tagret: unknown key;
did you mean 'target'?``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from loopml.errors import ConfigError

CONFIG_FILE = "loopml.yaml"
STATE_DIR = ".loopml"
Task = Literal["classification", "regression"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ColumnsConfig(_Strict):
    """Column roles. Columns not named here are inferred and printed by `loopml run`."""

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)
    datetime: list[str] = Field(default_factory=list)
    id: list[str] = Field(
        default_factory=list, description="Kept beside predictions, not a feature."
    )
    ignore: list[str] = Field(default_factory=list, description="Dropped before training.")

    def declared(self) -> dict[str, str]:
        """Map each declared column to its role."""
        roles = ("numeric", "categorical", "text", "datetime", "id", "ignore")
        return {col: role for role in roles for col in getattr(self, role)}

    @model_validator(mode="after")
    def _one_role_each(self) -> ColumnsConfig:
        seen: dict[str, str] = {}
        for role in ("numeric", "categorical", "text", "datetime", "id", "ignore"):
            for col in getattr(self, role):
                if col in seen:
                    raise ValueError(f"column '{col}' is declared both {seen[col]} and {role}")
                seen[col] = role
        return self


class DataConfig(_Strict):
    source: str = Field(description="A .csv, .parquet, .jsonl file, or a SQLAlchemy URL.")
    query: str | None = Field(None, description="SQL query, required when source is a URL.")
    target: str = Field(description="The column to predict.")
    task: Literal["auto", "classification", "regression"] = "auto"
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)

    def is_sql(self) -> bool:
        return "://" in self.source and not self.source.startswith(("file://", "s3://", "gs://"))

    @model_validator(mode="after")
    def _query_with_url(self) -> DataConfig:
        if self.is_sql() and not self.query:
            raise ValueError(f"source '{self.source}' is a database URL; add data.query: SELECT …")
        return self


class SplitConfig(_Strict):
    test: float = Field(0.2, gt=0, lt=1, description="Share of rows held out for the final test.")
    validation: float = Field(0.2, gt=0, lt=1, description="Share of rows used to pick the model.")
    seed: int = 42
    stratify: bool = Field(True, description="Keep class shares equal across splits.")
    time_column: str | None = Field(None, description="Split by time: oldest train, newest test.")

    @model_validator(mode="after")
    def _room_for_training(self) -> SplitConfig:
        if self.test + self.validation >= 0.9:
            raise ValueError(
                f"test + validation = {self.test + self.validation:g} leaves under 10% to train; "
                "lower split.test or split.validation"
            )
        return self


class ModelsConfig(_Strict):
    candidates: dict[str, dict[str, Any]] | None = Field(
        None,
        description="Catalog names or import paths mapped to fixed parameters; "
        "empty means the catalog's defaults for the task.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, value: Any) -> Any:
        """A list of names, or a name with no parameters, means the catalog's defaults."""
        if not isinstance(value, dict):
            return value
        candidates = value.get("candidates")
        if isinstance(candidates, list):
            candidates = {name: {} for name in candidates}
        if isinstance(candidates, dict):
            candidates = {name: params or {} for name, params in candidates.items()}
        return {**value, "candidates": candidates}


class TrackingConfig(_Strict):
    uri: str = Field("sqlite:///.loopml/mlflow.db", description="Any MLflow tracking URI.")
    artifacts: str = Field(".loopml/artifacts", description="Artifact root for new experiments.")
    experiment: str | None = Field(None, description="Defaults to the project name.")
    registered_model: str | None = Field(None, description="Defaults to the project name.")


class ComputeConfig(_Strict):
    backend: Literal["local", "ray"] = "local"
    address: str | None = None
    n_jobs: int = Field(-1, description="Parallel candidate fits; -1 uses every core.")


class ServeConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    alias: str = Field("champion", description="Registry alias of the model to serve.")


class BatchConfig(_Strict):
    chunk_rows: int = Field(50_000, gt=0, description="Rows scored per chunk; bounds memory.")


class ProjectConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: DataConfig
    split: SplitConfig = Field(default_factory=SplitConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    metric: str | None = Field(None, description="Model selection metric; default per task.")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)
    train: TrainConfig = Field(default_factory=lambda: TrainConfig())

    _root: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def root(self) -> Path:
        """The folder holding loopml.yaml; relative paths were resolved against it."""
        return self._root

    @property
    def state_dir(self) -> Path:
        return self._root / STATE_DIR

    @property
    def experiment_name(self) -> str:
        return self.tracking.experiment or self.name

    @property
    def model_name(self) -> str:
        return self.tracking.registered_model or self.name

    def training_key(self) -> str:
        """Hash of every setting that changes what training produces."""
        relevant = self.model_dump(include={"data", "split", "models", "metric"}, mode="json")
        relevant["data"].pop("source", None)  # the data fingerprint covers the content
        if self.train.distributed:
            relevant["train"] = {"distributed": True}
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class TrainConfig(_Strict):
    """Data-parallel training of LightGBM / XGBoost through Ray Train."""

    distributed: bool = Field(
        False, description="Train lightgbm/xgboost candidates data-parallel with Ray Train."
    )
    workers: int = Field(2, gt=0, description="Ray Train workers (data shards).")
    cpus_per_worker: int = Field(1, gt=0, description="CPUs each worker reserves.")
    checkpoint_every: int = Field(
        25, gt=0, description="Boosting rounds between checkpoints; a rerun resumes from the last."
    )
    storage: str = Field(
        ".loopml/ray", description="Where Ray Train keeps checkpoints (path or URL)."
    )


ProjectConfig.model_rebuild()


def json_schema() -> dict[str, Any]:
    """JSON schema of loopml.yaml, for editor completion."""
    schema = ProjectConfig.model_json_schema()
    schema["title"] = "loopml.yaml"
    return schema


def load_config(path: Path, overrides: list[str] | None = None) -> ProjectConfig:
    """Read, override, validate and resolve a loopml.yaml."""
    raw = _read_yaml(path)
    for item in overrides or []:
        _apply_override(raw, item)
    try:
        cfg = ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(path.name, exc))) from None
    return _resolved(cfg, path.resolve().parent)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such file; run `loopml init` to create one or pass --config PATH"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{path.name}:{where}: invalid YAML ({problem}); fix the syntax"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: expected a mapping of keys, got {type(raw).__name__}")
    return raw


_OVERRIDE = re.compile(r"^([A-Za-z_][\w-]*(?:\.[\w-]+)*)=(.*)$", re.DOTALL)


def _apply_override(raw: dict[str, Any], item: str) -> None:
    match = _OVERRIDE.match(item)
    if not match:
        raise ConfigError(f"--set '{item}': expected KEY.PATH=VALUE, e.g. --set split.seed=7")
    keys, text = match.group(1).split("."), match.group(2)
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        value = text
    node = raw
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set '{item}': '{key}' holds a value, not a section of keys")
        node = child
    node[keys[-1]] = value


def _describe(filename: str, exc: ValidationError) -> list[str]:
    """One line per problem; a misspelt required key is one problem, not two."""
    errors = exc.errors()
    typos = {
        (*err["loc"][:-1], suggestion)
        for err in errors
        if err["type"] == "extra_forbidden" and (suggestion := _closest(err["loc"]))
    }
    lines = []
    for err in errors:
        loc = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"{filename}: {loc}: unknown key{_suggest(err['loc'])}")
        elif err["type"] == "missing" and tuple(err["loc"]) not in typos:
            lines.append(f"{filename}: {loc}: required key is missing")
        elif err["type"] != "missing":
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{filename}: {loc}: {msg} (got {err.get('input')!r})")
    return lines


def _suggest(loc: tuple[Any, ...]) -> str:
    close = _closest(loc)
    if close:
        return f"; did you mean '{close}'?"
    model = _section(loc)
    return f"; known keys: {', '.join(model.model_fields)}" if model else ""


def _closest(loc: tuple[Any, ...]) -> str | None:
    model = _section(loc)
    if model is None:
        return None
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return close[0] if close else None


def _section(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model holding the key at ``loc``, or None inside free-form values."""
    model: type[BaseModel] = ProjectConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _resolved(cfg: ProjectConfig, root: Path) -> ProjectConfig:
    cfg._root = root
    data = cfg.data
    if not data.is_sql() and "://" not in data.source:
        data.source = str((root / data.source).resolve())
    else:
        data.source = _absolute_sqlite(data.source, root)
    cfg.tracking.uri = _absolute_sqlite(cfg.tracking.uri, root)
    if "://" not in cfg.train.storage:
        cfg.train.storage = str((root / cfg.train.storage).resolve())
    if "://" not in cfg.tracking.artifacts:
        cfg.tracking.artifacts = str((root / cfg.tracking.artifacts).resolve())
    return cfg


def _absolute_sqlite(uri: str, root: Path) -> str:
    """`sqlite:///rel.db` is relative to the cwd in SQLAlchemy; make it relative to root."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and ":memory:" not in uri:
        return prefix + str((root / uri[len(prefix) :]).resolve())
    return uri
