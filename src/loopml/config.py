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
        description="Catalog names or import paths mapped to a search space: a value is fixed, "
        "a list is a choice, {low, high, log} a range, {} the catalog's default space.",
    )
    ensemble: EnsembleConfig = Field(default_factory=lambda: EnsembleConfig())

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
    tuning: TuningConfig = Field(default_factory=lambda: TuningConfig())
    imbalance: ImbalanceConfig = Field(default_factory=lambda: ImbalanceConfig())
    distill: DistillConfig = Field(default_factory=lambda: DistillConfig())

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
        relevant = self.model_dump(
            include={"data", "split", "models", "metric", "tuning", "imbalance"}, mode="json"
        )
        relevant["data"].pop("source", None)  # the data fingerprint covers the content
        relevant["tuning"].pop("n_jobs", None)  # how fast, not what: results do not depend on it
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


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
    if "://" not in cfg.tracking.artifacts:
        cfg.tracking.artifacts = str((root / cfg.tracking.artifacts).resolve())
    return cfg


def _absolute_sqlite(uri: str, root: Path) -> str:
    """`sqlite:///rel.db` is relative to the cwd in SQLAlchemy; make it relative to root."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and ":memory:" not in uri:
        return prefix + str((root / uri[len(prefix) :]).resolve())
    return uri


class EnsembleConfig(_Strict):
    """Voting or stacking over the top-k tuned candidates, scored like any candidate."""

    method: Literal["none", "voting", "stacking"] = "none"
    top_k: int = Field(3, ge=2, description="How many of the best candidates it combines.")


class BudgetConfig(_Strict):
    """What every candidate gets, the same for each: trials and/or seconds of search."""

    trials: int | None = Field(10, gt=0, description="Trials per candidate.")
    seconds: float | None = Field(None, gt=0, description="Search seconds per candidate.")

    @model_validator(mode="after")
    def _some_limit(self) -> BudgetConfig:
        if self.trials is None and self.seconds is None:
            raise ValueError("set tuning.budget.trials or tuning.budget.seconds (or both)")
        return self


class CVConfig(_Strict):
    """Cross-validation folds on the training split, the same for every candidate."""

    folds: int = Field(5, ge=2, le=50)
    kind: Literal["auto", "kfold", "stratified", "group", "time_series"] = Field(
        "auto",
        description="auto: time_series with split.time_column, stratified for "
        "classification, kfold otherwise.",
    )
    group_column: str | None = Field(None, description="Rows sharing a value stay in one fold.")

    @model_validator(mode="after")
    def _group_needs_column(self) -> CVConfig:
        if self.kind == "group" and not self.group_column:
            raise ValueError("kind 'group' needs tuning.cv.group_column: <column>")
        return self


class TuningConfig(_Strict):
    """Hyperparameter search: one method behind one interface, equal budget for all."""

    method: Literal["grid", "random", "tpe", "halving"] = Field(
        "tpe", description="tpe (Optuna), random, grid, or halving (random + successive halving)."
    )
    pruning: bool = Field(True, description="Stop unpromising trials after a few folds.")
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    cv: CVConfig = Field(default_factory=CVConfig)
    metric: str | None = Field(
        None,
        description="What the search optimises: a loopml metric or any scikit-learn scorer "
        "name; default: the project's metric.",
    )
    n_jobs: int | None = Field(
        None, description="Parallel workers for the search; default compute.n_jobs."
    )
    seed: int | None = Field(None, description="Sampler, folds and models; default split.seed.")
    grid_points: int = Field(5, ge=2, description="Values a range takes in a grid search.")
    learning_curve: bool = Field(True, description="Plot score against training-set size.")


class ImbalanceConfig(_Strict):
    """Rebalancing classes inside each training fold only, never validation or test rows."""

    strategy: Literal["none", "class_weight", "oversample", "smote", "undersample"] = "none"


class DistillConfig(_Strict):
    """`loopml distill`: a smaller student trained on the winner's predictions."""

    student: Literal["small_lightgbm", "linear"] = "small_lightgbm"
    max_drop: float = Field(
        0.02, ge=0, description="Largest drop in the project metric that still registers it."
    )


ModelsConfig.model_rebuild()
ProjectConfig.model_rebuild()
