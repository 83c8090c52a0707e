"""The Ray backend of the search: each candidate's trials run through Ray Tune.

Same method as the local backend: TPE and random sampling through Ray's ``OptunaSearch``
with the same Optuna sampler and the same define-by-run space (``tuning.suggest``), a
grid through ``tune.grid_search``, and pruning on CV folds through ASHA (asynchronous
successive halving; the "fold" reported after each fold is its resource). Trials of one
candidate run concurrently on the Ray instance (local by default, or
``compute.address: ray://host:10001``); candidates run one after another, each with the
same budget. Ray is imported only here.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search.optuna import OptunaSearch

from loopml.compute.ray_errors import ray_errors
from loopml.config import ComputeConfig
from loopml.core import tuning
from loopml.core.study import SearchResult, SearchTask, TrialRecord

ProgressFactory = Callable[[str], Callable[[TrialRecord, int, int | None], None]]
_PARAMS = "params"


def search_all(
    tasks: list[SearchTask], cfg: ComputeConfig, storage: Path, progress: ProgressFactory
) -> list[SearchResult]:
    """Search every candidate on Ray; start a local instance if none is running."""
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=cfg.address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        return [search_one(task, storage, progress(task.name)) for task in tasks]
    finally:
        if started_here:
            ray.shutdown()


def search_one(
    task: SearchTask,
    storage: Path,
    on_trial: Callable[[TrialRecord, int, int | None], None] | None = None,
) -> SearchResult:
    """One candidate's search as one Ray Tune experiment."""
    kind, cap = task.method.plan(task.space, task.budget)
    if cap is None and task.budget.timeout is None:
        cap = 1
    param_space, search_alg, samples = _search(task, kind, cap)
    tuner = tune.Tuner(
        tune.with_parameters(_trainable, task=task),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric="score",
            mode="max" if task.scorer.higher_is_better else "min",
            search_alg=search_alg,
            scheduler=_scheduler(task),
            num_samples=samples,
            time_budget_s=task.budget.timeout,
        ),
        run_config=tune.RunConfig(
            name=f"{task.name}-{uuid.uuid4().hex[:8]}",
            storage_path=str(storage.resolve()),
            verbose=0,
            callbacks=[_Progress(on_trial, cap, len(task.folds))],
        ),
    )
    with (
        contextlib.redirect_stdout(sys.stderr),  # Ray Tune prints where results are
        ray_errors(f"candidate {task.name}", "searching"),
    ):
        grid = tuner.fit()
    return _result(task, [grid[i] for i in range(len(grid))])


def _search(task: SearchTask, kind: str, cap: int | None) -> tuple[dict[str, Any], Any, int]:
    if kind == "grid":
        combos = tuning.product_of(tuning.grid(task.space, task.method.grid_points)) or [{}]
        if cap is not None and cap < len(combos):
            combos = random.Random(task.method.seed).sample(combos, cap)
        return {_PARAMS: tune.grid_search(combos)}, None, 1
    space = task.space
    searcher = OptunaSearch(
        space=_DefineByRun(space),
        metric="score",
        mode="max" if task.scorer.higher_is_better else "min",
        sampler=task.method.sampler(kind, space),
        points_to_evaluate=[dict(p) for p in task.warm_starts] or None,  # tried first
    )
    return {}, searcher, cap if cap is not None else -1


class _DefineByRun:
    """The same define-by-run space as the local search (picklable: Ray saves its searcher)."""

    def __init__(self, space: tuning.Space):
        self.space = space

    def __call__(self, trial: Any) -> dict[str, Any] | None:
        tuning.suggest(trial, self.space)
        return tuning.fixed_params(self.space) or None


def _scheduler(task: SearchTask) -> Any:
    folds = len(task.folds)
    if folds < 3 or not (task.method.pruning or task.method.name == "halving"):
        return FIFOScheduler()
    brackets = 1 if task.method.name == "halving" else 2
    return ASHAScheduler(
        time_attr="fold", max_t=folds, grace_period=1, reduction_factor=3, brackets=brackets
    )


def _trainable(config: dict[str, Any], task: SearchTask) -> None:
    params = tuning.fixed_params(task.space) | _searched(config)

    def on_fold(step: int, running_mean: float) -> bool:
        scores.append(running_mean)
        tune.report({"score": running_mean, "fold": step + 1, "means": json.dumps(scores)})
        return False  # ASHA stops the trial itself

    scores: list[float] = []
    task.cross_validate(params, on_fold)


def _searched(config: dict[str, Any]) -> dict[str, Any]:
    if _PARAMS in config:
        return dict(config[_PARAMS])
    return dict(config)


class _Progress(tune.Callback):
    """A Ray Tune callback on the driver: a progress tick per finished trial."""

    def __init__(
        self,
        on_trial: Callable[[TrialRecord, int, int | None], None] | None,
        cap: int | None,
        folds: int,
    ):
        self.on_trial, self.cap, self.folds, self.finished = on_trial, cap, folds, 0

    def __getstate__(self) -> dict[str, Any]:
        """Ray saves the experiment state; the progress hook stays with the driver."""
        return dict(self.__dict__, on_trial=None)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._done()

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._done()

    def _done(self) -> None:
        self.finished += 1
        if self.on_trial is not None:
            record = TrialRecord(self.finished - 1, {}, "complete", math.nan, math.nan, 0, 0.0)
            self.on_trial(record, self.finished, self.cap)


def _result(task: SearchTask, results: list[Any]) -> SearchResult:
    records = [_record(i, task, r) for i, r in enumerate(results)]
    complete = [(r, res) for r, res in zip(records, results, strict=True) if r.state == "complete"]
    seconds = sum(r.seconds for r in records)
    if not complete:
        error = next((r.error for r in records if r.error), "no trial finished")
        return SearchResult(task.name, {}, [], records, seconds=seconds, error=error)
    sign = 1.0 if task.scorer.higher_is_better else -1.0
    best_record, best = max(complete, key=lambda pair: sign * pair[0].score)
    fold_scores = _fold_scores(best.metrics)
    return SearchResult(task.name, best_record.params, fold_scores, records, seconds=seconds)


def _record(number: int, task: SearchTask, result: Any) -> TrialRecord:
    params = _searched(dict(result.config or {}))
    metrics = result.metrics or {}
    if result.error is not None:
        text = str(result.error).strip().splitlines()
        return TrialRecord(number, params, "failed", math.nan, math.nan, 0, 0.0, text[-1][:300])
    folds = int(metrics.get("fold", 0))
    scores = _fold_scores(metrics)
    state = "complete" if folds == len(task.folds) else "pruned"
    mean = sum(scores) / len(scores) if scores else math.nan
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores)) if scores else math.nan
    seconds = float(metrics.get("time_total_s", 0.0))
    return TrialRecord(number, params, state, mean, std, folds, seconds)


def _fold_scores(metrics: dict[str, Any]) -> list[float]:
    """Per-fold scores back from the running means reported after each fold."""
    means = json.loads(metrics.get("means", "[]"))
    return [m * (i + 1) - (means[i - 1] * i if i else 0.0) for i, m in enumerate(means)]
