"""Shared helpers for the benchmarks: a titanic / bike-sharing project, results output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent
SHARED = ROOT.parent.parent / "shared" / "data"
RESULTS = ROOT / "results"

DATASETS: dict[str, dict[str, Any]] = {
    "titanic": {
        "source": "titanic_train.csv",
        "target": "Survived",
        "columns": {"text": ["Name"], "ignore": ["PassengerId", "Ticket"]},
        "metric": "accuracy",
    },
    "bike": {
        "source": "bike_sharing_hour.csv",
        "target": "cnt",
        "columns": {"ignore": ["instant", "casual", "registered"], "datetime": ["dteday"]},
        "metric": "r2",
    },
}


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.is_file():
        sys.exit(f"{path} is absent: the benchmarks need ../shared/data beside the project")
    return path


def write_project(folder: Path, dataset: str, extra: dict[str, Any], seed: int = 42) -> Path:
    spec = DATASETS[dataset]
    body = {
        "name": f"bench-{dataset}",
        "data": {
            "source": str(shared(spec["source"])),
            "target": spec["target"],
            "columns": spec["columns"],
        },
        "split": {"test": 0.2, "validation": 0.2, "seed": seed},
        "metric": spec["metric"],
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "loopml.yaml"
    config.write_text(yaml.safe_dump(body, sort_keys=False))
    return config


def save(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def table(rows: list[dict[str, Any]]) -> str:
    columns = list(rows[0])
    widths = [max(len(str(c)), *(len(_cell(r[c])) for r in rows)) for c in columns]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += [
        "  ".join(_cell(r[c]).ljust(w) for c, w in zip(columns, widths, strict=True)) for r in rows
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
