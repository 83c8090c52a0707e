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
from loopml.core import (
    bagging,
    budget,
    ensembles,
    imbalance,
    learning_curve,
    models,
    rules,
    target,
    training,
    tuning,
)
from loopml.core.evaluation import metrics
from loopml.core.study import SearchResult, SearchTask, TrialRecord
from loopml.errors import ConfigError, TrainingError, first_line
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
    plan: budget.TimePlan | None = None  # with tuning.budget.time_limit

    def children(self, metric: str) -> list[ChildRun]:
        """One child run per candidate, and under it one per trial."""
        return [_candidate_child(e, self.searches.get(e.name), metric) for e in self.entries]

    def documents(self) -> dict[str, Any]:
        docs: dict[str, Any] = {"tuning.json": {"fairness": self.settings.fairness()}}
        if self.plan is not None:
            plan = dataclasses.asdict(self.plan) | {
                "reserved": self.plan.reserved,
                "kept": self.plan.kept,  # the reserve with the winner's logging
            }
            docs["tuning.json"]["time_limit"] = plan | {"line": self.plan.line()}
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


def with_target_transform(chosen: list[Spec], data: Prepared) -> tuple[list[Spec], str | None]:
    """The specs with ``target_transform`` checked where set and added where the rule offers it.

    A candidate whose space sets ``target_transform`` keeps it (checked against the target);
    for regression, every other candidate gets the choice ``[none, log1p]`` when the target
    is skewed and non-negative (``loopml.core.target.TargetShape.offered``), so the same
    search picks per candidate. Returns the specs and the line saying what was decided
    (None when the target is not skewed or the task is classification).

    Raises
    ------
    loopml.errors.ConfigError
        A ``target_transform`` that does not apply (see ``loopml.core.target.check``).
    """
    shape = None
    if data.task == "regression":
        fitted_on = pd.concat([data.splits.train, data.splits.validation])[data.target]
        shape = target.shape(data.target, data.splits.train[data.target], fitted_on)
    out = []
    for spec in chosen:
        param = spec.space.get(target.KEY)
        if param is not None:
            key = f"models.candidates.{spec.name}.{target.KEY}"
            target.check(key, _values(key, param), data.task, shape)
            out.append(spec)
        elif shape is not None and shape.offered:
            choice = tuning.Choice(target.TRANSFORMS)
            out.append(Spec(spec.name, {**spec.space, target.KEY: choice}))
        else:
            out.append(spec)
    return out, (shape.line() if shape is not None else None)


def _values(key: str, param: tuning.Param) -> tuple[Any, ...]:
    if isinstance(param, tuning.Fixed):
        return (param.value,)
    if isinstance(param, tuning.Choice):
        return param.values
    raise ConfigError(
        f"{key}: a transform is a name, not a range; write none, log1p or [none, log1p]"
    )


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
        tuning.Budget(
            t.budget.trials,
            t.budget.timeout,
            t.budget.time_limit,
            successive_halving=t.budget.successive_halving,
        ),
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
    clock: budget.Clock | None = None,
) -> Outcome:
    """Search every candidate, refit the best of each, add the ensemble and the bagged
    best candidate, pick, plot.

    With ``clock`` (``tuning.budget.time_limit``) the time left is planned first
    (``core.budget.plan``, said in one line): every candidate gets the same share of the
    search; a refit, the ensemble or the learning curve that would not fit in what
    remains is skipped and said. A candidate that finishes no trial in its share is on
    the leaderboard as out of time; when every candidate is, a ``TrainingError`` says
    what limit would do.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is noise here
    chosen, transform_line = with_target_transform(specs(cfg, data.task), data)
    fair = settings(cfg, data, metric)
    fair, timing = _planned(clock, fair, len(chosen), reporter)
    if transform_line:
        reporter.stage(transform_line)
    reporter.stage(f"Tuning {len(chosen)} candidates: {fair.fairness()}")
    for note in _imbalance_notes(cfg, data, chosen):
        reporter.warn(note)
    resuming = None
    if resume:

        def report(found: list[SearchResult]) -> None:
            for line in resumed_lines(found, chosen, fair):
                reporter.stage(line)

        resuming = compute.Resume(lambda: check_resumable(cfg, data), report)
    for line in [*early_stopping_lines(chosen, data.task), *warm_start_lines(cfg, chosen, fair)]:
        reporter.stage(line)
    searches = _search(cfg, data, fair, chosen, reporter, resuming, timing.plan)
    if timing.plan is not None and all(s.out_of_time for s in searches):
        raise TrainingError(_all_out_of_time(searches, timing.plan, len(fair.folds)))
    reporter.stage("Refitting each candidate's best configuration on the training split")
    entries = [_baseline(data, metric, fair)]
    entries += _refit_all(cfg, data, metric, fair, chosen, searches, timing)
    outcome = Outcome(entries, fair, {s.name: s for s in searches})
    _warn_left_out(outcome, reporter)
    timing.follow_leader(outcome, metric)
    _add_ensemble(cfg, data, metric, outcome, reporter, timing)
    timing.follow_leader(outcome, metric)
    _add_bagging(cfg, data, metric, outcome, reporter, timing)
    timing.follow_leader(outcome, metric)
    if cfg.tuning.learning_curve:
        _add_learning_curve(cfg, data, metric, outcome, reporter, timing)
    outcome.plan = timing.plan  # its reserve sized for the winner: train's later steps
    outcome.entries += rule_entries(cfg, data, metric, fair)
    return outcome


@dataclass
class _Timing:
    """The run's clock and the plan of its time limit (both None without a limit); the
    plan's reserve follows the model that would win (:meth:`follow_leader`)."""

    clock: budget.Clock | None
    plan: budget.TimePlan | None

    def follow_leader(self, outcome: Outcome, metric: metrics.Metric) -> None:
        """Grow the reserve for logging the search's trials and the candidate that would win
        now (the best on validation, as ``train`` picks it; ``entries[0]`` is the
        baseline): ``core.budget.TimePlan.for_model``."""
        entries = outcome.entries
        if self.plan is not None and len(entries) > 1:
            leader = training.pick_best(entries[1:], metric)
            trials = sum(len(found.trials) for found in outcome.searches.values())
            self.plan = self.plan.for_model(leader.size_bytes, trials)

    def bigger_model(self, size_bytes: int) -> float:
        """Seconds logging a model of ``size_bytes`` would add to the reserve, should the
        step that makes it win (an ensemble, a bag): 0 without a limit or when it is no
        larger than the leader."""
        if self.plan is None:
            return 0.0
        extra = max(0, size_bytes - self.plan.model_bytes)
        return budget.model_seconds(extra, self.plan.pace, evaluates=self.plan.evaluates)

    def skip(self, seconds: float, *, needed: bool = False, slowdown: float | None = None) -> str:
        """Why a step estimated at ``seconds`` is skipped, or "" when it fits (or no limit);
        see ``core.budget.late`` (``slowdown`` None: measured now)."""
        if self.clock is None or self.plan is None:
            return ""
        return budget.late(self.clock, self.plan, seconds, needed=needed, slowdown=slowdown)

    def slowdown(self) -> float:
        """The machine's slowdown since the plan, measured now (1 without a limit). Taken
        before steps that run in parallel: measured inside them, it would count their own
        work as the machine's load."""
        return 1.0 if self.plan is None else self.plan.slowdown()


def _planned(
    clock: budget.Clock | None, fair: Settings, candidates: int, reporter: Reporter
) -> tuple[Settings, _Timing]:
    """With a time limit: the plan said in one line, and each candidate's share set."""
    if clock is None:
        return fair, _Timing(None, None)
    planned = budget.plan(
        clock,
        candidates=candidates,
        at_once=fair.n_jobs,
        folds=len(fair.folds),
        trials=fair.budget.trials,
    )
    reporter.stage(planned.line())
    halving = fair.budget.successive_halving and candidates >= 3  # else no half to drop
    if fair.budget.successive_halving and not halving:
        reporter.warn(
            f"tuning.budget.successive_halving needs three or more candidates ({candidates} "
            "here: no half to drop); every candidate searches its whole share"
        )
    shared = dataclasses.replace(fair.budget, share=planned.share, successive_halving=halving)
    return dataclasses.replace(fair, budget=shared), _Timing(clock, planned)


def _warn_left_out(outcome: Outcome, reporter: Reporter) -> None:
    """One line per candidate left out: out of time (with its fold time), or its error."""
    for entry in outcome.entries:
        found = outcome.searches.get(entry.name)
        if found is not None and found.out_of_time:
            reporter.warn(_out_of_time_line(found, outcome.settings))
        elif entry.error:
            reporter.warn(f"candidate {entry.name} failed and is left out: {entry.error}")


def _best_fold_seconds(found: SearchResult) -> float:
    """Seconds per fold of the best trial's configuration (NaN when no trial finished)."""
    for trial in found.trials:
        if trial.state == "complete" and trial.params == found.best_params and trial.folds:
            return trial.seconds / trial.folds
    return found.fold_seconds


def _best_by_cv(searches: list[SearchResult], fair: Settings) -> str:
    """The name of the search with the best CV mean ("" when none finished a trial)."""
    done = [s for s in searches if s.error is None and s.fold_scores]
    sign = 1.0 if fair.scorer.higher_is_better else -1.0
    return max(done, key=lambda s: sign * s.cv_mean).name if done else ""


def _out_of_time_line(found: SearchResult, fair: Settings) -> str:
    share = fair.budget.share or 0.0
    if fair.budget.successive_halving:  # it did not survive the first rung: half a share
        share /= 2
    folds = len(fair.folds)
    took = (
        "not one fold could start"
        if math.isnan(found.fold_seconds)
        else f"one trial of {folds} folds takes about {found.fold_seconds * folds:.1f} s "
        f"({found.fold_seconds:.1f} s per fold)"
    )
    return (
        f"candidate {found.name} ran out of time and is left out: {took}, and its share of "
        f"the search is {share:.1f} s; raise --time-limit (tuning.budget.time_limit) or "
        f"leave it out of models.candidates"
    )


def _all_out_of_time(searches: list[SearchResult], plan: budget.TimePlan, folds: int) -> str:
    """Every candidate out of time: one line with the limit that would give the fastest
    candidate one whole trial (its fold time, as measured, times the folds)."""
    measured = [s for s in searches if not math.isnan(s.fold_seconds)]
    head = (
        f"every candidate ran out of time: tuning.budget.time_limit {plan.limit:g} s left "
        f"{plan.share:.1f} s of search to each"
    )
    if not measured:
        return f"{head} after {plan.spent:.0f} s of start-up, data and checks; raise --time-limit"
    fastest = min(measured, key=lambda s: s.fold_seconds)
    waves = math.ceil(plan.candidates / plan.at_once)
    needed = plan.spent + plan.after + waves * fastest.fold_seconds * folds * folds / (folds - 1)
    return (
        f"{head}, and the fastest, {fastest.name}, took {fastest.fold_seconds:.1f} s per fold "
        f"({folds} folds); raise --time-limit to at least {math.ceil(needed * 1.2)} s, or "
        f"leave slow candidates out of models.candidates"
    )


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


def early_stopping_lines(chosen: list[Spec], task: Task) -> list[str]:
    """Which candidates stop boosting on a holdout, and the setting that turns it off."""
    lines = []
    for spec in chosen:
        if spec.name not in models.MODELS:
            continue
        params = models.make_estimator(spec.name, _sample(spec.space), task, 0).get_params()
        key = next((k for k in ("early_stopping_rounds", "n_iter_no_change") if params.get(k)), "")
        if key and params.get("validation_fraction"):
            lines.append(
                f"{spec.name}: boosting stops once a held-out {params['validation_fraction']:.0%} "
                f"of each fit's rows stops improving (at most {params['n_estimators']} rounds; "
                f"the rounds kept show as best_iteration); models.candidates.{spec.name}.{key}: "
                "null trains every round"
            )
    return lines


def warm_starts(cfg: ProjectConfig, spec: Spec, fair: Settings) -> tuple[list[dict], list[str]]:
    """The catalog's warm starts for ``spec`` fitted into its space, and the notes on it;
    none with ``tuning.portfolio: false``, for a grid, or for a model outside the catalog."""
    record = models.MODELS.get(spec.name)
    kind, _ = fair.method.plan(spec.space, fair.budget)
    if not cfg.tuning.portfolio or record is None or kind == "grid":
        return [], []
    return tuning.warm_starts(spec.name, record.portfolio, spec.space)


def warm_start_lines(cfg: ProjectConfig, chosen: list[Spec], fair: Settings) -> list[str]:
    """What the search tries first, and every warm start value changed to fit a space."""
    counts, notes = [], []
    for spec in chosen:
        found, changed = warm_starts(cfg, spec, fair)
        notes += changed
        if found:
            counts.append(f"{spec.name} {len(found)}")
    if not counts:
        return notes
    line = (
        f"Warm starts tried first, within the budget: {', '.join(counts)} configuration(s) "
        "known to do well across datasets (AutoGluon's and FLAML's presets); "
        "tuning.portfolio: false turns them off"
    )
    return [line, *notes]


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
            warm_starts=tuple(warm_starts(cfg, spec, fair)[0]),
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


def _search(
    cfg: ProjectConfig,
    data: Prepared,
    fair: Settings,
    chosen: list[Spec],
    reporter: Reporter,
    resume: compute.Resume | None,
    plan: budget.TimePlan | None,
) -> list[SearchResult]:
    """Every candidate's search; with ``tuning.budget.successive_halving`` in two rungs.

    First rung: every candidate gets half its planned share (``budget.first_rung``).
    Second: the better half by CV score (``budget.survivors``) continue their own studies
    with what is left of the planned search, split equally (``budget.second_rung``); the
    others keep their first-rung results. With fewer than three candidates there is no
    half to drop, and the search is one rung.
    """
    halving = plan is not None and fair.budget.successive_halving and len(chosen) >= 3
    if plan is None or not halving:
        return _search_all(cfg, data, fair, chosen, reporter, resume=resume)
    started = time.monotonic()
    first = _with_share(fair, budget.first_rung(plan))
    found = {s.name: s for s in _search_all(cfg, data, first, chosen, reporter, resume=resume)}
    scores = {name: (s.cv_mean if s.error is None else math.nan) for name, s in found.items()}
    kept = budget.survivors(scores, higher_is_better=fair.scorer.higher_is_better)
    extra = budget.second_rung(plan.search - (time.monotonic() - started), len(kept), plan.at_once)
    dropped = [name for name in found if name not in kept]
    if not kept or not dropped or extra < 1.0:
        return list(found.values())
    go_on = "goes on with" if len(kept) == 1 else "go on with"
    each = "" if len(kept) == 1 else " each"
    reporter.stage(
        f"Successive halving: {', '.join(kept)} {go_on} {extra:.1f} s more{each}; "
        f"{', '.join(dropped)} {'stops' if len(dropped) == 1 else 'stop'} after "
        f"{first.budget.share or 0.0:.1f} s (tuning.budget.successive_halving)"
    )
    second = _with_share(fair, (first.budget.share or 0.0) + extra)
    going_on = compute.Resume(lambda: None, lambda _: None)  # the first rung's studies
    survivors = [spec for spec in chosen if spec.name in kept]
    for result in _search_all(cfg, data, second, survivors, reporter, resume=going_on):
        result.resumed_trials = found[result.name].resumed_trials
        found[result.name] = result
    return [found[spec.name] for spec in chosen]


def _with_share(fair: Settings, share: float) -> Settings:
    return dataclasses.replace(fair, budget=dataclasses.replace(fair.budget, share=share))


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
    timing: _Timing,
) -> list[training.Fitted]:
    folds = len(fair.folds)
    first = _best_by_cv(searches, fair)  # always refitted: a run ends with a model
    slowdown = timing.slowdown()  # before the refits run side by side

    def refit(pair: tuple[Spec, SearchResult]) -> training.Fitted:
        spec, found = pair
        trials = len(found.trials)
        pruned = sum(t.state == "pruned" for t in found.trials)
        nan = math.nan

        def left_out(error: str) -> training.Fitted:  # with the search time it took
            return training.Fitted(
                spec.name,
                {},
                None,
                nan,
                nan,
                0.0,
                error,
                trials=trials,
                search_seconds=found.seconds,
            )

        if found.error:
            return left_out(found.error)
        estimate = budget.refit_seconds(_best_fold_seconds(found), folds)
        late = timing.skip(estimate, needed=True, slowdown=slowdown)
        if late and found.name != first:
            return left_out(f"refit skipped: {late}")
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
    timing: _Timing,
) -> None:
    method = cfg.models.ensemble.method
    ranked = _ranked_by_cv(outcome)
    if method == "none" or len(ranked) < 2:
        if method != "none":
            outcome.notes.append("ensemble skipped: fewer than two candidates succeeded")
        return
    top = ranked[: cfg.models.ensemble.top_k]
    fair = outcome.settings
    folds = len(fair.folds)
    fold = sum(
        _best_fold_seconds(outcome.searches[e.name]) for e in top if e.name in outcome.searches
    )
    estimate = fold * folds / min(fair.n_jobs, folds) + budget.refit_seconds(fold, folds)
    estimate += timing.bigger_model(sum(e.size_bytes for e in top))  # logged if it wins
    late = timing.skip(estimate)
    if late:
        reporter.warn(f"ensemble ({method}) skipped: {late}")
        outcome.notes.append(f"ensemble skipped: {late}")
        return
    factories = {
        e.name: make_model_factory(e.name, data, cfg.imbalance.strategy, fair.seed) for e in top
    }
    members = [(_member_name(e.name), factories[e.name](e.params)) for e in top]
    if method == "weighted":
        _add_weighted(data, metric, outcome, top, members, reporter)
        return
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


def _add_weighted(
    data: Prepared,
    metric: metrics.Metric,
    outcome: Outcome,
    top: list[training.Fitted],
    members: list[tuple[str, Any]],
    reporter: Reporter,
) -> None:
    """Greedy ensemble selection (``ensembles.select``) on the members' out-of-fold
    predictions over the shared folds; the weighted vote enters the leaderboard with its
    fold scores, refitted on train and scored on validation like any candidate.

    The weights are chosen on the same out-of-fold rows its CV score is computed on, so
    that score is slightly optimistic (as AutoGluon's); the pick among candidates is on
    the validation split, which neither the search nor the weights have seen."""
    fair = outcome.settings
    if data.task == "classification":
        kept = [i for i, (_, pipeline) in enumerate(members) if ensembles.has_proba(pipeline)]
        if len(kept) < len(members):
            left = ", ".join(top[i].name for i in range(len(top)) if i not in kept)
            outcome.notes.append(f"weighted ensemble: left out {left} (no class probabilities)")
        top, members = [top[i] for i in kept], [members[i] for i in kept]
    if len(members) < 2:
        outcome.notes.append("weighted ensemble skipped: fewer than two members to weigh")
        return
    goal = metrics.METRICS.get(fair.scorer.name, metric)
    names = ", ".join(e.name for e in top)
    reporter.stage(f"Weighting {names} on their out-of-fold predictions ({len(fair.folds)} folds)")
    X, y = _xy(data)
    started = time.perf_counter()
    oof = [tuning.out_of_fold(p, X, y, fair.folds, data.task, fair.n_jobs) for _, p in members]
    classes = oof[0].classes

    def score(values: np.ndarray, truth: pd.Series) -> float:
        if classes is None:
            return metrics.score_safely(goal, truth, values, None, None)
        predicted = classes[np.argmax(values, axis=1)]
        return metrics.score_safely(goal, truth, predicted, values, classes)

    covered = np.concatenate([valid for _, valid in fair.folds])
    weights = ensembles.select(
        [o.values[covered] for o in oof],
        lambda values: score(values, y.iloc[covered]),
        higher_is_better=goal.higher_is_better,
    )
    fold_scores = [
        score(sum(w * o.values[valid] for w, o in zip(weights, oof, strict=True)), y.iloc[valid])
        for _, valid in fair.folds
    ]
    seconds = time.perf_counter() - started
    used = [i for i, w in enumerate(weights) if w > 0]
    if len(used) < 2:
        outcome.notes.append(
            f"weighted ensemble: selection kept only {top[used[0]].name}, "
            "which is already on the leaderboard"
        )
        return
    chosen = [round(float(weights[i]), 4) for i in used]
    kept_names = [top[i].name for i in used]
    params = {"members": kept_names, "weights": chosen}
    name = ensembles.name_of("weighted", kept_names)
    unfitted = ensembles.build(
        "weighted", [members[i] for i in used], data.task, fair.seed, weights=chosen
    )
    fitted = _fit(data, metric, name, unfitted, params)
    outcome.entries.append(_with_search(fitted, data, fold_scores, 1, 0, seconds))


BAGGED_PREFIX = "bagged_"  # the bagged best candidate's name: bagged_<candidate>


def _add_bagging(
    cfg: ProjectConfig,
    data: Prepared,
    metric: metrics.Metric,
    outcome: Outcome,
    reporter: Reporter,
    timing: _Timing,
) -> None:
    """``models.bagging.folds``: the best candidate by CV fitted on each of k training folds
    (the search's folds when k is ``tuning.cv.folds``) and averaged (``core.bagging``).

    It enters the leaderboard as ``bagged_<name>``: its CV is its members' scores on the
    folds each held out, and it is scored on validation like any candidate. Skipped, with
    one line saying why, for time-series or group folds, a classifier without class
    probabilities, or when it would not fit in the time limit."""
    k = cfg.models.bagging.folds
    searched = [e for e in _ranked_by_cv(outcome) if e.name in outcome.searches]
    if k == 0 or not searched:
        if k and not searched:
            outcome.notes.append("bagging skipped: no candidate succeeded")
        return
    best, fair = searched[0], outcome.settings
    factory = make_model_factory(best.name, data, cfg.imbalance.strategy, fair.seed)
    fold = _best_fold_seconds(outcome.searches[best.name])
    # k fits of (k - 1) / k of the rows; twice when a bagged winner is bagged again on
    # train+validation (train.refit), which the time limit must also hold
    rounds = 1 if cfg.refit_rows() == "train" else 2
    estimate = rounds * budget.refit_seconds(fold, len(fair.folds)) * (k - 1) / min(fair.n_jobs, k)
    estimate += timing.bigger_model(k * best.size_bytes)  # k members, logged if it wins
    late = timing.skip(estimate)
    late = f"{late} (models.bagging.folds: 0 turns it off)" if late else ""
    why = _why_not_bagged(fair, data, factory(best.params)) or late
    if why:
        reporter.warn(f"bagging of {best.name} skipped: {why}")
        outcome.notes.append(f"bagging skipped: {why}")
        return
    name = BAGGED_PREFIX + best.name
    reporter.stage(f"Bagging {best.name}: its best configuration fitted on {k} folds ({name})")
    splitter = tuning.shuffled_splitter(fair.fold_kind, k, fair.seed)
    model = bagging.bag(factory(best.params), data.task, splitter, fair.n_jobs)
    fitted = _fit(data, metric, name, model, {"members": [best.name], "folds": k})
    if fitted.pipeline is None:
        outcome.entries.append(fitted)
        return
    started = time.perf_counter()
    scores = _held_out_scores(fitted.pipeline.steps[-1][1], data, fair.scorer)
    entry = _with_search(fitted, data, scores, 1, 0, time.perf_counter() - started)
    outcome.entries.append(entry)


def _why_not_bagged(fair: Settings, data: Prepared, model: Any) -> str:
    """Why the best candidate cannot be bagged here ("" when it can)."""
    if fair.fold_kind not in ("stratified", "kfold"):
        return (
            f"it refits on shuffled folds, and tuning.cv.kind is {fair.fold_kind}; "
            "use stratified or kfold, or models.bagging.folds: 0"
        )
    if data.task == "classification" and not ensembles.has_proba(model):
        return "it averages class probabilities, and this model gives none"
    return ""


def _held_out_scores(model: Any, data: Prepared, scorer: tuning.Scorer) -> list[float]:
    """Each member's score on the fold it held out: the bag's out-of-fold CV scores."""
    X, y = _xy(data)
    folds = model.folds(X, y)
    return [
        scorer(member, X.iloc[held], y.iloc[held])
        for member, (_, held) in zip(model.estimators_, folds, strict=True)
    ]


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
    timing: _Timing,
) -> None:
    best = training.pick_best(outcome.entries[1:], metric)
    if best.pipeline is None:
        return
    folds = len(outcome.settings.folds)
    at_once = min(outcome.settings.n_jobs, folds)
    # The search's folds were preprocessed once (tuning.prepare_folds): its fold time leaves
    # out what the curve's whole pipelines redo; the refit's fit time has it (bike: 6.7 s
    # taken against a fold-time estimate that let it run past the reserve).
    fold = float(
        np.nanmax([_fold_seconds_of(outcome, best), best.fit_seconds * (folds - 1) / folds])
    )
    estimate = fold * folds * sum(learning_curve.SIZES) / at_once
    late = timing.skip(estimate)
    if late:
        reporter.warn(f"learning curve skipped: {late} (tuning.learning_curve: false skips it)")
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
    if best.name.startswith(BAGGED_PREFIX) and "folds" in best.params:
        member = best.params["members"][0]
        model = make_model_factory(member, data, strategy, fair.seed)(_params_of(outcome, member))
        splitter = tuning.shuffled_splitter(fair.fold_kind, best.params["folds"], fair.seed)
        return bagging.bag(model, data.task, splitter, fair.n_jobs)
    members = [
        (_member_name(n), make_model_factory(n, data, strategy, fair.seed)(_params_of(outcome, n)))
        for n in best.params["members"]
    ]
    weights = best.params.get("weights")
    return ensembles.build(cfg.models.ensemble.method, members, data.task, fair.seed, weights)


def _fold_seconds_of(outcome: Outcome, entry: training.Fitted) -> float:
    """One fold's seconds for ``entry``: its search's, or its members' for an ensemble or
    a bag."""
    if entry.name in outcome.searches:
        return _best_fold_seconds(outcome.searches[entry.name])
    params = entry.params if isinstance(entry.params, dict) else {}
    names = params.get("members", [])
    fold = sum(_best_fold_seconds(outcome.searches[n]) for n in names if n in outcome.searches)
    return fold * params.get("folds", 1)  # a bag fits its member once per fold


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
        "params": entry.shown_params,
        "error": entry.error,
        "kind": entry.kind,
    }
