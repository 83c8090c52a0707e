"""Does the weighted ensemble help? The same search with and without it, per dataset and seed.

One search per (dataset, seed) with ``models.ensemble.method: weighted`` (greedy ensemble
selection on out-of-fold predictions, ``core.ensembles.select``). From its leaderboard,
two picks on the validation split, as ``loopml train`` picks: among the single candidates
only (what ``method: none`` would ship), and among the candidates and the ensemble. Both
are scored on the same test rows (fitted on the training split, as the leaderboard holds
them). The baseline is the best single candidate of the same search, so the difference
is the ensemble's alone (same trials, same folds, same seed).

Usage: python benchmarks/bench_ensemble.py [--datasets titanic bike taxis] [--seeds 42 1 2]
       [--trials 10]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _tuning_common import DATASETS, save, table, write_project

from loopml.config import load_config
from loopml.core import training
from loopml.core.evaluation import metrics
from loopml.workflows import tune
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import Prepared, prepare

# NYC taxis fare (not in the shared DATASETS table yet): the fare from the trip, without
# the columns computed from it.
DATASETS.setdefault(
    "taxis",
    {
        "source": "nyc_taxis.csv",
        "target": "fare",
        "columns": {"ignore": ["tip", "tolls", "total"]},
        "metric": "r2",
    },
)
CANDIDATES = {
    "classification": ["logistic_regression", "random_forest", "lightgbm"],
    "regression": ["ridge", "random_forest", "lightgbm"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["titanic", "bike", "taxis"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2])
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as folder:
                rows.append(_one(dataset, Path(folder), seed, args.trials))
            print(table(rows[-1:]), flush=True)
    frame = pd.DataFrame(rows)
    summary = [
        {
            "dataset": dataset,
            "seeds": len(group),
            "mean_single": float(group.single_test.mean()),
            "mean_with_ensemble": float(group.shipped_test.mean()),
            "mean_difference": float((group.shipped_test - group.single_test).mean()),
            "ensemble_picked": f"{int(group.ensemble_picked.sum())} of {len(group)}",
        }
        for dataset, group in frame.groupby("dataset", sort=False)
    ]
    print()
    print(table(summary))
    path = save("bench_ensemble", {"rows": rows, "summary": summary, "trials": args.trials})
    print(f"\nwrote {path}")


def _one(dataset: str, folder: Path, seed: int, trials: int) -> dict[str, Any]:
    ensemble_settings = {"ensemble": {"method": "weighted", "top_k": 3}}
    outcome, data, metric = tuned(dataset, folder, seed, trials, ensemble_settings)
    entries = [e for e in outcome.entries[1:] if e.pipeline is not None]
    singles = [e for e in entries if not e.name.startswith("weighted(")]
    single = training.pick_best(singles, metric)
    shipped = training.pick_best(entries, metric)
    ensemble = next((e for e in entries if e.name.startswith("weighted(")), None)
    return {
        "dataset": dataset,
        "seed": seed,
        "single": single.name,
        "single_test": scored_on_test(single, data, metric),
        "ensemble": ensemble.name if ensemble else None,
        "ensemble_test": scored_on_test(ensemble, data, metric) if ensemble else np.nan,
        "shipped": shipped.name,
        "shipped_test": scored_on_test(shipped, data, metric),
        "ensemble_picked": shipped is ensemble,
    }


def tuned(
    dataset: str, folder: Path, seed: int, trials: int, models: dict[str, Any]
) -> tuple[tune.Outcome, Prepared, metrics.Metric]:
    """One search on ``dataset`` with the task's ``CANDIDATES`` and ``models`` settings."""
    spec = DATASETS[dataset]
    task = "regression" if spec["metric"] in ("r2", "rmse", "mae") else "classification"
    config = write_project(
        folder,
        dataset,
        {
            "models": {"candidates": CANDIDATES[task], **models},
            "tuning": {"budget": {"trials": trials}, "learning_curve": False},
        },
        seed=seed,
    )
    cfg = load_config(config)
    data = prepare(cfg, SilentReporter())
    metric = metrics.resolve(cfg.metric, data.task)
    return tune.tune(cfg, data, metric, SilentReporter()), data, metric


def scored_on_test(entry: training.Fitted, data: Prepared, metric: metrics.Metric) -> float:
    """``entry``'s pipeline (fitted on the training split) scored on the test split."""
    assert entry.pipeline is not None
    test = data.splits.test
    predicted, proba = training.predict(entry.pipeline, test[list(data.roles.features)], data.task)
    classes = getattr(entry.pipeline, "classes_", None)
    return metrics.score(metric, test[data.target], predicted, proba, classes)


if __name__ == "__main__":
    main()
