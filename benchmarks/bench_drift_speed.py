"""Drift on 1M rows x 20 columns against the stored reference profile.

Baseline, in the same run: the same tests (Kolmogorov-Smirnov per numeric column,
chi-square per categorical column) computed the usual way, with scipy on the raw training
rows — which monitoring would then have to keep and reload.

    .venv/bin/python benchmarks/bench_drift_speed.py [--rows 1000000] [--reference-rows 200000]
"""

from __future__ import annotations

import argparse

import pandas as pd
from common import best_of, drift_frames, write_results
from rich.console import Console
from rich.table import Table
from scipy import stats

from loopml.config import DriftConfig
from loopml.core.data.roles import ColumnRoles
from loopml.core.drift import compare
from loopml.core.reference import ReferenceProfile, build_profile


def raw_tests(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, float]:
    """The baseline: scipy two-sample tests on the raw reference rows."""
    p_values = {}
    for column in reference.columns:
        if column.startswith("num"):
            p_values[column] = stats.ks_2samp(reference[column], current[column]).pvalue
        else:
            ref, cur = reference[column].value_counts(), current[column].value_counts()
            table = pd.concat([ref, cur], axis=1).fillna(0).to_numpy().T
            p_values[column] = stats.chi2_contingency(table).pvalue
    return p_values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=200_000)
    args = parser.parse_args()
    reference, current, expected = drift_frames(args.rows, args.reference_rows)
    roles = ColumnRoles(
        numeric=tuple(c for c in reference if c.startswith("num")),
        categorical=tuple(c for c in reference if c.startswith("cat")),
    )
    build_s, profile = best_of(
        1, lambda: build_profile(reference, roles, task="regression", target="y")
    )
    stored = profile.model_dump_json()
    profile = ReferenceProfile.model_validate_json(stored)
    compare_s, report = best_of(3, lambda: compare(profile, current, DriftConfig()))
    baseline_s, p_values = best_of(1, lambda: raw_tests(reference, current))
    verdicts = {f.name: ("drift" if f.drifted else "stable") for f in report.features}
    agree = sum(verdicts[c] == expected[c] for c in expected)
    raw_agree = sum(
        ("drift" if p_values[c] < 0.05 / 20 else "stable") == expected[c] for c in expected
    )

    title = f"Drift: {args.rows:,} current rows x 20 columns, reference {args.reference_rows:,}"
    table = Table(title=title)
    for name in ("method", "seconds", "rows/s", "vs loopml", "columns right"):
        table.add_column(name, justify="left" if name == "method" else "right")
    table.add_row(
        "loopml compare (stored profile)",
        f"{compare_s:.3f}",
        f"{args.rows / compare_s:,.0f}",
        "1.0x",
        f"{agree}/20",
    )
    table.add_row(
        "scipy ks_2samp / chi2 on raw rows", f"{baseline_s:.3f}", f"{args.rows / baseline_s:,.0f}",
        f"{baseline_s / compare_s:.1f}x slower", f"{raw_agree}/20",
    )  # fmt: skip
    Console(width=120).print(table)
    print(
        f"profile: built in {build_s:.2f} s, {len(stored) / 1024:.1f} KiB of JSON; goal < 2 s: "
        f"{'met' if compare_s < 2 else 'NOT met'} ({compare_s:.3f} s)"
    )
    path = write_results(
        "drift_speed",
        {
            "rows": args.rows,
            "reference_rows": args.reference_rows,
            "columns": 20,
            "loopml_compare_seconds": compare_s,
            "profile_build_seconds": build_s,
            "profile_kib": len(stored) / 1024,
            "baseline": "scipy ks_2samp + chi2_contingency on the raw reference rows",
            "baseline_seconds": baseline_s,
            "speedup": baseline_s / compare_s,
            "columns_right": agree,
            "baseline_columns_right": raw_agree,
            "goal_seconds": 2.0,
            "goal_met": compare_s < 2.0,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
