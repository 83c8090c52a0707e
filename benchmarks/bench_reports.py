"""Benchmark: evaluation report generation for a 100,000-row test set (goal: under 30 s).

A logistic-regression pipeline (8 numeric, 2 categorical and 1 text column) is trained on
5,000 rows; a second one plays the champion. Timed: the full evaluation (metrics, slices,
calibration curve, threshold, champion comparison with a 1,000-resample paired bootstrap,
behavioral tests, worst errors, permutation importance, learning curve) and rendering the
self-contained HTML. Baseline, in the same run: one pass of predict_proba over the test set.

Usage: python benchmarks/bench_reports.py [--rows 100000]
Writes benchmarks/results/bench_reports.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import TypeAdapter
from sklearn.linear_model import LogisticRegression

from loopml.config import BehavioralTest, EvaluationConfig, GateConfig
from loopml.core.data.roles import ColumnRoles
from loopml.core.data.split import Splits
from loopml.core.evaluation import metrics
from loopml.core.evaluation.assess import Champion, Subject, assess
from loopml.core.models import build_pipeline
from loopml.core.scoring import ScoringModel, column_specs
from loopml.reports import evaluation as report

RESULTS = Path(__file__).resolve().parent / "results"
ROLES = ColumnRoles(
    numeric=tuple(f"x{i}" for i in range(8)), categorical=("city", "plan"), text=("note",)
)
WORDS = np.array(
    [
        "fast",
        "slow",
        "cheap",
        "premium",
        "broken",
        "great",
        "late",
        "early",
        "refund",
        "happy",
        "angry",
    ]
)


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(8)})
    data["city"] = rng.choice(["paris", "lagos", "lima", "pune", "oslo"], rows)
    data["plan"] = rng.choice(["free", "pro", "team"], rows)
    data["note"] = [" ".join(w) for w in rng.choice(WORDS, (rows, 6))]
    score = data["x0"] + 0.5 * data["x1"] - 0.7 * (data["plan"] == "free") + rng.normal(0, 1, rows)
    score += data["note"].str.contains("angry") * -0.8
    data["churn"] = np.select([score > 0.8, score < -0.8], ["stays", "leaves"], "unsure")
    return data


def model(train: pd.DataFrame, c: float) -> ScoringModel:
    features = list(ROLES.features)
    pipeline = build_pipeline(ROLES, LogisticRegression(C=c, max_iter=500))
    pipeline.fit(train[features], train["churn"])
    return ScoringModel(
        pipeline, "classification", "churn", column_specs(ROLES), list(pipeline.classes_)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="test rows")
    rows = parser.parse_args().rows
    train, validation, test = frame(5_000, 0), frame(2_000, 1), frame(rows, 2)
    challenger, champion = model(train, 1.0), model(train, 0.01)
    champion.version = "1"
    tests = TypeAdapter(list[BehavioralTest]).validate_python(
        [
            {
                "kind": "invariance",
                "column": "city",
                "values": ["paris", "oslo"],
                "min_agreement": 0.9,
            },
            {"kind": "perturbation", "columns": ["note"], "noise": "typos", "min_agreement": 0.8},
            {
                "kind": "directional",
                "column": "x0",
                "change": "+20%",
                "expect": "increase",
                "label": "stays",
            },
        ]
    )
    subject = Subject(
        challenger,
        Splits(train, validation, test, "random"),
        ROLES,
        "churn",
        metrics.METRICS["f1_macro"],
    )

    started = time.perf_counter()
    challenger.pipeline.predict_proba(challenger.conform(test))
    baseline = time.perf_counter() - started

    started = time.perf_counter()
    found = assess(
        subject,
        EvaluationConfig(slices={"big_x0": "x0 > 1"}),
        tests,
        GateConfig(),
        champion=Champion("1", champion),
    )
    evaluated = time.perf_counter() - started
    started = time.perf_counter()
    page = report.render(found, _header(rows), None, None)
    rendered = time.perf_counter() - started
    total = evaluated + rendered

    result = {
        "benchmark": "bench_reports",
        "test_rows": rows,
        "baseline": "one predict_proba pass over the test rows",
        "baseline_s": round(baseline, 3),
        "evaluation_s": round(evaluated, 3),
        "render_s": round(rendered, 3),
        "report_s": round(total, 3),
        "ratio_to_baseline": round(total / baseline, 1),
        "goal_s": 30,
        "meets_goal": total < 30,
        "html_bytes": len(page.encode()),
        "slices": len(found.slices),
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    print(f"{'step':<44}{'seconds':>10}")
    for name, key in (
        ("baseline: predict_proba on the test rows", "baseline_s"),
        ("evaluation (assess)", "evaluation_s"),
        ("HTML rendering (figures + template)", "render_s"),
        ("report total", "report_s"),
    ):
        print(f"{name:<44}{result[key]:>10.2f}")
    print(f"report / baseline: {result['ratio_to_baseline']}x; goal < 30 s: {result['meets_goal']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_reports.json").write_text(json.dumps(result, indent=2))


def _header(rows: int) -> dict[str, object]:
    return {
        "project": "bench",
        "model": "churn v2",
        "run_id": "-",
        "source": "synthetic",
        "target": "churn",
        "split": {"train": 5_000, "validation": 2_000, "test": rows},
        "split_how": "random",
        "fingerprint": "-",
    }


if __name__ == "__main__":
    main()
