"""loopml's drift against Evidently's DataDriftPreset on the same 100k x 20 data.

Speed: loopml compares the current rows with the stored reference profile; Evidently
compares them with the raw reference rows (as it is used). loopml's time to build the
profile from the same rows is reported too. Verdicts: per column, on columns that are
clearly drifted (a shift of one standard deviation, or category shares reversed) and
clearly stable (the same distribution).

Evidently needs pandas < 3, so this runs in its own environment (benchmarks/README.md):

    benchmarks/.venv/bin/python benchmarks/bench_drift_evidently.py [--rows 100000]
"""

from __future__ import annotations

import argparse
from typing import Any

from common import best_of, drift_frames, write_results
from rich.console import Console
from rich.table import Table

from loopml.config import DriftConfig
from loopml.core.data.roles import ColumnRoles
from loopml.core.drift import compare
from loopml.core.reference import ReferenceProfile, build_profile


def evidently_verdicts(reference: Any, current: Any) -> dict[str, dict[str, Any]]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    result = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    found = {}
    for metric in result.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        method, threshold, value = config["method"], config["threshold"], metric["value"]
        drifted = value < threshold if "p_value" in method else value >= threshold
        found[config["column"]] = {"method": method, "value": value, "drifted": bool(drifted)}
    return found


def main() -> None:
    import evidently

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    reference, current, expected = drift_frames(args.rows, args.rows, seed=1)
    roles = ColumnRoles(
        numeric=tuple(c for c in reference if c.startswith("num")),
        categorical=tuple(c for c in reference if c.startswith("cat")),
    )

    def profile() -> ReferenceProfile:
        return build_profile(reference, roles, task="regression", target="y")

    build_s, stored = best_of(3, profile)
    compare_s, report = best_of(5, lambda: compare(stored, current, DriftConfig()))
    evidently_s, theirs = best_of(1, lambda: evidently_verdicts(reference, current))
    ours = {f.name: f for f in report.features}

    rows, same = [], 0
    for column, truth in expected.items():
        mine = "drift" if ours[column].drifted else "stable"
        other = "drift" if theirs[column]["drifted"] else "stable"
        same += mine == other
        rows.append((column, truth, mine, other, ours[column].psi, theirs[column]))
    verdicts = Table(title="Verdict per column", width=120)
    for name in ("column", "truth", "loopml", "evidently", "loopml PSI", "evidently score"):
        verdicts.add_column(name)
    for column, truth, mine, other, psi, their in rows:
        score = f"{their['value']:.3f} ({their['method']})"
        style = None if mine == other == truth else "bold red"
        verdicts.add_row(column, truth, mine, other, f"{psi:.3f}", score, style=style)
    speed = Table(
        title=f"Drift on {args.rows:,} x 20 (evidently {evidently.__version__})", width=120
    )
    for name in ("method", "seconds", "evidently / this"):
        speed.add_column(name, justify="left" if name == "method" else "right")
    speed.add_row(
        "loopml compare with the stored profile",
        f"{compare_s:.3f}",
        f"{evidently_s / compare_s:.0f}x",
    )
    total = build_s + compare_s
    speed.add_row("loopml build profile + compare", f"{total:.3f}", f"{evidently_s / total:.0f}x")
    speed.add_row("Evidently DataDriftPreset", f"{evidently_s:.3f}", "1x")
    console = Console(width=120)
    console.print(verdicts)
    console.print(speed)
    print(
        f"same verdict on {same}/20 columns; goal >= 20x faster: "
        f"{'met' if evidently_s / compare_s >= 20 else 'NOT met'} ({evidently_s / compare_s:.0f}x)"
    )
    path = write_results(
        "drift_evidently",
        {
            "rows": args.rows,
            "columns": 20,
            "evidently_version": evidently.__version__,
            "loopml_compare_seconds": compare_s,
            "loopml_profile_build_seconds": build_s,
            "evidently_seconds": evidently_s,
            "speedup_vs_stored_profile": evidently_s / compare_s,
            "speedup_including_profile_build": evidently_s / total,
            "same_verdict_columns": same,
            "per_column": [
                {
                    "column": c,
                    "truth": t,
                    "loopml": m,
                    "evidently": o,
                    "loopml_psi": p,
                    "evidently_score": e,
                }
                for c, t, m, o, p, e in rows
            ],
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
