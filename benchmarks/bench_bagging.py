"""Does k-fold bagging help, and what does it cost? The same search with it, per dataset and seed.

One search per (dataset, seed) with ``models.bagging.folds: 5`` (the search's 5 folds).
From its leaderboard, in the same run:

- **bagged vs unbagged**: the best candidate by CV refitted once on the training split
  (what loopml ships without bagging when it is picked) against its bag of 5 fold models
  (``bagged_<name>``), both scored on the same test rows: a paired difference whose only
  cause is bagging (same configuration, same folds, same seed);
- **what ships**: the pick on the validation split, as ``loopml train`` picks, among the
  candidates without the bag and with it, scored on the test rows;
- **cost**: the bag's size, prediction time per row (the leaderboard's, on the validation
  split, native scikit-learn) and fit time, as ratios to the unbagged refit's.

Scores are test-split scores of pipelines fitted on the training split, as the leaderboard
holds them. Differences are summarised with a Student t-interval over seeds
(``_paired.paired_interval``).

Usage: python benchmarks/bench_bagging.py [--datasets titanic bike taxis] [--seeds 42 1 2]
       [--trials 10] [--folds 5]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from _paired import paired_interval
from _tuning_common import save, table
from bench_ensemble import scored_on_test, tuned  # taxis (fare) and the candidates: as there

from loopml.core import training
from loopml.workflows import tune


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["titanic", "bike", "taxis"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as folder:
                rows.append(_one(dataset, Path(folder), seed, args.trials, args.folds))
            print(table(rows[-1:]), flush=True)
    summary = _summary(pd.DataFrame(rows))
    print()
    print(table(summary))
    payload = {"rows": rows, "summary": summary, "trials": args.trials, "folds": args.folds}
    path = save("bench_bagging", payload)
    print(f"\nwrote {path}")


def _summary(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for dataset, group in frame.groupby("dataset", sort=False):
        bagging = paired_interval(list(group.bagged_test - group.unbagged_test), "unbagged")
        shipped = paired_interval(list(group.shipped_test - group.shipped_without), "unbagged")
        out.append(
            {
                "dataset": dataset,
                "seeds": len(group),
                "metric": group.metric.iloc[0],
                "unbagged_test": float(group.unbagged_test.mean()),
                "bagged_test": float(group.bagged_test.mean()),
                "bagged_minus_unbagged": bagging["mean"],
                "interval": [round(v, 4) for v in bagging["interval"]],
                "verdict": bagging["verdict"].replace("loopml", "bagged"),
                "shipped_difference": shipped["mean"],
                "bag_picked": f"{int(group.bag_picked.sum())} of {len(group)}",
                "size_ratio": float(group.size_ratio.mean()),
                "us_per_row_ratio": float(group.latency_ratio.mean()),
                "fit_ratio": float(group.fit_ratio.mean()),
            }
        )
    return out


def _one(dataset: str, folder: Path, seed: int, trials: int, folds: int) -> dict[str, Any]:
    outcome, data, metric = tuned(dataset, folder, seed, trials, {"bagging": {"folds": folds}})
    entries = [e for e in outcome.entries[1:] if e.pipeline is not None and e.kind != "rule"]
    bag = next(e for e in entries if e.name.startswith(tune.BAGGED_PREFIX))
    unbagged = next(e for e in entries if e.name == bag.params["members"][0])
    without = training.pick_best([e for e in entries if e is not bag], metric)
    shipped = training.pick_best(entries, metric)

    def score(entry: training.Fitted) -> float:
        return scored_on_test(entry, data, metric)

    return {
        "dataset": dataset,
        "seed": seed,
        "metric": metric.name,
        "candidate": unbagged.name,
        "unbagged_test": score(unbagged),
        "bagged_test": score(bag),
        "unbagged_validation": unbagged.validation_score,
        "bagged_validation": bag.validation_score,
        "bagged_cv": bag.cv_mean,
        "shipped": shipped.name,
        "shipped_test": score(shipped),
        "shipped_without": score(without),
        "bag_picked": shipped is bag,
        "unbagged_us_per_row": unbagged.latency_ms * 1000,
        "bagged_us_per_row": bag.latency_ms * 1000,
        "latency_ratio": bag.latency_ms / unbagged.latency_ms,
        "unbagged_bytes": unbagged.size_bytes,
        "bagged_bytes": bag.size_bytes,
        "size_ratio": bag.size_bytes / unbagged.size_bytes,
        "fit_ratio": bag.fit_seconds / unbagged.fit_seconds,
    }


if __name__ == "__main__":
    main()
