"""The typed schema of loopml.yaml, one module per top-level section, and its loader.

``loader.load_config`` reads the file; each section's schema lives in the module named
after its key (``data``, ``split``, ``models``, ``tracking``, ``compute``, ``serve``,
``batch``, ``profile``, ``train``, ``evaluation``, ``behavioral``, ``gate``,
``monitoring``, ``retraining``, ``tuning``, ``imbalance``, ``distill``), the root in
``project``, the training-cache policy in ``training_key``, and what every section shares
(parallelism is ``n_jobs``, durations are one ``Duration`` type held in seconds, old key
names kept for one release) in ``_base``. Every public name is importable from here.
"""

from loopml.config._base import Duration, duration_seconds, format_duration, quietly
from loopml.config.batch import BatchConfig
from loopml.config.behavioral import (
    BehavioralTest,
    DirectionalTest,
    ExamplesTest,
    InvarianceTest,
    PerturbationTest,
)
from loopml.config.compute import ComputeConfig
from loopml.config.data import ColumnsConfig, CsvConfig, DataConfig, DataVariantConfig
from loopml.config.distill import DistillConfig
from loopml.config.evaluation import EvaluationConfig, ThresholdConfig
from loopml.config.gate import BeatChampionConfig, GateConfig
from loopml.config.imbalance import ImbalanceConfig
from loopml.config.loader import load_config
from loopml.config.models import BaggingConfig, EnsembleConfig, ModelsConfig, RuleConfig, Value
from loopml.config.monitoring import (
    AlertsConfig,
    DecayConfig,
    DriftConfig,
    MonitoringConfig,
    WindowConfig,
)
from loopml.config.profile import ProfileConfig
from loopml.config.project import CONFIG_FILE, STATE_DIR, ProjectConfig, Task, json_schema
from loopml.config.retraining import RetrainingConfig, RetrainingDataConfig
from loopml.config.serve import (
    AuthConfig,
    BatchingConfig,
    LimitsConfig,
    PredictionLogConfig,
    RetentionConfig,
    RolloutConfig,
    ServeConfig,
)
from loopml.config.split import SplitConfig
from loopml.config.tracking import TrackingConfig
from loopml.config.train import TrainConfig
from loopml.config.tuning import BudgetConfig, CVConfig, TuningConfig

__all__ = [
    "CONFIG_FILE",
    "STATE_DIR",
    "AlertsConfig",
    "AuthConfig",
    "BaggingConfig",
    "BatchConfig",
    "BatchingConfig",
    "BeatChampionConfig",
    "BehavioralTest",
    "BudgetConfig",
    "CVConfig",
    "ColumnsConfig",
    "ComputeConfig",
    "CsvConfig",
    "DataConfig",
    "DataVariantConfig",
    "DecayConfig",
    "DirectionalTest",
    "DistillConfig",
    "DriftConfig",
    "Duration",
    "EnsembleConfig",
    "EvaluationConfig",
    "ExamplesTest",
    "GateConfig",
    "ImbalanceConfig",
    "InvarianceTest",
    "LimitsConfig",
    "ModelsConfig",
    "MonitoringConfig",
    "PerturbationTest",
    "PredictionLogConfig",
    "ProfileConfig",
    "ProjectConfig",
    "RetentionConfig",
    "RetrainingConfig",
    "RetrainingDataConfig",
    "RolloutConfig",
    "RuleConfig",
    "ServeConfig",
    "SplitConfig",
    "Task",
    "ThresholdConfig",
    "TrackingConfig",
    "TrainConfig",
    "TuningConfig",
    "Value",
    "WindowConfig",
    "duration_seconds",
    "format_duration",
    "json_schema",
    "load_config",
    "quietly",
]
