"""`loopml distill [RUN]`: a smaller, faster student of a trained model.

The student is fitted on the training split against the teacher's predicted
probabilities (``core.distill``), then both are scored on the validation split, which
decides, and on the test split, which is reported. The student is registered (alias
``student``) only when its validation score drops by at most ``distill.max_drop``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

import loopml
from loopml.config import ProjectConfig
from loopml.core import distill as core_distill
from loopml.core import models, training
from loopml.core.evaluation import metrics
from loopml.core.scoring import ScoringModel
from loopml.tracking.models import load
from loopml.tracking.store import KIND_TAG, Registered, RunRecord, Tracker
from loopml.workflows.events import Reporter, SilentReporter
from loopml.workflows.predict import model_uri
from loopml.workflows.prepare import Prepared, prepare

STUDENT_ALIAS = "student"


@dataclass(frozen=True)
class Side:
    """One model's scores and serving footprint."""

    name: str
    validation: float
    test: float
    latency_ms: float
    size_bytes: int


@dataclass
class DistillResult:
    run_id: str
    metric: str
    teacher: Side
    student: Side
    drop: float
    max_drop: float
    registered: Registered | None


def distill(
    cfg: ProjectConfig,
    run: str | None = None,
    *,
    reporter: Reporter | None = None,
    tracker: Tracker | None = None,
) -> DistillResult:
    """Train, compare and (within the bound) register a student of ``run`` (default challenger)."""
    reporter = reporter or SilentReporter()
    uri = model_uri(cfg, run or "challenger")
    reporter.stage(f"Loading the teacher {uri}")
    teacher = load(uri, tracking_uri=cfg.tracking.uri)
    data = prepare(cfg, reporter)
    metric = metrics.resolve(cfg.metric, data.task)
    reporter.stage(f"Training a {cfg.distill.student} student on the teacher's predictions")
    student = _fit_student(cfg, data, teacher)
    teacher_side = _side(f"teacher ({teacher.describe()})", teacher.pipeline, data, metric)
    student_side = _side(f"student ({cfg.distill.student})", student, data, metric)
    sign = 1.0 if metric.higher_is_better else -1.0
    drop = sign * (teacher_side.validation - student_side.validation)
    tracker = tracker or Tracker.from_config(cfg)
    record = _record(cfg, data, teacher, student, teacher_side, student_side, metric, drop)
    reporter.stage(f"Logging to {cfg.tracking.uri}")
    run_id, student_uri = tracker.log_run(record)
    registered = None
    if drop <= cfg.distill.max_drop:
        tags = {"loopml.teacher": teacher.run_id or uri, "loopml.winner": "student"}
        registered = tracker.register(run_id, student_uri, tags, alias=STUDENT_ALIAS)
    return DistillResult(
        run_id, metric.name, teacher_side, student_side, drop, cfg.distill.max_drop, registered
    )


def _fit_student(cfg: ProjectConfig, data: Prepared, teacher: ScoringModel) -> Pipeline:
    features = data.splits.train[list(data.roles.features)]
    estimator = core_distill.student(cfg.distill.student, data.task, cfg.split.seed)
    pipeline = models.build_pipeline(data.roles, estimator)
    if data.task == "classification":
        proba = teacher.predict_proba(features)
        rows, labels, weights = core_distill.soft_targets(features, proba, teacher.classes)
        pipeline.fit(rows, labels, model__sample_weight=weights)
    else:
        pipeline.fit(features, teacher.predict(features))
    return pipeline


def _side(name: str, model: Any, data: Prepared, metric: metrics.Metric) -> Side:
    scores = []
    for frame in (data.splits.validation, data.splits.test):
        predicted, proba = training.predict(model, frame[list(data.roles.features)], data.task)
        classes = getattr(model, "classes_", None)
        scores.append(metrics.score(metric, frame[data.target], predicted, proba, classes))
    rows = data.splits.validation[list(data.roles.features)]
    latency, size = training.footprint(model, rows, data.task)
    return Side(name, scores[0], scores[1], latency, size)


def _record(
    cfg: ProjectConfig,
    data: Prepared,
    teacher: ScoringModel,
    student: Pipeline,
    teacher_side: Side,
    student_side: Side,
    metric: metrics.Metric,
    drop: float,
) -> RunRecord:
    features = data.splits.train[list(data.roles.features)]
    values = {"drop": drop}
    for prefix, side in (("teacher", teacher_side), ("student", student_side)):
        values |= {
            f"{prefix}_validation_{metric.name}": side.validation,
            f"{prefix}_test_{metric.name}": side.test,
            f"{prefix}_latency_ms_per_row": side.latency_ms,
            f"{prefix}_size_bytes": float(side.size_bytes),
        }
    return RunRecord(
        name=f"{cfg.name}-student",
        params={"student": cfg.distill.student, "max_drop": cfg.distill.max_drop},
        metrics={k: v for k, v in values.items() if not math.isnan(v)},
        tags={
            KIND_TAG: "distillation",
            "loopml.teacher": teacher.run_id or "",
            "loopml.metric": metric.name,
        },
        documents={"distillation.json": {"teacher": teacher_side.__dict__}},
        figures={},
        children=[],
        model=student,
        model_input=features,
        model_output=student.predict(features.head(50)),
        model_metadata={"loopml": _metadata(teacher, cfg)},
    )


def _metadata(teacher: ScoringModel, cfg: ProjectConfig) -> dict[str, Any]:
    return {
        "task": teacher.task,
        "target": teacher.target,
        "columns": [{"name": c.name, "role": c.role} for c in teacher.columns],
        "classes": pd.Series(teacher.classes).tolist(),
        "id_columns": list(teacher.id_columns),
        "custom_estimators": [],
        "winner": f"student ({cfg.distill.student})",
        "version": loopml.__version__,
    }
