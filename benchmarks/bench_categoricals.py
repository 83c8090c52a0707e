"""Native categories against one-hot for LightGBM (equal trials), and CatBoost against
LightGBM (equal time), on titanic (accuracy, roc_auc), bike sharing (r2) and NYC taxi
fares (r2; tip, tolls and total ignored: they contain the fare).

Baseline: LightGBM behind loopml's one-hot preprocessing (``categoricals="one_hot"``).
Each arm is searched with loopml's TPE (no pruning) over the catalog's default space on
the same folds, then refitted on the training split with its best parameters and scored
on the validation and test splits together (rows no search saw).

- ``--compare encoding``: LightGBM one-hot vs native, ``--trials`` each, per split seed.
- ``--compare catboost``: LightGBM (its default, one-hot) vs CatBoost (native categories),
  ``--seconds`` of search each.

Usage: python benchmarks/bench_categoricals.py --compare encoding --seeds 0 1 2 --trials 12
       python benchmarks/bench_categoricals.py --compare catboost --seeds 0 --seconds 60
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from _tuning_common import DATASETS, save, table, write_project
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

from loopml.config import load_config
from loopml.core import models, tuning
from loopml.core.evaluation import metrics
from loopml.core.study import SearchTask, run_study
from loopml.workflows import tune
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare

DATASETS.setdefault(
    "taxis",
    {
        "source": "nyc_taxis.csv",
        "target": "fare",
        "columns": {"ignore": ["tip", "tolls", "total"]},
        "metric": "r2",
    },
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compare", choices=["encoding", "catboost"], default="encoding")
    parser.add_argument("--datasets", nargs="+", default=["titanic", "bike", "taxis"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    arms = (
        [("lightgbm one_hot", "lightgbm", "one_hot"), ("lightgbm native", "lightgbm", "native")]
        if args.compare == "encoding"
        else [("lightgbm (default)", "lightgbm", None), ("catboost native", "catboost", None)]
    )
    trials, seconds = (args.trials, 1e9) if args.compare == "encoding" else (10_000, args.seconds)
    rows = []
    for dataset in args.datasets:
        for seed in args.seeds:
            data, fair = _prepared(dataset, seed)
            for label, name, categoricals in arms:
                row = _arm(data, fair, name, categoricals, trials, seconds, seed)
                rows.append({"dataset": dataset, "seed": seed, "arm": label, **row})
                print(table(rows[-1:]), flush=True)
    for dataset in args.datasets:  # datasets differ in their score columns
        print()
        print(table([r for r in rows if r["dataset"] == dataset]))
    print()
    for line in _summary(rows):
        print(table([line]))
    path = save(f"bench_categoricals_{args.compare}", {"args": vars(args), "rows": rows})
    print(f"\nwrote {path}")


def _prepared(dataset: str, seed: int) -> tuple[Any, Any]:
    with tempfile.TemporaryDirectory() as folder:
        cfg = load_config(write_project(Path(folder), dataset, {"tuning": {"n_jobs": 1}}, seed))
        data = prepare(cfg, SilentReporter())
    return data, tune.settings(cfg, data, metrics.resolve(cfg.metric, data.task))


def _arm(
    data: Any,
    fair: Any,
    name: str,
    categoricals: Any,
    trials: int,
    seconds: float,
    seed: int,
) -> dict[str, Any]:
    features = list(data.roles.features)
    X, y = data.splits.train[features], data.splits.train[data.target]

    def pipeline(params: dict[str, Any]) -> Any:
        estimator = models.make_estimator(name, params, data.task, seed)
        return models.build_pipeline(data.roles, estimator, categoricals)

    started = time.perf_counter()
    prepared = tuning.prepare_folds(pipeline({})[0], X, y, fair.folds, 1)
    task = SearchTask(
        name,
        tuning.parse_space(name, models.default_space(name)),
        pipeline,
        X,
        y,
        fair.folds,
        fair.scorer,
        tuning.Method("tpe", False, seed),
        tuning.Budget(trials, seconds),
        n_jobs=1,
        prepared=prepared,
    )
    result = run_study(task, None, f"{name}-{categoricals}-{seed}", resume=False)
    search_seconds = time.perf_counter() - started
    fit_started = time.perf_counter()
    fitted = pipeline(result.best_params).fit(X, y)
    fit_seconds = time.perf_counter() - fit_started
    held = pd.concat([data.splits.validation, data.splits.test], ignore_index=True)
    truth = held[data.target]
    out: dict[str, Any] = {
        "trials": len(result.trials),
        "cv": result.cv_mean,
        "search_s": search_seconds,
        "refit_s": fit_seconds,
    }
    if data.task == "classification":
        out["accuracy"] = float(accuracy_score(truth, fitted.predict(held[features])))
        proba = fitted.predict_proba(held[features])[:, 1]
        out["roc_auc"] = float(roc_auc_score(truth, proba))
    else:
        out["r2"] = float(r2_score(truth, fitted.predict(held[features])))
    return out


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    frame = pd.DataFrame(rows)
    scores = [c for c in ("accuracy", "roc_auc", "r2") if c in frame]
    summary = []
    for (dataset, arm), part in frame.groupby(["dataset", "arm"], sort=False):
        line: dict[str, Any] = {"dataset": dataset, "arm": arm, "seeds": len(part)}
        line["cv"] = float(part["cv"].mean())
        for score in scores:
            values = part[score].dropna()
            if len(values):
                line[score] = float(values.mean())
                spread = float(values.std(ddof=1)) if len(values) > 1 else math.nan
                line[f"{score}_sd"] = spread
        line["trials"] = float(np.mean(part["trials"]))
        line["search_s"] = float(part["search_s"].mean())
        summary.append(line)
    return summary


if __name__ == "__main__":
    main()
