"""The typed schema of loopml.yaml: load once at the edge, pass sub-configs down.

``load_config`` reads the file, applies ``--set a.b=value`` overrides, validates
with pydantic and resolves relative paths against the file's folder. Every problem
becomes one line that names the key, e.g. ``loopml.yaml: data.tagret: unknown key;
did you mean 'target'?``.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

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
    datetime: list[str] | dict[str, str] = Field(
        default_factory=list,
        description="Date columns; as {column: format} (e.g. {fecha: '%d/%m/%Y'}) to give "
        "the strptime format instead of learning it from the data.",
    )
    id: list[str] = Field(
        default_factory=list, description="Kept beside predictions, not a feature."
    )
    ignore: list[str] = Field(default_factory=list, description="Dropped before training.")

    def date_formats(self) -> dict[str, str]:
        """Column -> strptime format, for date columns declared with a format."""
        return dict(self.datetime) if isinstance(self.datetime, dict) else {}

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


_SEPARATORS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|"}
_THOUSANDS = ("", ".", ",", " ", "\u00a0", "\u202f", "'")


class CsvConfig(_Strict):
    """How a CSV file is written. Each key left out is detected from the file and said."""

    sep: str | None = Field(None, description="Delimiter: ',', ';', tab ('\\t' or tab) or '|'.")
    decimal: str | None = Field(None, description="Decimal mark of numbers: '.' or ','.")
    thousands: str | None = Field(
        None, description="Digit-group separator: '', '.', ',', ' ', a no-break space or \"'\"."
    )
    encoding: str | None = Field(None, description="Text encoding, e.g. utf-8, utf-8-sig, cp1252.")

    @field_validator("sep")
    @classmethod
    def _known_sep(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value not in _SEPARATORS:
            raise ValueError("use ',', ';', '\\t' (or tab) or '|', or leave it out to detect")
        return _SEPARATORS[value]

    @field_validator("decimal")
    @classmethod
    def _known_decimal(cls, value: str | None) -> str | None:
        if value not in (None, ".", ","):
            raise ValueError("use '.' or ',', or leave it out to detect")
        return value

    @field_validator("thousands")
    @classmethod
    def _known_thousands(cls, value: str | None) -> str | None:
        if value is not None and value not in _THOUSANDS:
            raise ValueError("use '', '.', ',', ' ' or \"'\", or leave it out to detect")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    "not an encoding Python knows; use e.g. utf-8, utf-8-sig, cp1252 or latin-1"
                ) from None
        return value

    @model_validator(mode="after")
    def _distinct_marks(self) -> CsvConfig:
        if self.decimal and self.decimal == self.thousands:
            raise ValueError(f"decimal and thousands are both {self.decimal!r}; set them apart")
        return self


class DataVariantConfig(_Strict):
    """A changed version of the training data: rows left out, labels corrected. The split is
    made on the unchanged data and the test rows stay as they are, so variants compare on
    the same test."""

    exclude_rows: str | None = Field(
        None,
        description="A CSV with a 'row' column (e.g. from loopml data issues -o): those rows "
        "are left out of training and validation.",
    )
    relabel: str | None = Field(
        None,
        description="A CSV with 'row' and the corrected label (a column named after the "
        "target, or 'suggested' as loopml data issues writes it): training and validation use it.",
    )

    @model_validator(mode="after")
    def _changes_something(self) -> DataVariantConfig:
        if self.exclude_rows is None and self.relabel is None:
            raise ValueError("a data variant needs exclude_rows, relabel or both")
        return self


class DataConfig(_Strict):
    source: str = Field(description="A .csv, .parquet, .jsonl file, or a SQLAlchemy URL.")
    query: str | None = Field(None, description="SQL query, required when source is a URL.")
    target: str = Field(description="The column to predict.")
    task: Literal["auto", "classification", "regression"] = "auto"
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    contract: str | None = Field(
        None,
        description="A data_contract.json whose reading rules (decimal mark, thousands "
        "separator, date formats, boolean words, signs) are kept for columns of the same "
        "kind; `loopml watch` sets it to the champion's when it retrains.",
    )
    csv: CsvConfig = Field(default_factory=CsvConfig)
    variants: dict[str, DataVariantConfig] = Field(
        default_factory=dict,
        description="Named changes of the training data (rows left out, labels corrected).",
    )
    variant: str | None = Field(
        None,
        description="Train on this variant of data.variants (--data-variant); the test rows "
        "are those of the unchanged data.",
    )

    def is_sql(self) -> bool:
        return "://" in self.source and not self.source.startswith(("file://", "s3://", "gs://"))

    @model_validator(mode="after")
    def _query_with_url(self) -> DataConfig:
        if self.is_sql() and not self.query:
            raise ValueError(f"source '{self.source}' is a database URL; add data.query: SELECT …")
        if self.variant is not None and self.variant not in self.variants:
            known = ", ".join(sorted(self.variants)) or "none declared"
            raise ValueError(
                f"data.variant '{self.variant}' is not in data.variants ({known}); declare it "
                "under data.variants with exclude_rows and/or relabel"
            )
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


Value = str | int | float | bool


class RuleConfig(_Strict):
    """A rule baseline: where ``when`` holds, ``then``, elsewhere ``else``.

    ``when`` is a pandas expression over the feature columns (``DataFrame.eval`` /
    ``DataFrame.query`` syntax; backticks around names with spaces). ``then`` and ``else``
    are class labels, or for regression numbers or expressions (``"fare * 1.1"``).
    """

    model_config = ConfigDict(
        extra="forbid", validate_default=True, validate_by_name=True, serialize_by_alias=True
    )

    when: str = Field(description='pandas expression, e.g. "`mean area` > 700".')
    then: Value = Field(description="Label (or number / expression) where `when` holds.")
    else_: Value = Field(alias="else", description="Label (or number / expression) elsewhere.")


class ModelsConfig(_Strict):
    candidates: dict[str, dict[str, Any]] | None = Field(
        None,
        description="Catalog names or import paths mapped to a search space: a value is fixed, "
        "a list is a choice, {low, high, log} a range, {} the catalog's default space.",
    )
    ensemble: EnsembleConfig = Field(default_factory=lambda: EnsembleConfig())
    rules: dict[str, RuleConfig] = Field(
        default_factory=dict,
        description="Rule baselines by name, scored on the same splits as the candidates and "
        "listed in the leaderboard beside the majority baseline.",
    )
    register_rule: str | None = Field(
        None,
        description="Tune no candidate: register this rule (a name under models.rules) as the "
        "model, to serve it before any training.",
    )

    @model_validator(mode="after")
    def _known_rule(self) -> ModelsConfig:
        if self.register_rule is not None and self.register_rule not in self.rules:
            known = ", ".join(self.rules) or "none declared"
            raise ValueError(
                f"register_rule '{self.register_rule}' is not a rule under models.rules "
                f"({known}); declare it there or fix the name"
            )
        return self

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


class BatchingConfig(_Strict):
    """Micro-batching: concurrent requests scored together in one model call."""

    enabled: bool = True
    max_batch_size: int = Field(256, ge=1, description="Most rows scored in one model call.")
    max_wait_ms: float = Field(
        2.0, ge=0, le=1000, description="Longest a request waits for others; never when alone."
    )


class AuthConfig(_Strict):
    """Bearer tokens for prediction and admin endpoints; off when neither source is set."""

    token_env: str | None = Field(None, description="Environment variable: comma-separated tokens.")
    token_file: str | None = Field(None, description="File with one token per line.")
    protect_health: bool = Field(
        False, description="Also require a token on health, metrics and the dashboard."
    )
    open_metadata: bool = Field(
        False, description="Serve /docs, /openapi.json and OIP model metadata without a token."
    )


class LimitsConfig(_Strict):
    max_body_bytes: int = Field(1_048_576, gt=0, description="Larger bodies get 413.")
    max_rows: int = Field(10_000, gt=0, description="More rows in one request get 413.")
    request_timeout_s: float = Field(10.0, gt=0, description="Slower requests get 408.")


class RolloutConfig(_Strict):
    """Serve the challenger beside the champion: canary (a share of traffic) or shadow."""

    mode: Literal["none", "canary", "shadow"] = "none"
    challenger: str = Field("challenger", description="Registry alias of the challenger.")
    canary_share: float = Field(0.1, ge=0, le=1, description="Share of requests (canary).")
    seed: int | None = Field(None, description="Seed of the canary draw (tests, replays).")


class RetentionConfig(_Strict):
    """How much of the prediction log the server keeps; off when neither bound is set."""

    days: float | None = Field(None, gt=0, description="Delete requests logged before this.")
    rows: int | None = Field(None, gt=0, description="Keep at most this many logged requests.")
    interval_s: float = Field(
        3600.0, gt=0, description="How often the server applies the retention."
    )


class PredictionLogConfig(_Strict):
    """Durable log of every request, written off the hot path."""

    enabled: bool = True
    url: str = Field(
        "sqlite:///.loopml/predictions.db", description="SQLite (WAL) or PostgreSQL URL."
    )
    flush_interval_s: float = Field(1.0, gt=0, description="A crash loses at most this much.")
    max_queue: int = Field(
        100_000, gt=0, description="Entries waiting to be written; beyond, dropped and counted."
    )
    retry_for_s: float = Field(
        30.0, ge=0, description="A failed write is retried this long, then dropped and counted."
    )
    retention: RetentionConfig = Field(default_factory=RetentionConfig)


class ServeConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    alias: str = Field("champion", description="Registry alias of the model to serve.")
    engine: Literal["auto", "native", "onnx"] = Field(
        "auto", description="onnx: the compiled artifact; auto: onnx when it passed parity."
    )
    workers: int = Field(1, ge=1, le=64, description="Server processes, one model thread each.")
    reload_interval_s: float = Field(
        10.0, ge=0, description="How often to check if the alias moved; 0 turns hot reload off."
    )
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    prediction_log: PredictionLogConfig = Field(default_factory=PredictionLogConfig)


class BatchConfig(_Strict):
    chunk_rows: int = Field(50_000, gt=0, description="Rows scored per chunk; bounds memory.")


class ProfileConfig(_Strict):
    sample_rows: int = Field(
        200_000,
        ge=100,
        description=(
            "With compute.backend ray: rows sampled for histograms, correlations, duplicates, "
            "text and the split; column statistics cover every row."
        ),
    )


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
    profile: ProfileConfig = Field(default_factory=ProfileConfig)
    train: TrainConfig = Field(default_factory=lambda: TrainConfig())
    evaluation: EvaluationConfig = Field(default_factory=lambda: EvaluationConfig())
    behavioral: list[BehavioralTest] = Field(
        default_factory=list, description="Behavioral tests run by `loopml test` and the gate."
    )
    gate: GateConfig = Field(default_factory=lambda: GateConfig())
    monitoring: MonitoringConfig = Field(default_factory=lambda: MonitoringConfig())
    retraining: RetrainingConfig = Field(default_factory=lambda: RetrainingConfig())
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

    def refit_rows(self) -> Literal["train", "train+validation"]:
        """The rows the winner is finally fitted on, with ``train.refit: auto`` resolved."""
        if self.train.refit != "auto":
            return self.train.refit
        return "train" if self._refit_blocker() else "train+validation"

    def _refit_blocker(self) -> str:
        if self.evaluation.calibration != "none":
            return "evaluation.calibration is fitted on"
        if self.evaluation.threshold is not None:
            return "evaluation.threshold is chosen on"
        if self.train.distributed:
            return "train.distributed trains once on the training split, not"
        return ""

    @model_validator(mode="after")
    def _rules_to_beat(self) -> ProjectConfig:
        if self.gate.beat_rules and not self.models.rules:
            raise ValueError(
                "gate.beat_rules is true but models.rules declares no rule; add one "
                '(e.g. models.rules.big: {when: "`mean area` > 700", then: malignant, '
                "else: benign}) or set gate.beat_rules: false"
            )
        return self

    @model_validator(mode="after")
    def _refit_possible(self) -> ProjectConfig:
        blocker = self._refit_blocker()
        if self.train.refit == "train+validation" and blocker:
            raise ValueError(
                f"train.refit: train+validation is not possible: {blocker} the validation "
                "split; set train.refit: auto (or train)"
            )
        return self

    def training_key(self) -> str:
        """Hash of every setting that changes what training produces."""
        blob = json.dumps(self.training_settings(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def training_settings(self) -> dict[str, Any]:
        """Every setting that changes what training produces (``training_key`` hashes it)."""
        relevant = self.model_dump(
            include={"data", "split", "models", "metric", "tuning", "imbalance"}, mode="json"
        )
        relevant["evaluation"] = self.evaluation.model_dump(
            include={"calibration", "threshold"}, mode="json"
        )
        if self.evaluation.sensitive_excluded():  # only then do they change the features
            relevant["evaluation"]["not_features"] = self.evaluation.sensitive_excluded()
        relevant["data"].pop("source", None)  # the data fingerprint covers the content
        variants = relevant["data"].pop("variants", {})  # only the one trained on counts
        relevant["data"]["variant"] = variants.get(self.data.variant or "")
        relevant["tuning"].pop("n_jobs", None)  # how fast, not what: results do not depend on it
        if self.train.distributed:
            relevant["train"] = {"distributed": True, "sample_rows": self.train.sample_rows}
        if self.refit_rows() != "train":
            relevant["refit"] = self.refit_rows()
        return relevant


class ThresholdConfig(_Strict):
    """Below a confidence, abstain or give a fallback label; applied wherever the model scores."""

    min_confidence: float | None = Field(
        None, gt=0, lt=1, description="Predictions less confident than this are not given."
    )
    target_precision: float | None = Field(
        None, gt=0, le=1, description="Choose the lowest confidence reaching this precision."
    )
    fallback_label: str | int | float | bool | None = Field(
        None, description="Label given below the threshold; empty means abstain."
    )

    @model_validator(mode="after")
    def _one_rule(self) -> ThresholdConfig:
        if (self.min_confidence is None) == (self.target_precision is None):
            raise ValueError("set exactly one of min_confidence or target_precision")
        return self


class EvaluationConfig(_Strict):
    slices: dict[str, str] = Field(
        default_factory=dict, description="Named pandas query expressions, e.g. 'age >= 65'."
    )
    calibration: Literal["none", "sigmoid", "isotonic", "auto"] = Field(
        "none", description="Fitted on the validation split; auto keeps it if log loss improves."
    )
    threshold: ThresholdConfig | None = None
    min_slice_rows: int = Field(20, ge=1, description="Smaller automatic slices are skipped.")
    weak_slice_margin: float | None = Field(
        None,
        ge=0,
        description="A slice worse than all rows by more than this is weak: accuracy points "
        "for classifiers (default 0.05), a share of the MAE for regression (default 0.25).",
    )
    worst_errors: int = Field(20, ge=0, description="Most confident mistakes listed.")
    importance_rows: int = Field(2000, ge=50, description="Rows for permutation importance.")
    learning_curve: Literal["auto"] | bool = Field(
        "auto", description="auto: only when the training split has at most 20,000 rows."
    )
    reports: str = Field("reports", description="Folder of the HTML reports.")
    sensitive: list[str] = Field(
        default_factory=list,
        description="Columns audited for group fairness on the test rows (Fairlearn): per-group "
        "selection rate, TPR, FPR and accuracy, demographic-parity and equalized-odds "
        "differences; gate.max can bound the differences.",
    )
    sensitive_is_feature: bool = Field(
        True,
        description="false: the sensitive columns are not model features (still audited); "
        "the served model neither needs nor reads them.",
    )
    pos_label: str | int | float | bool | None = Field(
        None,
        description="Fairness: the favourable class whose selection rate, TPR and FPR are "
        "compared (one-vs-rest); default the second of the sorted classes of a binary target.",
    )

    def sensitive_excluded(self) -> list[str]:
        """The sensitive columns kept out of the features (``sensitive_is_feature: false``)."""
        return [] if self.sensitive_is_feature else list(self.sensitive)


_CHANGE = re.compile(r"^[+\-*]\d+(?:\.\d+)?%?$")


class _BehavioralBase(_Strict):
    name: str | None = Field(None, description="Shown in results; defaults to kind and column.")
    sample: int = Field(200, gt=0, description="Test rows the check runs on.")


class InvarianceTest(_BehavioralBase):
    kind: Literal["invariance"]
    column: str
    values: list[Any] = Field(min_length=1)
    min_agreement: float = Field(1.0, ge=0, le=1)


class DirectionalTest(_BehavioralBase):
    kind: Literal["directional"]
    column: str
    change: str = Field(description="'+10%', '-5%', '+3', '-1.5' or '*2'.")
    expect: Literal["increase", "decrease"]
    label: str | int | float | bool | None = Field(
        None, description="Classification: the class whose probability should move."
    )
    min_agreement: float = Field(0.95, ge=0, le=1)

    @model_validator(mode="after")
    def _change_syntax(self) -> DirectionalTest:
        if not _CHANGE.match(self.change.replace(" ", "")):
            raise ValueError(f"change '{self.change}' is not like '+10%', '-5', or '*2'")
        return self


class PerturbationTest(_BehavioralBase):
    kind: Literal["perturbation"]
    columns: list[str] = Field(min_length=1)
    noise: Literal["typos", "numeric"]
    scale: float = Field(
        0.1, gt=0, description="typos: share of words changed; numeric: share of the std."
    )
    min_agreement: float = Field(0.95, ge=0, le=1)


class ExamplesTest(_BehavioralBase):
    kind: Literal["examples"]
    rows: list[dict[str, Any]] = Field(min_length=1, description="Inputs plus 'expect'.")
    min_agreement: float = Field(1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _expectations(self) -> ExamplesTest:
        for i, row in enumerate(self.rows):
            if "expect" not in row:
                raise ValueError(f"rows[{i}] has no 'expect' (the label it should get)")
        return self


BehavioralTest = Annotated[
    InvarianceTest | DirectionalTest | PerturbationTest | ExamplesTest,
    Field(discriminator="kind"),
]


class BeatChampionConfig(_Strict):
    metric: str | None = Field(None, description="Defaults to the selection metric.")
    significance: float = Field(
        0.05, gt=0, le=1, description="The challenger must be better with p below this."
    )
    test: Literal["bootstrap", "mcnemar"] = "bootstrap"
    resamples: int = Field(1000, ge=100, description="Paired bootstrap resamples.")
    min_rows: int = Field(
        30,
        ge=1,
        description=(
            "Fewest test rows, unseen by the champion in its fitting, to compare on; "
            "with fewer the rule fails and says so."
        ),
    )


class GateConfig(_Strict):
    min: dict[str, float] = Field(
        default_factory=dict, description="Test metrics that must be at least these."
    )
    max: dict[str, float] = Field(
        default_factory=dict, description="Test metrics that must be at most these."
    )
    max_overfit_gap: float | None = Field(
        None, ge=0, description="Largest train-minus-held-out gap of the selection metric."
    )
    beat_champion: BeatChampionConfig | None = Field(default_factory=BeatChampionConfig)
    behavioral: Literal["must_pass", "report"] = "must_pass"
    beat_rules: bool = Field(
        False,
        description="The model must score better than every rule of models.rules on the test "
        "split (the selection metric).",
    )


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> float:
    """'30s', '10m', '2h', '7d' in seconds; a ValueError naming the format otherwise."""
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"'{text}' is not a duration like 30s, 10m, 2h or 7d")
    return float(match.group(1)) * _SECONDS[match.group(2)]


class WindowConfig(_Strict):
    """Which logged rows `loopml monitor` judges: the latest N rows, or the last N hours."""

    rows: int | None = Field(None, gt=0, description="The latest N logged rows.")
    hours: float | None = Field(None, gt=0, description="Rows logged in the last N hours.")

    @model_validator(mode="after")
    def _one_bound(self) -> WindowConfig:
        if self.rows is not None and self.hours is not None:
            raise ValueError("set either rows or hours, not both")
        if self.rows is None and self.hours is None:
            self.rows = 5000
        return self


class DriftConfig(_Strict):
    method: Literal["auto", "psi", "test", "jensen_shannon"] = Field(
        "auto",
        description="auto: a significant test (KS / chi-square, corrected for many features) "
        "and PSI >= threshold; psi or jensen_shannon: that distance >= threshold; "
        "test: the corrected test alone.",
    )
    threshold: float = Field(0.2, gt=0, description="PSI (or Jensen-Shannon distance) to flag.")
    significance: float = Field(
        0.05, gt=0, lt=1, description="Chance of a false dataset alarm, over all features."
    )
    correction: Literal["holm", "bonferroni", "benjamini_hochberg"] = "holm"
    min_rows: int = Field(500, ge=1, description="Fewer current rows and drift is not judged.")
    attribution_shift: float | None = Field(
        0.1,
        gt=0,
        le=1,
        description="Flag a column whose share of the total mean |attribution| moves by this "
        "much (absolute, shares are 0-1); null turns attribution drift off.",
    )


class DecayConfig(_Strict):
    metric: str | None = Field(None, description="Defaults to the project's metric.")
    max_drop: float = Field(0.05, ge=0, description="Alert when the metric is this much worse.")
    min_rows: int = Field(200, ge=1, description="Labelled rows needed to judge decay.")
    every: int = Field(500, ge=10, description="Labelled rows per point of the decay plot.")


class AlertsConfig(_Strict):
    webhook: str | None = Field(None, description="URL that receives each alert as JSON (POST).")
    timeout: float = Field(5.0, gt=0, description="Seconds to wait for the webhook.")


class MonitoringConfig(_Strict):
    window: WindowConfig = Field(default_factory=lambda: WindowConfig())
    drift: DriftConfig = Field(default_factory=lambda: DriftConfig())
    decay: DecayConfig = Field(default_factory=lambda: DecayConfig())
    alerts: AlertsConfig = Field(default_factory=lambda: AlertsConfig())
    reports: str = Field("reports", description="Folder of the monitoring reports.")


class RetrainingDataConfig(_Strict):
    source: str | None = Field(None, description="Defaults to data.source.")
    query: str | None = Field(None, description="Defaults to data.query.")
    time_column: str | None = Field(None, description="Defaults to split.time_column.")
    since: Literal["all", "last_training"] = Field(
        "all", description="last_training: only rows newer than the champion's training data."
    )
    reference_days: float = Field(
        0, ge=0, description="With since: last_training, also keep this many days before it."
    )
    feedback: bool = Field(
        False,
        description="Add the served rows labelled through loopml feedback (e.g. from loopml "
        "label-queue) to the retraining data, the label as the target.",
    )


_DEFAULT_TRIGGERS: tuple[Literal["drift", "decay", "schedule"], ...] = ("drift", "decay")


class RetrainingConfig(_Strict):
    trigger: list[Literal["drift", "decay", "schedule"]] = Field(
        default_factory=lambda: list(_DEFAULT_TRIGGERS), description="What starts a retraining."
    )
    schedule: str | None = Field(
        None, description="With trigger schedule: retrain when the champion is older, e.g. 7d."
    )
    data: RetrainingDataConfig = Field(default_factory=lambda: RetrainingDataConfig())

    @model_validator(mode="after")
    def _schedule_given(self) -> RetrainingConfig:
        if self.schedule is not None:
            duration_seconds(self.schedule)
        if "schedule" in self.trigger and self.schedule is None:
            raise ValueError("trigger 'schedule' needs retraining.schedule, e.g. schedule: 7d")
        return self


class TrainConfig(_Strict):
    """The final fit of the winner, and data-parallel LightGBM / XGBoost through Ray Train."""

    refit: Literal["auto", "train", "train+validation"] = Field(
        "auto",
        description="Rows the winner is fitted on before the test split and registration, once "
        "it is picked on the validation split: train+validation (more data, as FLAML and "
        "PyCaret's finalize do) or train. auto: train+validation unless evaluation.calibration, "
        "evaluation.threshold or train.distributed needs the validation split held out.",
    )
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
    sample_rows: int = Field(
        200_000,
        ge=100,
        description="With distributed: rows read onto this machine to check the data, fit the "
        "preprocessing and baseline, calibrate and report; boosters train on every row on Ray.",
    )


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
    for variant in data.variants.values():  # files named relative to loopml.yaml
        for key in ("exclude_rows", "relabel"):
            path = getattr(variant, key)
            if path is not None:
                setattr(variant, key, str((root / path).resolve()))
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
