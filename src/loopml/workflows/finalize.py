"""The last training steps on the chosen pipeline: calibration and the confidence threshold.

``train`` calls ``check_settings`` right after the data is prepared (so a bad slice, test or
gate rule fails before anything is fitted) and ``finalize`` once on the winner, before
logging: the calibrated model is what gets registered, and the threshold is stored in the
model's metadata so every way of scoring applies it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from loopml.config import ProjectConfig
from loopml.core import training
from loopml.core.evaluation import metrics, settings
from loopml.core.evaluation.calibration import CalibrationOutcome, calibrate
from loopml.core.evaluation.threshold import Selective, Threshold, choose
from loopml.tracking.store import RunRecord
from loopml.workflows.events import Reporter
from loopml.workflows.prepare import Prepared

CALIBRATION_DOCUMENT = "evaluation/calibration.json"


def check_settings(cfg: ProjectConfig, data: Prepared, metric: metrics.Metric) -> None:
    """Raise a ConfigError for evaluation, behavioral or gate settings the data cannot meet."""
    settings.check(cfg, data.frame, data.task, metric)


@dataclass(frozen=True)
class Finalized:
    fitted: training.Fitted  # the model to register, scored again on train and validation
    calibration: CalibrationOutcome
    threshold: Threshold | None = None
    on_validation: Selective | None = None

    def add_to(self, record: RunRecord) -> None:
        """Put the calibration and threshold into the run record and the model metadata."""
        record.model_metadata["loopml"]["calibration"] = self.calibration.method
        record.tags["loopml.calibration"] = self.calibration.method
        record.documents[CALIBRATION_DOCUMENT] = {
            **_jsonable(self.calibration.as_dict()),
            "threshold": self.threshold.as_dict() if self.threshold else None,
            "validation": self.on_validation.as_dict() if self.on_validation else None,
        }
        c = self.calibration
        extra = {
            "calibration_log_loss_before": c.log_loss_before,
            "calibration_log_loss_after": c.log_loss_after,
            "calibration_ece_before": c.ece_before,
            "calibration_ece_after": c.ece_after,
        }
        if self.threshold and self.on_validation:
            record.model_metadata["loopml"]["threshold"] = self.threshold.as_dict()
            extra["threshold_min_confidence"] = self.threshold.min_confidence
            extra["validation_coverage"] = self.on_validation.coverage
            extra["validation_selective_precision"] = self.on_validation.precision
        record.metrics.update({k: v for k, v in extra.items() if v == v})


def finalize(
    cfg: ProjectConfig,
    data: Prepared,
    best: training.Fitted,
    metric: metrics.Metric,
    reporter: Reporter,
) -> Finalized:
    """Calibrate the winner on the validation split and choose its confidence threshold."""
    assert best.pipeline is not None
    features = list(data.roles.features)
    validation = data.splits.validation
    if data.task != "classification":
        return Finalized(best, CalibrationOutcome("none", "none", best.pipeline))
    wanted = cfg.evaluation.calibration
    if wanted != "none":
        reporter.stage(f"Calibrating {best.name} on the validation split ({wanted})")
    outcome = calibrate(
        best.pipeline, validation[features], validation[data.target], wanted, cfg.split.seed
    )
    if outcome.note and outcome.method == "none" and wanted != "none":
        reporter.warn(f"evaluation.calibration: {outcome.note}")
    fitted = best if outcome.method == "none" else _rescored(best, outcome.model, data, metric)
    if cfg.evaluation.threshold is None:
        return Finalized(fitted, outcome)
    if not hasattr(fitted.pipeline, "predict_proba"):
        reporter.warn(f"evaluation.threshold: {best.name} gives no probabilities; not applied")
        return Finalized(fitted, outcome)
    proba = fitted.pipeline.predict_proba(validation[features])  # type: ignore[union-attr]
    classes = list(fitted.pipeline.classes_)  # type: ignore[union-attr]
    threshold, on_validation, warning = choose(
        cfg.evaluation.threshold, validation[data.target], proba, classes
    )
    if warning:
        reporter.warn(warning)
    return Finalized(fitted, outcome, threshold, on_validation)


def _rescored(
    best: training.Fitted, model: Any, data: Prepared, metric: metrics.Metric
) -> training.Fitted:
    """The calibrated model with its own train and validation scores."""

    def on(frame: pd.DataFrame) -> float:
        predicted, proba = training.predict(model, frame[list(data.roles.features)], data.task)
        return metrics.score(metric, frame[data.target], predicted, proba, model.classes_)

    return dataclasses.replace(
        best,
        pipeline=model,
        train_score=on(data.splits.train),
        validation_score=on(data.splits.validation),
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in values.items()}
