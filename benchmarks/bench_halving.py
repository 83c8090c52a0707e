"""Successive halving across candidates (``tuning.budget.successive_halving``) against the
equal shares of a plain time limit, at the same ``--time-limit`` (issue 18).

For each dataset of ``../shared/data`` (the four of ``bench_quality.py``, same columns,
metrics and splits: ``split.test: 0.2``, ``split.validation: 0.2``, the seed) and seed,
``loopml train`` runs twice with ``tuning.budget.time_limit: T``: once with equal shares
(the baseline), once with successive halving (every candidate half its share, then the
better half of the candidates the rest). Reported: each run's test score and wall time,
and the paired difference halving minus equal shares per dataset, mean over seeds with a
95% Student t-interval (``_paired.paired_interval``; optimistic, the splits share rows).

Usage: python benchmarks/bench_halving.py [--time-limit 60] [--seeds 42 1 2]
       [--datasets titanic bike taxis madewithml] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from _paired import paired_interval
from _tuning_common import save, table
from bench_quality import DATASETS, SLACK, _split, _tracking_store, _write

from loopml.config import load_config
from loopml.workflows.train import train

ARMS = {"equal shares": False, "successive halving": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-limit", type=float, default=60)
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    store = tempfile.TemporaryDirectory(prefix="bench-halving-mlflow-")
    tracking = _tracking_store(Path(store.name))
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for dataset in args.datasets:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory(prefix="bench-halving-") as name:
                folder = Path(name)
                split = _split(folder, dataset, seed, tracking)
                for arm, halving in ARMS.items():
                    row = _run(folder / arm.replace(" ", "-"), split, args, halving)
                    rows.append({"dataset": dataset, "seed": seed, "arm": arm, **row})
                    print(table([rows[-1]]), flush=True)
    store.cleanup()
    paired = _paired(rows)
    print()
    print(table(rows))
    print()
    print(table(paired))
    total = time.perf_counter() - started
    path = save(
        "bench_halving",
        {
            "time_limit_s": args.time_limit,
            "n_jobs": args.n_jobs,
            "rows": rows,
            "paired": paired,
            "seconds": round(total, 1),
        },
    )
    print(f"\nwhole benchmark: {total:.0f} s; wrote {path}")


def _run(
    folder: Path, split: dict[str, Any], args: argparse.Namespace, halving: bool
) -> dict[str, Any]:
    budget = {"time_limit": args.time_limit, "successive_halving": halving}
    body = {**split["body"], "compute": {"n_jobs": args.n_jobs}, "tuning": {"budget": budget}}
    cfg = load_config(_write(folder, body))
    began = time.perf_counter()
    result = train(cfg, force=True)
    wall = time.perf_counter() - began
    if result.split_sizes != split["sizes"]:
        raise RuntimeError(f"split {result.split_sizes} != {split['sizes']}")
    assert result.test is not None
    return {
        "metric": split["metric"],
        "test_score": float(result.test.selection),
        "winner": result.winner,
        "wall_s": round(wall, 1),
        "limit_held": wall <= args.time_limit * SLACK,
    }


def _paired(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    frame = pd.DataFrame(rows).pivot_table(
        index=["dataset", "seed"], columns="arm", values="test_score"
    )
    out = []
    for dataset, group in frame.groupby(level="dataset", sort=False):
        diff = (group["successive halving"] - group["equal shares"]).dropna().tolist()
        found = paired_interval(diff, "equal shares")
        verdict = found["verdict"].replace("loopml ahead", "successive halving ahead")
        out.append(
            {
                "dataset": dataset,
                "seeds": len(diff),
                "mean_halving_minus_equal": found["mean"],
                "interval_95": found["interval"],
                "verdict": verdict,
            }
        )
    return out


if __name__ == "__main__":
    main()
