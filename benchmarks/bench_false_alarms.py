"""False alarms of the dataset-level drift verdict, and whether a real change is seen.

No drift: 100 random 50/50 splits of one period (2011) of the UCI bike sharing data. Each
split plays the whole pipeline: the first half is a project's data (60% to train, whose
features are the reference profile; a LightGBM fitted on them predicts the other 40%, the
prediction reference); the second half is production traffic, scored by that model. The
dataset alarm (features and predictions, Holm-corrected, PSI >= 0.2, at least 500 rows)
should fire in at most 5 of 100. Drift: the same with 2011 as the project's data and 2012
as production; it should fire. Roles come from the whole file, so ``yr`` is a feature.
The named baseline is the usual uncorrected rule: any feature's test at p < 0.05.

    .venv/bin/python benchmarks/bench_false_alarms.py [--splits 100] [--data PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from common import write_results
from lightgbm import LGBMRegressor
from rich.console import Console
from rich.table import Table

from loopml.config import ColumnsConfig, DriftConfig
from loopml.core.data.roles import ColumnRoles, infer_roles
from loopml.core.drift import DriftReport, compare
from loopml.core.models import build_pipeline
from loopml.core.reference import build_profile

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bike_sharing_hour.csv"
TARGET = "cnt"


def judge(
    project: pd.DataFrame, traffic: pd.DataFrame, roles: ColumnRoles, seed: int
) -> DriftReport:
    """Train on 60% of ``project``, profile it, and judge ``traffic`` like `loopml monitor`."""
    order = np.random.default_rng(seed).permutation(len(project))
    cut = int(len(project) * 0.6)
    train, held_out = project.iloc[order[:cut]], project.iloc[order[cut:]]
    features = list(roles.features)
    model = build_pipeline(
        roles, LGBMRegressor(n_estimators=100, verbose=-1, n_jobs=1, random_state=seed)
    )
    model.fit(train[features], train[TARGET])
    profile = build_profile(
        train,
        roles,
        task="regression",
        target=TARGET,
        predictions=model.predict(held_out[features]),
    )
    return compare(profile, traffic, DriftConfig(), predictions=model.predict(traffic[features]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=int, default=100)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    bikes = pd.read_csv(args.data)
    ignore = ["instant", "casual", "registered", "dteday"]  # ids, leaks, and the date itself
    roles = infer_roles(bikes, TARGET, ColumnsConfig(ignore=ignore))
    period = bikes[bikes["yr"] == 0].reset_index(drop=True)
    alarms, uncorrected, fired_on = 0, 0, {}
    for seed in range(args.splits):
        order = np.random.default_rng(1000 + seed).permutation(len(period))
        half = len(period) // 2
        report = judge(
            period.iloc[order[:half]], period.iloc[order[half:]].reset_index(drop=True), roles, seed
        )
        alarms += report.alert
        uncorrected += any(f.p_value < 0.05 for f in report.features)
        for f in [
            *report.drifted,
            *([report.prediction] if report.prediction and report.prediction.drifted else []),
        ]:
            fired_on[f.name] = fired_on.get(f.name, 0) + 1
    years = judge(period, bikes[bikes["yr"] == 1].reset_index(drop=True), roles, 0)

    table = Table(title=f"Dataset drift alarm on {args.data.name}", width=110)
    for name in ("comparison", "verdict rule", "alarms", "goal"):
        table.add_column(name)
    table.add_row(
        f"{args.splits} random splits of 2011",
        "loopml (auto, Holm, PSI >= 0.2)",
        f"{alarms}/{args.splits}",
        "<= 5",
    )
    table.add_row(
        f"{args.splits} random splits of 2011",
        "baseline: any feature p < 0.05",
        f"{uncorrected}/{args.splits}",
        "",
    )
    table.add_row(
        "2011 vs 2012",
        "loopml (auto, Holm, PSI >= 0.2)",
        "fires" if years.alert else "silent",
        "fires",
    )
    console = Console(width=110)
    console.print(table)
    print(f"2011 vs 2012: {years.summary()}")
    for f in [*years.features, years.prediction]:
        if f is not None:
            flag = "  DRIFT" if f.drifted else ""
            print(
                f"  {f.name:12s} {f.test:4s} stat {f.statistic:.3f} "
                f"corrected p {f.p_adjusted:.2g} PSI {f.psi:.3f}{flag}"
            )
    path = write_results(
        "false_alarms",
        {
            "data": str(args.data),
            "splits": args.splits,
            "alarms": alarms,
            "alarms_by_column": fired_on,
            "baseline": "any feature's uncorrected test at p < 0.05",
            "baseline_alarms": uncorrected,
            "goal_max_alarms": 5,
            "years_2011_vs_2012_fires": years.alert,
            "years_2011_vs_2012": years.as_dict(),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
