"""Early stopping and warm starts for LightGBM, each measured on its own, at small budgets.

Four variants of the lightgbm candidate, the same folds, sampler (TPE + Hyperband pruning,
loopml's default) and seed for each:

- ``before``: LightGBM with ``n_estimators`` searched (50-600), as the catalog has it;
- ``early_stopping``: the catalog's lightgbm with ``early_stopping_rounds: 50`` and
  ``n_estimators: 2000``: stopped on a 10 % holdout of each fit (``core/early_stopping.py``),
  ``n_estimators`` not searched (off by default since this benchmark);
- ``portfolio``: ``before`` with the catalog's warm starts tried first (``n_estimators``,
  which they do not set, left to the sampler): the default now;
- ``both``: ``early_stopping`` with the warm starts.

For each dataset and seed, a 10-trial search runs once per variant; the 5-trial result is
its first 5 trials (TPE's first 5 are its random start-up trials and the pruner only looks
back, so a 5-trial search runs exactly those). The best configuration is refitted on the
training split and scored once on the test split. Reported per variant and budget: test
score (mean over seeds) and wall time (the search's trials plus the refit, in seconds),
and both as a ratio to ``before`` in the same run; also the CPU time of the whole 10-trial
search (``time.process_time``; one thread), which a busy shared machine disturbs less.

Usage: python benchmarks/bench_boosting.py [--seeds 3] [--datasets titanic bike taxis]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
from _tuning_common import DATASETS, save, table, write_project

from loopml.config import load_config
from loopml.core import early_stopping, models, tuning
from loopml.core.evaluation import metrics
from loopml.core.study import SearchResult, run_study
from loopml.workflows import tune
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import Prepared, prepare

DATASETS.setdefault(
    "taxis",
    {
        "source": "nyc_taxis.csv",
        "target": "fare",
        "columns": {"ignore": ["tip", "tolls", "total"], "datetime": ["pickup", "dropoff"]},
        "metric": "r2",
    },
)
OLD_SPACE: dict[str, Any] = dict(models.MODELS["lightgbm"].space)  # n_estimators 50-600
STOPPING_SPACE: dict[str, Any] = {
    **{k: v for k, v in OLD_SPACE.items() if k != "n_estimators"},
    "early_stopping_rounds": early_stopping.PATIENCE,
    "n_estimators": early_stopping.MAX_ROUNDS,
}
VARIANTS = ("before", "early_stopping", "portfolio", "both")
BUDGETS = (5, 10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["titanic", "bike", "taxis"])
    parser.add_argument("--name", default="bench_boosting", help="results/<name>.json")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: list[dict[str, Any]] = []
    for dataset in args.datasets:
        for seed in range(args.seeds):
            with tempfile.TemporaryDirectory() as folder:
                extra = {"tuning": {"budget": {"trials": max(BUDGETS)}}}
                cfg = load_config(write_project(Path(folder), dataset, extra, seed=seed))
                data = prepare(cfg, SilentReporter())
                for variant in VARIANTS:
                    rows += _measure(cfg, data, dataset, seed, variant)
                    print(table(rows[-len(BUDGETS) :]), flush=True)
    summary = _summary(rows)
    print(table(summary))
    save(args.name, {"runs": rows, "summary": summary})


def _measure(cfg: Any, data: Prepared, dataset: str, seed: int, variant: str) -> list[dict]:
    metric = metrics.METRICS[cfg.metric or DATASETS[dataset]["metric"]]
    fair = tune.settings(cfg, data, metric)
    stops = variant in ("early_stopping", "both")
    name = "lightgbm"
    raw = STOPPING_SPACE if stops else OLD_SPACE
    spec = tune.Spec(name, tuning.parse_space(name, raw))
    (task,) = tune.search_tasks(cfg, data, fair, [spec])
    factory: Any = tune.make_model_factory(name, data, "none", fair.seed)
    if not stops:
        factory = _Before(data, fair.seed)
    warm: list[dict] = []
    if variant in ("portfolio", "both"):
        warm, _ = tuning.warm_starts(name, models.MODELS["lightgbm"].portfolio, spec.space)
    task = dataclasses.replace(task, make_model=factory, warm_starts=tuple(warm))
    cpu = time.process_time()
    found = run_study(task, None, f"{dataset}-{seed}-{variant}", resume=False)
    cpu = time.process_time() - cpu  # the whole 10-trial search: less sensitive to a busy machine
    out = []
    for budget in BUDGETS:
        params, search_seconds = _best_of_first(found, budget, fair.scorer)
        started = time.perf_counter()
        model = factory(tuning.fixed_params(spec.space) | params)
        features = list(data.roles.features)
        model.fit(data.splits.train[features], data.splits.train[data.target])
        refit = time.perf_counter() - started
        test = fair.scorer(model, data.splits.test[features], data.splits.test[data.target])
        rounds = getattr(model.steps[-1][1], "best_iteration_", None) if stops else None
        out.append(
            {
                "dataset": dataset,
                "seed": seed,
                "variant": variant,
                "trials": budget,
                "test": test,
                "seconds": search_seconds + refit,
                "search_cpu_seconds_10_trials": cpu,
                "rounds": rounds if rounds is not None else params.get("n_estimators"),
            }
        )
    return out


@dataclasses.dataclass(frozen=True)
class _Before:
    """The catalog's lightgbm before early stopping: plain LightGBM, 300 rounds by default."""

    data: Prepared
    seed: int

    def __call__(self, params: dict[str, Any]) -> Any:
        import lightgbm

        classify = self.data.task == "classification"
        cls = lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor
        model = cls(n_estimators=300, learning_rate=0.05, random_state=self.seed, n_jobs=1)
        model.set_params(verbose=-1, **params)
        return models.build_pipeline(self.data.roles, model)


def _best_of_first(
    found: SearchResult, budget: int, scorer: tuning.Scorer
) -> tuple[dict[str, Any], float]:
    first = found.trials[:budget]
    complete = [t for t in first if t.state == "complete" and not math.isnan(t.score)]
    best = complete[0]
    for trial in complete[1:]:
        if scorer.better(trial.score, best.score):
            best = trial
    return dict(best.params), sum(t.seconds for t in first)


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        for budget in BUDGETS:
            mine = [r for r in rows if r["dataset"] == dataset and r["trials"] == budget]
            base = [r for r in mine if r["variant"] == "before"]
            base_test = statistics.mean(r["test"] for r in base)
            base_seconds = statistics.mean(r["seconds"] for r in base)
            for variant in VARIANTS:
                these = [r for r in mine if r["variant"] == variant]
                test = statistics.mean(r["test"] for r in these)
                seconds = statistics.mean(r["seconds"] for r in these)
                cpu = statistics.mean(r["search_cpu_seconds_10_trials"] for r in these)
                base_cpu = statistics.mean(r["search_cpu_seconds_10_trials"] for r in base)
                out.append(
                    {
                        "dataset": dataset,
                        "trials": budget,
                        "variant": variant,
                        "test_mean": test,
                        "test_min": min(r["test"] for r in these),
                        "test_minus_before": test - base_test,
                        "seconds": seconds,
                        "time_vs_before": seconds / base_seconds,
                        "cpu10_vs_before": cpu / base_cpu,
                    }
                )
    return out


if __name__ == "__main__":
    main()
