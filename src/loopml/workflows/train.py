"""`loopml train`: validate -> split -> baseline -> tune -> test -> log -> register.

The search and the fair comparison live in ``workflows.tune`` (CV on the training split,
the winner picked on the validation split, see its docstring); this module keeps the
contract around it: test scored once for the winner and the baseline, one MLflow run
with a child per candidate and a grandchild per trial, a registered challenger.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import loopml
from loopml import compute
from loopml.config import ProjectConfig, Task
from loopml.core import budget, learning_curve, rules, training
from loopml.core.data.contract import CONTRACT_FILE
from loopml.core.data.roles import ColumnRoles
from loopml.core.evaluation import fitted_rows, leakage, metrics
from loopml.core.scoring import column_specs
from loopml.errors import LoopmlError
from loopml.reports import plots
from loopml.tracking.store import (
    FINGERPRINT_TAG,
    KEY_TAG,
    KIND_TAG,
    WINNER_TAG,
    ChildRun,
    Registered,
    RunRecord,
    Tracker,
)
from loopml.workflows import distributed, finalize, tune
from loopml.workflows.events import Reporter, SilentReporter
from loopml.workflows.prepare import Prepared
from loopml.workflows.reference import ARTIFACT as REFERENCE_ARTIFACT
from loopml.workflows.reference import reference_document


@dataclass(frozen=True)
class Scores:
    """One model's standard metrics on the test split."""

    selection: float
    all: dict[str, float]


@dataclass
class TrainResult:
    run_id: str
    skipped: bool
    task: Task
    metric: str
    roles: ColumnRoles
    split_sizes: dict[str, int]
    split_how: str
    fingerprint: str
    warnings: tuple[str, ...] = ()
    leaderboard: list[training.Fitted] = field(default_factory=list)
    winner: str = ""
    test: Scores | None = None
    baseline_test: Scores | None = None
    registered: Registered | None = None
    fairness: str = ""
    learning_curve: str | None = None  # the one-line reading
    rules_test: dict[str, float] = field(default_factory=dict)  # rule -> test selection metric


def train(
    cfg: ProjectConfig,
    *,
    reporter: Reporter | None = None,
    force: bool = False,
    resume: bool = False,
    tracker: Tracker | None = None,
    clock: budget.Clock | None = None,
) -> TrainResult:
    """Train, compare, log and register; skip when data and config are unchanged.

    ``resume`` continues the durable searches of an interrupted train with the same data
    and settings, without re-running the trials that finished. With
    ``tuning.budget.time_limit``, ``clock`` is the run's (``workflows.run`` starts it
    before training, the CLI when the command starts); None starts one now.
    """
    reporter = reporter or SilentReporter()
    clock = clock or time_limit_clock(cfg)
    clock = clock.working() if clock is not None else None
    backend = compute.make(cfg.compute, cfg.train)
    with backend.training_session(cfg.data.source):
        data = distributed.training_data(cfg, reporter, backend)
        return _train(cfg, data, backend, reporter, force, resume, tracker, clock)


def time_limit_clock(
    cfg: ProjectConfig, *, evaluates: bool = False, started: float | None = None
) -> budget.Clock | None:
    """The run's clock when ``tuning.budget.time_limit`` is set (else None).

    Parameters
    ----------
    cfg : ProjectConfig
    evaluates : bool, default False
        True for ``loopml run`` (an evaluation and the gate follow training).
    started : float or None
        ``time.monotonic()`` when the command started; None: now.

    Returns
    -------
    core.budget.Clock or None
    """
    limit = cfg.tuning.budget.time_limit
    if limit is None:
        return None
    if started is None:
        return budget.Clock.start(limit, evaluates=evaluates)
    return budget.Clock(limit, started, evaluates)


def _train(
    cfg: ProjectConfig,
    data: Prepared,
    backend: compute.Compute,
    reporter: Reporter,
    force: bool,
    resume: bool,
    tracker: Tracker | None = None,
    clock: budget.Clock | None = None,
) -> TrainResult:
    metric = metrics.resolve(cfg.metric, data.task)
    finalize.check_settings(cfg, data, metric)
    backend.check_training(  # bad settings fail first
        cfg.models,
        data.task,
        seed=cfg.split.seed,
        warn=reporter.warn,
        search_settings=lambda: (tune.settings(cfg, data, metric), tune.specs(cfg, data.task)),
    )
    rules.check(cfg.models.rules, data.frame, list(data.roles.features), data.target, data.task)
    reporter.stage(f"Opening the tracking store {cfg.tracking.uri}")
    tracker = tracker or Tracker.from_config(cfg)
    previous = None if force else tracker.find_same_run(cfg.training_key(), data.fingerprint)
    if previous:
        return _result(data, metric, previous, skipped=True)

    def search() -> tuple[list[training.Fitted], tune.Outcome]:
        outcome = _search(cfg, data, metric, reporter, resume, clock)
        return outcome.entries, outcome

    fitted, outcome = backend.fit(
        search,
        data,
        metric,
        models=cfg.models,
        seed=cfg.split.seed,
        run_key=f"{cfg.name}-{cfg.training_key()}-{data.fingerprint}",
        stage=reporter.stage,
        progress=reporter.progress,
    )
    best = _pick(cfg, fitted, metric)
    if best.pipeline is None:
        raise LoopmlError(f"every candidate failed; first error: {best.name}: {best.error}")
    final = finalize.finalize(cfg, data, best, metric, reporter)
    late = _lateness(clock, outcome.plan if outcome is not None else None)
    best, fitted_on = _refitted(cfg, data, final.fitted, reporter, late)
    reporter.stage(f"Scoring {best.name} and the baseline on the test split")
    test, baseline_test, figure = _test_scores(backend, data, metric, best, fitted[0])
    _warn_leakage(data, best.name, test, reporter)
    rules_test = _rules_test(backend, data, metric, fitted)
    reporter.stage(f"Logging to {cfg.tracking.uri}")
    plan = outcome.plan if outcome is not None else None
    profile = (
        budget.profile_seconds(clock, plan) if clock is not None and plan is not None else None
    )
    record = _record(
        cfg, data, metric, fitted, best, test, baseline_test, figure, fitted_on, profile
    )
    record.metrics |= {_rule_metric(metric.name, n): v for n, v in rules_test.items()}
    final.add_to(record)
    if data.all_here:  # with train.distributed only a sample is here
        seen = fitted_rows.record(
            [data.splits.train, data.splits.validation], [*data.roles.features, data.target]
        )
        record.documents[fitted_rows.DOCUMENT] = seen.as_document()
    if outcome is not None:
        record.children = outcome.children(metric.name)
        record.documents |= outcome.documents()
        record.figures |= outcome.figures
    run_id, model_uri = tracker.log_run(record)
    registered = tracker.register(run_id, model_uri, {"loopml.winner": best.name})
    result = _result(data, metric, run_id, skipped=False)
    result.leaderboard, result.winner, result.registered = fitted, best.name, registered
    result.test, result.baseline_test, result.rules_test = test, baseline_test, rules_test
    if outcome is not None and cfg.models.register_rule:
        fair = outcome.settings
        result.fairness = (
            f"models.register_rule: no search; the baseline and every rule on the same "
            f"{len(fair.folds)} {fair.fold_kind} folds, seed {fair.seed}"
        )
    elif outcome is not None:
        result.fairness = outcome.settings.fairness()
        result.learning_curve = learning_curve.reading(outcome.curve) if outcome.curve else None
    else:
        result.fairness = "distributed: each booster trained once on Ray Train, no search"
    return result


def _search(
    cfg: ProjectConfig,
    data: Prepared,
    metric: metrics.Metric,
    reporter: Reporter,
    resume: bool,
    clock: budget.Clock | None,
) -> tune.Outcome:
    if cfg.models.register_rule:
        return tune.rules_only(cfg, data, metric, reporter)
    return tune.tune(cfg, data, metric, reporter, resume=resume, clock=clock)


def _pick(
    cfg: ProjectConfig, fitted: list[training.Fitted], metric: metrics.Metric
) -> training.Fitted:
    """The best candidate on validation, or the rule ``models.register_rule`` names."""
    if cfg.models.register_rule:
        wanted = tune.RULE_PREFIX + cfg.models.register_rule
        return next(f for f in fitted if f.name == wanted)
    return training.pick_best(fitted[1:], metric) if len(fitted) > 1 else fitted[0]


def _rules_test(
    backend: compute.Compute,
    data: Prepared,
    metric: metrics.Metric,
    fitted: list[training.Fitted],
) -> dict[str, float]:
    """Each rule's selection metric on the test split (rules fit nothing: no refit needed)."""
    scores = {}
    for entry in fitted:
        if entry.kind == "rule" and entry.pipeline is not None:
            y_true, predicted, proba = backend.predictions(data, entry.pipeline, "test")
            classes = getattr(entry.pipeline, "classes_", None)
            name = entry.name.removeprefix(tune.RULE_PREFIX)
            scores[name] = metrics.score(metric, y_true, predicted, proba, classes)
    return scores


def _rule_metric(metric: str, rule: str) -> str:
    """MLflow's name for a rule's test score: rule_test_<metric>.<rule> (unsafe chars as _)."""
    return f"rule_test_{metric}." + re.sub(r"[^\w.\- /]", "_", rule)


def _warn_leakage(data: Prepared, winner: str, test: Scores, reporter: Reporter) -> None:
    """A perfect test score is said, with the columns that alone say most about the target."""
    perfect = leakage.too_good(test.all, data.task, data.sizes().get("test", 0))
    if perfect is None:
        return
    columns = [*data.roles.numeric, *data.roles.categorical, *data.roles.datetime]
    found = leakage.suspects(data.splits.train, data.target, columns, data.task)
    reporter.warn(leakage.line(perfect, winner, found, data.task))


def _lateness(clock: budget.Clock | None, plan: budget.TimePlan | None) -> Callable[[float], str]:
    """Why an optional step estimated at so many seconds is skipped ("" when it fits or
    there is no time limit): ``core.budget.late`` with the run's clock and plan."""
    if clock is None or plan is None:
        return lambda seconds: ""
    return lambda seconds: budget.late(clock, plan, seconds)


def _refitted(
    cfg: ProjectConfig,
    data: Prepared,
    best: training.Fitted,
    reporter: Reporter,
    late: Callable[[float], str],
) -> tuple[training.Fitted, str]:
    """The winner fitted on train+validation when ``train.refit`` resolves to it and, with a
    time limit, the refit still fits (its estimate: the training-split fit's time scaled
    by the rows); and the rows it ships fitted on."""
    if cfg.refit_rows() == "train":
        return best, "train"
    rows = pd.concat([data.splits.train, data.splits.validation])
    estimate = best.fit_seconds * len(rows) / max(1, len(data.splits.train))
    reason = late(estimate if estimate == estimate else 0.0)
    if reason:
        reporter.warn(
            f"refit of {best.name} on train+validation skipped: {reason}; the model ships "
            f"fitted on the training split (raise --time-limit, or set train.refit: train to "
            f"skip it up front)"
        )
        return best, "train"
    reporter.stage(f"Refitting {best.name} on train+validation ({len(rows):,} rows)")
    return training.refit(best, rows, list(data.roles.features), data.target), "train+validation"


def _test_scores(
    backend: compute.Compute,
    data: Prepared,
    metric: metrics.Metric,
    best: training.Fitted,
    baseline: training.Fitted,
) -> tuple[Scores, Scores, Any]:
    """The winner's and the baseline's scores on the test split (every row of it, where
    the backend holds them), and the winner's figure."""
    scored = []
    for fitted in (best, baseline):
        assert fitted.pipeline is not None
        y_true, predicted, proba = backend.predictions(data, fitted.pipeline, "test")
        classes = getattr(fitted.pipeline, "classes_", None)
        every = metrics.report(data.task, y_true, predicted, proba, classes)
        every[metric.name] = metrics.score(metric, y_true, predicted, proba, classes)
        scored.append((Scores(every[metric.name], every), y_true, predicted))
    figure = _figure(data, best, scored[0][1], scored[0][2])
    return scored[0][0], scored[1][0], figure


def _figure(data: Prepared, best: training.Fitted, y_true: pd.Series, predicted: np.ndarray) -> Any:
    title = f"{best.name} on the test split"
    if data.task == "classification":
        labels = list(getattr(best.pipeline, "classes_", np.unique(y_true)))
        return plots.confusion_matrix(y_true, predicted, labels, title)
    return plots.residuals(y_true, predicted, title)


def _record(
    cfg: ProjectConfig,
    data: Prepared,
    metric: metrics.Metric,
    fitted: list[training.Fitted],
    best: training.Fitted,
    test: Scores,
    baseline_test: Scores,
    figure: Any,
    fitted_on: str,
    profile_seconds: float | None = None,
) -> RunRecord:
    features = data.splits.train[list(data.roles.features)]
    assert best.pipeline is not None
    plot_name = "confusion_matrix.png" if data.task == "classification" else "residuals.png"
    return RunRecord(
        name=f"{cfg.name}-{best.name}",
        params={
            "winner": best.name,
            "model": best.params,
            "task": data.task,
            "metric": metric.name,
            "split": data.splits.params(cfg.split),
            "rows": data.sizes(),
            "tuning": cfg.tuning.model_dump(mode="json"),
            "imbalance": cfg.imbalance.strategy,
            "fitted_on": fitted_on,
            **(data.variant.params() if data.variant else {}),
        },
        metrics=_run_metrics(best, metric.name, test, baseline_test),
        tags={
            KIND_TAG: "training",
            KEY_TAG: cfg.training_key(),
            FINGERPRINT_TAG: data.fingerprint,
            WINNER_TAG: best.name,
            "loopml.data_variant": data.variant.name if data.variant else "",
            "loopml.metric": metric.name,
            "loopml.version": loopml.__version__,
        },
        documents={
            "config/loopml.json": cfg.model_dump(mode="json"),
            "data/roles.json": data.roles.as_dict(),
            f"data/{CONTRACT_FILE}": data.contract.as_dict(),
            "data/warnings.json": list(data.warnings),
            "leaderboard.json": [tune.board_row(f) for f in fitted],
            REFERENCE_ARTIFACT: reference_document(
                cfg, data, metric.name, best, test.selection, profile_seconds
            ),
        },
        figures={plot_name: figure},
        children=[
            ChildRun(
                f.name, f.params, _child_metrics(f, metric.name), {"loopml.error": f.error or ""}
            )
            for f in fitted
        ],
        model=best.pipeline,
        model_input=features,
        model_output=best.pipeline.predict(features.head(50)),
        model_metadata={"loopml": _model_metadata(cfg, data, best, fitted_on)},
        check_input=data.splits.validation[list(data.roles.features)],
        contract=data.contract,
    )


def _run_metrics(
    best: training.Fitted, metric: str, test: Scores, baseline_test: Scores
) -> dict[str, float]:
    values = {f"train_{metric}": best.train_score, f"validation_{metric}": best.validation_score}
    for name, value in test.all.items():
        values[f"test_{name}"] = value
    for name, value in baseline_test.all.items():
        values[f"baseline_test_{name}"] = value
    return {k: v for k, v in values.items() if not math.isnan(v)}


def _child_metrics(fitted: training.Fitted, metric: str) -> dict[str, float]:
    return {
        f"train_{metric}": fitted.train_score,
        f"validation_{metric}": fitted.validation_score,
        "fit_seconds": fitted.fit_seconds,
    }


def _model_metadata(
    cfg: ProjectConfig, data: Prepared, best: training.Fitted, fitted_on: str
) -> dict[str, Any]:
    classes = getattr(best.pipeline, "classes_", [])
    return {
        "task": data.task,
        "target": cfg.data.target,
        "columns": [{"name": c.name, "role": c.role} for c in column_specs(data.roles)],
        "classes": pd.Series(classes).tolist(),
        "id_columns": list(data.roles.id),
        "custom_estimators": [n for n in (cfg.models.candidates or {}) if "." in n],
        "winner": best.name,
        "fitted_on": fitted_on,
        "version": loopml.__version__,
    }


def _result(data: Prepared, metric: metrics.Metric, run_id: str, *, skipped: bool) -> TrainResult:
    return TrainResult(
        run_id=run_id,
        skipped=skipped,
        task=data.task,
        metric=metric.name,
        roles=data.roles,
        split_sizes=data.sizes(),
        split_how=data.splits.how,
        fingerprint=data.fingerprint,
        warnings=data.warnings,
    )
