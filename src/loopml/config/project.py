"""The root of loopml.yaml: one key per section, each section's schema in its own module.

The top-level keys are ``name``, ``metric`` and the sections ``data``, ``split``,
``models``, ``tracking``, ``compute``, ``serve``, ``batch``, ``profile``, ``train``,
``evaluation``, ``behavioral``, ``gate``, ``monitoring``, ``retraining``, ``tuning``,
``imbalance`` and ``distill`` (modules of the same names).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from loopml.config._base import _Strict
from loopml.config.batch import BatchConfig
from loopml.config.behavioral import BehavioralTest
from loopml.config.compute import ComputeConfig
from loopml.config.data import DataConfig
from loopml.config.distill import DistillConfig
from loopml.config.evaluation import EvaluationConfig
from loopml.config.gate import GateConfig
from loopml.config.imbalance import ImbalanceConfig
from loopml.config.models import ModelsConfig
from loopml.config.monitoring import MonitoringConfig
from loopml.config.profile import ProfileConfig
from loopml.config.retraining import RetrainingConfig
from loopml.config.serve import ServeConfig
from loopml.config.split import SplitConfig
from loopml.config.tracking import TrackingConfig
from loopml.config.train import TrainConfig
from loopml.config.training_key import training_key, training_settings
from loopml.config.tuning import TuningConfig

CONFIG_FILE = "loopml.yaml"
STATE_DIR = ".loopml"
Task = Literal["classification", "regression"]


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
    def _time_limit_local(self) -> ProjectConfig:
        if self.tuning.budget.time_limit is None:
            if self.tuning.budget.successive_halving:
                raise ValueError(
                    "tuning.budget.successive_halving splits a time limit: set "
                    "tuning.budget.time_limit (or --time-limit) too, or remove it"
                )
            return self
        if self.train.distributed:
            raise ValueError(
                "tuning.budget.time_limit is not applied with train.distributed (each booster "
                "is trained once, with no search to share the time); unset one of them"
            )
        if self.compute.backend != "local":
            raise ValueError(
                "tuning.budget.time_limit is planned and enforced on compute.backend: local "
                "only (a Ray Tune trial is not stopped between folds); use compute.backend: "
                "local, or tuning.budget.timeout (search time per candidate) on Ray"
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
        """Hash of every setting that changes what training produces (see ``training_key``)."""
        return training_key(self)

    def training_settings(self) -> dict[str, Any]:
        """Every setting that changes what training produces (see ``training_key``)."""
        return training_settings(self)


def json_schema() -> dict[str, Any]:
    """JSON schema of loopml.yaml, for editor completion."""
    schema = ProjectConfig.model_json_schema()
    schema["title"] = "loopml.yaml"
    return schema
