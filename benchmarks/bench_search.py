"""Search efficiency: loopml's default method (TPE + Hyperband pruning on CV folds) against
scikit-learn's GridSearchCV on the same LightGBM space, pipeline and folds (titanic).

Baseline: GridSearchCV(n_jobs=-1) over the full grid. loopml: the same space as choices,
then loopml's default LightGBM space (ranges), each with a third of GridSearchCV's wall
time as its budget and stopping as soon as a trial reaches GridSearchCV's best CV score.
Reported: wall time, trials, best CV accuracy, seconds to reach GridSearchCV's best and
that as a fraction of GridSearchCV's time (goal: at most 1/3).

Usage: python benchmarks/bench_search.py [--trials 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
from _tuning_common import save, table, write_project
from lightgbm import LGBMClassifier
from sklearn.model_selection import GridSearchCV

from loopml.config import load_config
from loopml.core import models, tuning
from loopml.core.study import SearchTask, TrialRecord, run_study
from loopml.workflows import tune
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare

GRID = {
    "num_leaves": [7, 15, 31, 63],
    "learning_rate": [0.01, 0.03, 0.1, 0.3],
    "n_estimators": [50, 100, 200, 400],
    "min_child_samples": [5, 10, 20, 40],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=1000)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        cfg = load_config(write_project(Path(folder), "titanic", {}))
        data = prepare(cfg, SilentReporter())
    fair = tune.settings(cfg, data, _metric(cfg, data))
    features = list(data.roles.features)
    X, y = data.splits.train[features], data.splits.train[data.target]
    pipeline = models.build_pipeline(data.roles, _lgbm({}))

    started = time.perf_counter()
    grid = GridSearchCV(
        pipeline,
        {f"model__{k}": v for k, v in GRID.items()},
        cv=fair.folds,
        scoring="accuracy",
        n_jobs=-1,
    ).fit(X, y)
    grid_seconds = time.perf_counter() - started
    target = float(grid.best_score_)
    configs = len(grid.cv_results_["params"])
    print(
        f"GridSearchCV: {configs} configs x {len(fair.folds)} folds in {grid_seconds:.1f} s, "
        f"best CV accuracy {target:.4f}",
        flush=True,
    )

    rows = [_row("GridSearchCV (full grid)", grid_seconds, target, configs, grid_seconds, target)]
    for label, space in (
        ("loopml tpe+pruning, same grid", {k: list(v) for k, v in GRID.items()}),
        ("loopml tpe+pruning, default space", models.default_space("lightgbm")),
    ):
        rows.append(_loopml(label, space, data, fair, X, y, args.trials, target, grid_seconds))
        print(table(rows[-1:]), flush=True)
    print()
    print(table(rows))
    path = save("bench_search", {"rows": rows, "grid": GRID, "folds": len(fair.folds)})
    print(f"\nwrote {path}")


def _metric(cfg: Any, data: Any) -> Any:
    from loopml.core.evaluation import metrics

    return metrics.resolve(cfg.metric, data.task)


def _lgbm(params: dict[str, Any]) -> LGBMClassifier:
    return LGBMClassifier(random_state=42, n_jobs=1, verbose=-1, **params)


def _loopml(
    label: str,
    space: dict[str, Any],
    data: Any,
    fair: Any,
    X: Any,
    y: Any,
    trials: int,
    target: float,
    grid_seconds: float,
) -> dict[str, Any]:
    reached: list[float] = []
    started = time.perf_counter()
    prepared = tuning.prepare_folds(
        models.build_pipeline(data.roles, _lgbm({}))[0], X, y, fair.folds, fair.n_jobs
    )

    def on_trial(record: TrialRecord, finished: int, cap: int | None) -> None:
        if record.state == "complete" and record.score >= target and not reached:
            reached.append(time.perf_counter() - started)

    task = SearchTask(
        "lightgbm",
        tuning.parse_space("lightgbm", space),
        lambda params: models.build_pipeline(data.roles, _lgbm(params)),
        X,
        y,
        fair.folds,
        fair.scorer,
        tuning.Method("tpe", True, fair.seed),
        tuning.Budget(trials, grid_seconds / 3),
        n_jobs=fair.n_jobs,
        prepared=prepared,
    )
    result = run_study(
        task, None, label, resume=False, on_trial=on_trial, stop=lambda: bool(reached)
    )
    seconds = time.perf_counter() - started
    to_target = reached[0] if reached else float("nan")
    return _row(label, seconds, result.cv_mean, len(result.trials), to_target, target, grid_seconds)


def _row(
    label: str,
    seconds: float,
    best: float,
    trials: int,
    to_target: float,
    target: float,
    grid_seconds: float | None = None,
) -> dict[str, Any]:
    grid_seconds = grid_seconds or seconds
    return {
        "method": label,
        "trials": trials,
        "wall_s": round(seconds, 1),
        "best_cv_accuracy": best,
        "s_to_reach_grid_best": round(to_target, 1),
        "fraction_of_grid_time": round(to_target / grid_seconds, 3),
        "reached": best >= target,
    }


if __name__ == "__main__":
    main()
