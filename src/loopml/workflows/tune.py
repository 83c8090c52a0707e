"""Tune and compare the candidates fairly: same budget, same folds, same seed for each.

How the three splits are used: every search runs cross-validation on the **training**
split only (the folds are computed once and shared by all candidates). Each candidate's
best configuration is then refitted on the whole training split and scored once on the
**validation** split, which no search has seen; the winner is picked there. A best CV
score is the maximum over many trials and so flatters a candidate the more trials and
the larger the space it had; the untouched validation split compares the tuned candidates
without that bias. The **test** split stays for the winner and the baseline, once
(``workflows.train``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from loopml import compute
from loopml.config import ProjectConfig, Task
from loopml.core import ensembles, imbalance, learning_curve, models, rules, training, tuning
from loopml.core.evaluation import metrics
from loopml.core.study import SearchResult, SearchTask, TrialRecord
from loopml.errors import ConfigError, first_line
from loopml.reports import learning_curve as curve_plot
from loopml.tracking.store import ChildRun
from loopml.workflows.events import Reporter
from loopml.workflows.prepare import Prepared


@dataclass(frozen=True)
class Spec:
    """One candidate to tune: its name and parsed search space."""

    name: str
    space: tuning.Space


@dataclass(frozen=True)
class Settings:
    """What makes the comparison fair, resolved once and shared by every candidate."""

    scorer: tuning.Scorer
    method: tuning.Method
    budget: tuning.Budget
    folds: tuning.Folds
    fold_kind: str
    seed: int
    n_jobs: int  # candidates searched at once (tuning.n_jobs, else compute.n_jobs)

    def fairness(self) -> str:
        return (
            f"every candidate: same budget ({self.budget.describe()}), same "
            f"{len(self.folds)} {self.fold_kind} folds, seed {self.seed}; "
            f"method {self.method.name}{' with pruning' if self.method.pruning else ''}"
        )


@dataclass
class Outcome:
    """The leaderboard (baseline first) and what tracking logs about the search."""

    entries: list[training.Fitted]
    settings: Settings
    searches: dict[str, SearchResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    curve: learning_curve.LearningCurve | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def children(self, metric: str) -> list[ChildRun]:
        """One child run per candidate, and under it one per trial."""
        return [_candidate_child(e, self.searches.get(e.name), metric) for e in self.entries]

    def documents(self) -> dict[str, Any]:
        docs: dict[str, Any] = {"tuning.json": {"fairness": self.settings.fairness()}}
        if self.curve is not None:
            docs["learning_curve.json"] = self.curve.as_dict()
        return docs


def specs(cfg: ProjectConfig, task: Task) -> list[Spec]:
    """Parse every candidate's space and check it builds; a bad one is one ConfigError."""
    chosen = models.candidate_names(cfg.models.candidates, task)
    parsed = []
    for name, raw in chosen.items():
        space = tuning.parse_space(name, raw or models.default_space(name))
        models.make_estimator(name, _sample(space), task, cfg.split.seed)
        parsed.append(Spec(name, space))
    return parsed


def _sample(space: tuning.Space) -> dict[str, Any]:
    """One valid point of the space, to check the names before any search."""
    point: dict[str, Any] = {}
    for name, param in space.items():
        if isinstance(param, tuning.Fixed):
            point[name] = param.value
        elif isinstance(param, tuning.Choice):
            point[name] = param.values[0]
        else:
            point[name] = int(param.low) if param.integer else param.low
    return point


def settings(cfg: ProjectConfig, data: Prepared, metric: metrics.Metric) -> Settings:
    t = cfg.tuning
    seed = cfg.split.seed if t.seed is None else t.seed
    scorer = tuning.make_scorer(t.metric or metric.name, data.task)
    time_ordered = cfg.split.time_column is not None
    folds = tuning.make_folds(t.cv, data.splits.train, data.target, data.task, seed, time_ordered)
    jobs = t.n_jobs if t.n_jobs is not None else cfg.compute.n_jobs
    n_jobs = jobs if jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + jobs)
    return Settings(
        scorer,
        tuning.Method(t.method, t.pruning, seed, t.grid_points),
        tuning.Budget(t.budget.trials, t.budget.timeout),
        folds,
        tuning.fold_kind(t.cv, data.task, time_ordered),
        seed,
        n_jobs,
    )


def tune(
    cfg: ProjectConfig,
    data: Prepared,
    metric: metrics.Metric,
    reporter: Reporter,
    *,
    resume: bool = False,
) -> Outcome:
    """Search every candidate, refit the best of each, add the ensemble, pick, plot."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is noise here
    chosen = specs(cfg, data.task)
    fair = settings(cfg, data, metric)
    reporter.stage(f"Tuning {len(chosen)} candidates: {fair.fairness()}")
    for note in _imbalance_notes(cfg, data, chosen):
        reporter.warn(note)
    resuming = None
    if resume:

        def report(found: list[SearchResult]) -> None:
            for line in resumed_lines(found, chosen, fair):
                reporter.stage(line)

        resuming = compute.Resume(lambda: check_resumable(cfg, data), report)
    searches = _search_all(cfg, data, fair, chosen, reporter, resume=resuming)
    reporter.stage("Refitting each candidate's best configuration on the training split")
    entries = [_baseline(data, metric, fair)]
    entries += _refit_all(cfg, data, metric, fair, chosen, searches)
    outcome = Outcome(entries, fair, {s.name: s for s in searches})
    for entry in entries:
        if entry.error:
            reporter.warn(f"candidate {entry.name} failed and is left out: {entry.error}")
    _add_ensemble(cfg, data, metric, outcome, reporter)
    if cfg.tuning.learning_curve:
        _add_learning_curve(cfg, data, metric, outcome, reporter)
    outcome.entries += rule_entries(cfg, data, metric, fair)
    return outcome


RULE_PREFIX = "rule:"  # a rule's name in the leaderboard: rule:<name under models.rules>


def rules_only(
    cfg: ProjectConfig, data: Prepared, metric: metrics.Metric, reporter: Reporter
) -> Outcome:
    """``models.register_rule``: the baseline and the rules on the same folds, no search."""
    fair = settings(cfg, data, metric)
    reporter.stage(
        f"models.register_rule: {cfg.models.register_rule}: no candidate is tuned; scoring the "
        f"baseline and {len(cfg.models.rules)} rule(s) on the same {len(fair.folds)} folds"
    )
    return Outcome([_baseline(data, metric, fair), *rule_entries(cfg, data, metric, fair)], fair)


def rule_entries(
    cfg: ProjectConfig, data: Prepared, metric: metrics.Metric, fair: Settings
) -> list[training.Fitted]:
    """Each rule of ``models.rules`` scored as the baseline is: same folds, same splits."""
    entries = []
    for name, rule in cfg.models.rules.items():
        model = rules.make(name, rule, data.task)
        fitted = _fit(data, metric, RULE_PREFIX + name, model, rules.params(rule))
        started = time.perf_counter()
        scores = tuning.cross_validate(model, *_xy(data), fair.folds, fair.scorer)
        seconds = time.perf_counter() - started
        entry = _with_search(fitted, data, scores.scores, 0, 0, seconds)
        entries.append(dataclasses.replace(entry, kind="rule"))
    return entries


def _imbalance_notes(cfg: ProjectConfig, data: Prepared, chosen: list[Spec]) -> list[str]:
    """Where imbalance.strategy cannot apply as asked (class weights without support)."""
    notes = []
    for spec in chosen:
        estimator = models.make_estimator(spec.name, _sample(spec.space), data.task, 0)
        _, note = imbalance.plan(cfg.imbalance.strategy, estimator, data.task)
        if note:
            notes.append(f"{spec.name}: {note}")
    return notes


SETTINGS_FILE = "settings.json"  # beside the studies: the settings that started them


def study_storage(cfg: ProjectConfig, data: Prepared, name: str) -> tuple[str, str]:
    """(storage URL, study name) of a candidate's durable study under ``.loopml/studies``."""
    folder = _study_folder(cfg, data)
    folder.mkdir(parents=True, exist_ok=True)
    settings_file = folder / SETTINGS_FILE
    if not settings_file.exists():
        settings_file.write_text(json.dumps(cfg.training_settings(), sort_keys=True))
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    return f"sqlite:///{folder / safe}.db", f"{cfg.name}-{safe}"


def _study_folder(cfg: ProjectConfig, data: Prepared) -> Path:
    return cfg.state_dir / "studies" / f"{cfg.training_key()}-{data.fingerprint}"


def check_resumable(cfg: ProjectConfig, data: Prepared) -> None:
    """``--resume`` continues the search these settings started, or refuses with the key that
    differs from the latest interrupted search on the same data (one ConfigError line)."""
    if _study_folder(cfg, data).is_dir():
        return
    earlier = sorted(
        (cfg.state_dir / "studies").glob(f"*-{data.fingerprint}/{SETTINGS_FILE}"),
        key=lambda path: path.stat().st_mtime,
    )
    if not earlier:
        return  # nothing to resume: the search starts, and says it kept no trials
    then = _flat(json.loads(earlier[-1].read_text()))
    now = _flat(cfg.training_settings())
    key = next(k for k in sorted(then.keys() | now.keys()) if then.get(k) != now.get(k))
    raise ConfigError(
        f"--resume: {key} is {_shown(now, key)} but the interrupted search on this data had "
        f"{_shown(then, key)}; set it back to resume, or train without --resume to start anew"
    )


def _flat(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _shown(flat: dict[str, Any], key: str) -> str:
    return json.dumps(flat[key]) if key in flat else "(unset)"


def resumed_lines(searches: list[SearchResult], chosen: list[Spec], fair: Settings) -> list[str]:
    """Per candidate: the finished trials kept from the interrupted search, and where it went on."""
    lines = []
    for spec, found in zip(chosen, searches, strict=True):
        _, cap = fair.method.plan(spec.space, fair.budget)
        of = f" of {cap}" if cap is not None else ""
        ran = len(found.trials) - found.resumed_trials
        lines.append(
            f"--resume: {found.name} kept {found.resumed_trials} finished trials{of} and "
            + (
                f"continued at trial {found.resumed_trials + 1} ({ran} run now)"
                if ran > 0
                else "had none left to run"
            )
        )
    return lines


def make_model_factory(
    name: str, data: Prepared, strategy: str, seed: int
) -> Any:  # Callable[[dict], Pipeline]; a class so Ray can pickle it by value
    return _ModelFactory(name, data.task, data.roles, strategy, seed)


@dataclass(frozen=True)
class _ModelFactory:
    name: str
    task: Task
    roles: Any
    strategy: str
    seed: int

    def __call__(self, params: dict[str, Any]) -> Any:
        estimator = models.make_estimator(self.name, params, self.task, self.seed)
        return imbalance.build(self.roles, estimator, self.strategy, self.task, self.seed)


def search_tasks(
    cfg: ProjectConfig, data: Prepared, fair: Settings, chosen: list[Spec]
) -> list[SearchTask]:
    concurrent = max(1, min(fair.n_jobs, len(chosen)))
    X, y = _xy(data)
    factories = {
        spec.name: make_model_factory(spec.name, data, cfg.imbalance.strategy, fair.seed)
        for spec in chosen
    }
    # Folds prepared once per distinct preprocessing (one-hot or native categories)
    prepared: dict[str, list[tuning.PreparedFold]] = {}
    keys: dict[str, str] = {}
    for name, factory in factories.items():
        features = factory({})[0]
        keys[name] = joblib.hash(features)
        if keys[name] not in prepared:
            prepared[keys[name]] = tuning.prepare_folds(features, X, y, fair.folds, fair.n_jobs)
    return [
        SearchTask(
            spec.name,
            spec.space,
            factories[spec.name],
            X,
            y,
            fair.folds,
            fair.scorer,
            fair.method,
            fair.budget,
            n_jobs=max(1, fair.n_jobs // concurrent),
            prepared=prepared[keys[spec.name]],
        )
        for spec in chosen
    ]


def _search_all(
    cfg: ProjectConfig,
    data: Prepared,
    fair: Settings,
    chosen: list[Spec],
    reporter: Reporter,
    *,
    resume: compute.Resume | None,
) -> list[SearchResult]:
    tasks = search_tasks(cfg, data, fair, chosen)
    lock = threading.Lock()

    def progress(name: str) -> Any:
        def on_trial(record: TrialRecord, finished: int, cap: int | None) -> None:
            with lock:
                reporter.progress(name, finished, cap or finished)

        return on_trial

    return compute.make(cfg.compute).search(
        tasks,
        progress,
        studies=lambda name: study_storage(cfg, data, name),
        n_jobs=fair.n_jobs,
        state_dir=cfg.state_dir,
        resume=resume,
        warn=reporter.warn,
    )


def _baseline(data: Prepared, metric: metrics.Metric, fair: Settings) -> training.Fitted:
    estimator = models.baseline(data.task)
    problem = _problem(data, metric)
    fitted = training.fit_candidate(problem, training.Candidate(models.BASELINE, estimator))
    features = list(data.roles.features)
    scores = tuning.cross_validate(
        models.build_pipeline(data.roles, estimator),
        data.splits.train[features],
        data.splits.train[data.target],
        fair.folds,
        fair.scorer,
    )
    entry = _with_search(fitted, data, scores.scores, trials=1, pruned=0, seconds=0.0)
    return dataclasses.replace(entry, kind="baseline")


def _problem(data: Prepared, metric: metrics.Metric) -> training.Problem:
    return training.Problem(
        data.task,
        data.target,
        data.roles,
        metric.name,
        data.splits.train,
        data.splits.validation,
    )


def _refit_all(
    cfg: ProjectConfig,
    data: Prepared,
    metric: metrics.Metric,
    fair: Settings,
    chosen: list[Spec],
    searches: list[SearchResult],
) -> list[training.Fitted]:
    def refit(pair: tuple[Spec, SearchResult]) -> training.Fitted:
        spec, found = pair
        trials = len(found.trials)
        pruned = sum(t.state == "pruned" for t in found.trials)
        if found.error:
            nan = math.nan
            return training.Fitted(spec.name, {}, None, nan, nan, 0.0, found.error, trials=trials)
        params = tuning.fixed_params(spec.space) | found.best_params
        factory = make_model_factory(spec.name, data, cfg.imbalance.strategy, fair.seed)
        fitted = _fit(data, metric, spec.name, factory(params), params)
        return _with_search(fitted, data, found.fold_scores, trials, pruned, found.seconds)

    return compute.LocalCompute.threads(fair.n_jobs).map(
        refit, list(zip(chosen, searches, strict=True))
    )


def _fit(
    data: Prepared, metric: metrics.Metric, name: str, model: Any, params: dict[str, Any]
) -> training.Fitted:
    """Fit a whole pipeline on train; score train and validation (never raises)."""
    problem = _problem(data, metric)
    features = list(data.roles.features)
    started = time.perf_counter()
    try:
        model.fit(problem.train[features], problem.train[problem.target])
        model = imbalance.without_resampler(model)
        train_score = training.score_on(model, problem.train, problem)
        validation_score = training.score_on(model, problem.validation, problem)
    except Exception as exc:
        reason = first_line(exc)
        return training.Fitted(name, params, None, math.nan, math.nan, 0.0, reason)
    elapsed = time.perf_counter() - started
    return training.Fitted(name, params, model, train_score, validation_score, elapsed)


def _with_search(
    fitted: training.Fitted,
    data: Prepared,
    fold_scores: list[float],
    trials: int,
    pruned: int,
    seconds: float,
) -> training.Fitted:
    latency, size = _footprint(fitted.pipeline, data)
    return training.Fitted(
        fitted.name,
        fitted.params,
        fitted.pipeline,
        fitted.train_score,
        fitted.validation_score,
        fitted.fit_seconds,
        fitted.error,
        cv_mean=float(np.mean(fold_scores)) if fold_scores else math.nan,
        cv_std=float(np.std(fold_scores)) if fold_scores else math.nan,
        trials=trials,
        pruned=pruned,
        search_seconds=seconds,
        latency_ms=latency,
        size_bytes=size,
        kind=fitted.kind,
    )


def _footprint(model: Any, data: Prepared) -> tuple[float, int]:
    """Prediction time per row (best of three on the validation split) and pickled size."""
    if model is None:
        return math.nan, 0
    return training.footprint(model, data.splits.validation[list(data.roles.features)], data.task)


def _add_ensemble(
    cfg: ProjectConfig,
    data: Prepared,
    metric: metrics.Metric,
    outcome: Outcome,
    reporter: Reporter,
) -> None:
    method = cfg.models.ensemble.method
    ranked = _ranked_by_cv(outcome)
    if method == "none" or len(ranked) < 2:
        if method != "none":
            outcome.notes.append("ensemble skipped: fewer than two candidates succeeded")
        return
    top = ranked[: cfg.models.ensemble.top_k]
    fair = outcome.settings
    factories = {
        e.name: make_model_factory(e.name, data, cfg.imbalance.strategy, fair.seed) for e in top
    }
    members = [(_member_name(e.name), factories[e.name](e.params)) for e in top]
    name = ensembles.name_of(method, [e.name for e in top])
    reporter.stage(f"Scoring {name} on the same {len(fair.folds)} folds")
    model = ensembles.build(method, members, data.task, fair.seed)
    started = time.perf_counter()
    scores = tuning.cross_validate(model, *_xy(data), fair.folds, fair.scorer, n_jobs=fair.n_jobs)
    seconds = time.perf_counter() - started
    params = {"members": [e.name for e in top]}
    unfitted = ensembles.build(method, members, data.task, fair.seed)
    fitted = _fit(data, metric, name, unfitted, params)
    outcome.entries.append(_with_search(fitted, data, scores.scores, 1, 0, seconds))


def _xy(data: Prepared) -> tuple[pd.DataFrame, pd.Series]:
    """The training split's features and target."""
    return data.splits.train[list(data.roles.features)], data.splits.train[data.target]


def _member_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", name)


def _ranked_by_cv(outcome: Outcome) -> list[training.Fitted]:
    usable = [
        e
        for e in outcome.entries[1:]
        if e.pipeline is not None and not math.isnan(e.cv_mean) and e.error is None
    ]
    sign = 1.0 if outcome.settings.scorer.higher_is_better else -1.0
    return sorted(usable, key=lambda e: -sign * e.cv_mean)


def _add_learning_curve(
    cfg: ProjectConfig,
    data: Prepared,
    metric: metrics.Metric,
    outcome: Outcome,
    reporter: Reporter,
) -> None:
    best = training.pick_best(outcome.entries[1:], metric)
    if best.pipeline is None:
        return
    reporter.stage(f"Learning curve of {best.name}")
    fair = outcome.settings
    model = _unfitted(cfg, data, fair, best, outcome)
    outcome.curve = learning_curve.compute(
        model,
        *_xy(data),
        fair.folds,
        fair.scorer,
        shuffle=fair.fold_kind != "time_series",
        seed=fair.seed,
        n_jobs=fair.n_jobs,
    )
    outcome.figures["learning_curve.png"] = curve_plot.plot(outcome.curve, best.name)
    reporter.stage(f"Learning curve: {learning_curve.reading(outcome.curve)}")


def _unfitted(
    cfg: ProjectConfig, data: Prepared, fair: Settings, best: training.Fitted, outcome: Outcome
) -> Any:
    strategy = cfg.imbalance.strategy
    if best.name in outcome.searches or best.name == models.BASELINE:
        if best.name == models.BASELINE:
            return models.build_pipeline(data.roles, models.baseline(data.task))
        return make_model_factory(best.name, data, strategy, fair.seed)(best.params)
    members = [
        (_member_name(n), make_model_factory(n, data, strategy, fair.seed)(_params_of(outcome, n)))
        for n in best.params["members"]
    ]
    return ensembles.build(cfg.models.ensemble.method, members, data.task, fair.seed)


def _params_of(outcome: Outcome, name: str) -> dict[str, Any]:
    return next(e.params for e in outcome.entries if e.name == name)


def _candidate_child(entry: training.Fitted, search: SearchResult | None, metric: str) -> ChildRun:
    values = {
        f"train_{metric}": entry.train_score,
        f"validation_{metric}": entry.validation_score,
        "cv_mean": entry.cv_mean,
        "cv_std": entry.cv_std,
        "fit_seconds": entry.fit_seconds,
        "search_seconds": entry.search_seconds,
        "trials": float(entry.trials),
        "pruned_trials": float(entry.pruned),
        "latency_ms_per_row": entry.latency_ms,
        "size_bytes": float(entry.size_bytes),
    }
    trials = search.trials if search else []
    return ChildRun(
        entry.name,
        entry.params,
        values,
        {"loopml.error": entry.error or ""},
        children=[_trial_child(entry.name, t) for t in trials],
    )


def _trial_child(candidate: str, trial: TrialRecord) -> ChildRun:
    values = {"cv_mean": trial.score, "cv_std": trial.std, "folds": float(trial.folds)}
    values["seconds"] = trial.seconds
    tags = {"loopml.kind": "trial", "loopml.candidate": candidate, "loopml.state": trial.state}
    if trial.error:
        tags["loopml.error"] = trial.error
    return ChildRun(f"{candidate}#{trial.number}", trial.params, values, tags)


def leaderboard_frame(outcome: Outcome) -> pd.DataFrame:
    """The leaderboard as a table (also logged as JSON by training)."""
    return pd.DataFrame([board_row(e) for e in outcome.entries])


def board_row(entry: training.Fitted) -> dict[str, Any]:
    return {
        "name": entry.name,
        "cv_mean": entry.cv_mean,
        "cv_std": entry.cv_std,
        "train": entry.train_score,
        "validation": entry.validation_score,
        "trials": entry.trials,
        "pruned": entry.pruned,
        "search_seconds": round(entry.search_seconds, 3),
        "fit_seconds": round(entry.fit_seconds, 3),
        "latency_ms_per_row": entry.latency_ms,
        "size_bytes": entry.size_bytes,
        "params": entry.params,
        "error": entry.error,
        "kind": entry.kind,
    }
