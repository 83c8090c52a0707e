"""The log1p target transform at equal trials: test R² of `loopml train` with the target
fitted as is (``target_transform: none``), on log1p (``log1p``), and with the search choosing
per candidate (``[none, log1p]``, what loopml adds by itself to a skewed target), on NYC taxi
fares (skewness 3.2) and bike-sharing counts (skewness 1.3).

Every variant gets the same candidates, the same trials, the same folds and the same split
(one per seed); the score is R² on the original scale of the test split, where the winner
and the baseline are scored once. The paired difference per split against ``none`` says
whether the transform helps.

Usage: python benchmarks/bench_target_transform.py [--datasets taxis bike] [--seeds 42 1 2]
       [--trials 10] [--candidates lightgbm ridge]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from _tuning_common import DATASETS, save, shared, table

from loopml.config import load_config
from loopml.workflows.train import train

SETS: dict[str, dict[str, Any]] = {
    "taxis": {
        "source": "nyc_taxis.csv",
        "target": "fare",
        "columns": {"ignore": ["tip", "tolls", "total"]},
    },
    "bike": {k: DATASETS["bike"][k] for k in ("source", "target", "columns")},
}
VARIANTS: dict[str, Any] = {"none": "none", "log1p": "log1p", "searched": ["none", "log1p"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=list(SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--candidates", nargs="+", default=["lightgbm"])
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets:
        for seed in args.seeds:
            for variant, value in VARIANTS.items():
                with tempfile.TemporaryDirectory() as folder:
                    rows.append(_run(dataset, Path(folder), seed, args, variant, value))
                print(table(rows[-1:]), flush=True)
    print()
    print(table(rows))
    print()
    print(table(_paired(rows)))
    path = save("bench_target_transform", {"rows": rows, "args": vars(args)})
    print(f"\nwrote {path}")


def _run(
    dataset: str, folder: Path, seed: int, args: argparse.Namespace, variant: str, value: Any
) -> dict[str, Any]:
    spec = SETS[dataset]
    body = {
        "name": f"bench-{dataset}",
        "data": {**spec, "source": str(shared(spec["source"]))},
        "split": {"test": 0.2, "validation": 0.2, "seed": seed},
        "metric": "r2",
        "models": {"candidates": {c: {"target_transform": value} for c in args.candidates}},
        "tuning": {"budget": {"trials": args.trials}, "method": "tpe", "n_jobs": 1},
    }
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "loopml.yaml"
    config.write_text(yaml.safe_dump(body, sort_keys=False))
    started = time.perf_counter()
    result = train(load_config(config), force=True)
    assert result.test is not None
    chosen = [e.params.get("target_transform") for e in result.leaderboard if e.kind != "baseline"]
    return {
        "dataset": dataset,
        "seed": seed,
        "variant": variant,
        "test_r2": float(result.test.selection),
        "winner": result.winner,
        "chosen": ",".join(str(c) for c in chosen if c is not None),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _paired(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dataset and variant: mean test R², and the mean paired difference against none."""
    frame = pd.DataFrame(rows).pivot_table(
        index=["dataset", "seed"], columns="variant", values="test_r2"
    )
    out = []
    for dataset, group in frame.groupby(level="dataset", sort=False):
        for variant in ("log1p", "searched"):
            diff = group[variant] - group["none"]
            out.append(
                {
                    "dataset": dataset,
                    "variant": variant,
                    "mean_test_r2": float(group[variant].mean()),
                    "mean_test_r2_none": float(group["none"].mean()),
                    "mean_minus_none": float(diff.mean()),
                    "ahead_of_none": f"{int((diff > 0).sum())} of {len(diff)} splits",
                }
            )
    return out


if __name__ == "__main__":
    main()
