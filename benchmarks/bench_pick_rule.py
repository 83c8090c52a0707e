"""Which rule picks the winner best? loopml's rule (the validation score) against the others.

For each split seed, every candidate is tuned as `loopml train` tunes it, then scored on the
test split (refitted on train+validation, as the winner is); each rule's pick is looked up
in that table, so every rule is judged on the same fits. Rules: the validation score
(loopml's), the best CV score, the two pooled by row counts, and "always the ensemble".
The oracle is the best test score any candidate had. Test scores are for this comparison
only: loopml itself scores the test split once, for the winner.

Usage: python benchmarks/bench_pick_rule.py [--dataset titanic] [--seconds 20]
       [--seeds 42 1 2 3 4 5 6 7]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from _tuning_common import save, table, write_project
from bench_quality import PLANS

from loopml.config import load_config
from loopml.core import training
from loopml.core.evaluation import metrics
from loopml.workflows import tune
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare

Row = dict[str, Any]
RULES: dict[str, Callable[[Row], float]] = {
    "validation (loopml)": lambda r: r["validation"],
    "cv": lambda r: r["cv"],
    "cv and validation pooled": lambda r: (
        (r["cv"] * r["train_rows"] + r["validation"] * r["validation_rows"])
        / (r["train_rows"] + r["validation_rows"])
    ),
    "always the ensemble": lambda r: float(r["ensemble"]),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="titanic", choices=sorted(PLANS))
    parser.add_argument("--seconds", type=float, default=20, help="search budget per candidate")
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2, 3, 4, 5, 6, 7])
    args = parser.parse_args()
    rows = [row for seed in args.seeds for row in _candidates(args.dataset, args.seconds, seed)]
    frame = pd.DataFrame(rows)
    summary = [_judge(frame, name, rule) for name, rule in RULES.items()]
    oracle = frame.groupby("seed")["test"].max()
    summary.append(
        {"rule": "oracle (best test score)", "mean_test": float(oracle.mean()), "picks": ""}
    )
    print(table(summary))
    path = save("bench_pick_rule", {"dataset": args.dataset, "rows": rows, "summary": summary})
    print(f"\nwrote {path}")


def _candidates(dataset: str, seconds: float, seed: int) -> list[Row]:
    plan = PLANS[dataset]
    with tempfile.TemporaryDirectory() as folder:
        extra = {
            "models": {
                "candidates": plan["candidates"],
                "ensemble": {"method": plan["ensemble"], "top_k": 3},
            },
            "tuning": {"budget": {"trials": 1000, "timeout": seconds}, "learning_curve": False},
        }
        cfg = load_config(write_project(Path(folder), dataset, extra, seed))
        data = prepare(cfg, SilentReporter())
        metric = metrics.resolve(cfg.metric, data.task)
        outcome = tune.tune(cfg, data, metric, SilentReporter())
    splits, features = data.splits, list(data.roles.features)
    rows = pd.concat([splits.train, splits.validation])
    problem = training.Problem(
        data.task, data.target, data.roles, metric.name, splits.train, splits.test
    )
    sign = 1.0 if metric.higher_is_better else -1.0
    found = []
    for entry in outcome.entries[1:]:
        if entry.pipeline is None:
            continue
        refitted = training.refit(entry, rows, features, data.target)
        assert refitted.pipeline is not None
        found.append(
            {
                "seed": seed,
                "candidate": entry.name,
                "ensemble": entry.name.startswith(("voting", "stacking")),
                "cv": sign * entry.cv_mean,
                "validation": sign * entry.validation_score,
                "train_rows": len(splits.train),
                "validation_rows": len(splits.validation),
                "test": sign * training.score_on(refitted.pipeline, splits.test, problem),
            }
        )
        print(found[-1], flush=True)
    return found


def _judge(frame: pd.DataFrame, name: str, rule: Callable[[Row], float]) -> Row:
    picks = []
    for _, group in frame.groupby("seed", sort=False):
        records: list[Row] = [{str(k): v for k, v in r.items()} for r in group.to_dict("records")]
        picks.append(max(records, key=rule))
    return {
        "rule": name,
        "mean_test": sum(p["test"] for p in picks) / len(picks),
        "picks": ", ".join(p["candidate"].split("(")[0] for p in picks),
    }


if __name__ == "__main__":
    main()
