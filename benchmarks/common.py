"""Helpers shared by the benchmark scripts: a project with a registered model, synthetic
drift data, timing, results."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from loopml.workflows.init import init_project

RESULTS = Path(__file__).resolve().parent / "results"


def lightgbm_project(
    folder: Path, frame: pd.DataFrame, target: str, trials: int, ignore: list[str]
) -> Path:
    """A project from ``frame`` by ``loopml init --data`` (written to folder/data.csv),
    with LightGBM as the only candidate, ``trials`` per search, ``ignore`` columns ignored."""
    from tests.integration.conftest import cli

    data = folder / "data.csv"
    frame.to_csv(data, index=False)
    code, _, stderr = cli("init", str(folder), "--data", str(data), "--target", target)
    assert code == 0, stderr
    config = folder / "loopml.yaml"
    body = yaml.safe_load(config.read_text())
    body["models"] = {"candidates": {"lightgbm": {}}}
    body.setdefault("tuning", {})["budget"] = {"trials": trials}
    columns = body["data"].setdefault("columns", {})
    for role, names in list(columns.items()):
        if isinstance(names, list):
            columns[role] = [n for n in names if n not in ignore]
    if ignore:
        columns["ignore"] = [*(columns.get("ignore") or []), *ignore]
    config.write_text(yaml.safe_dump(body))
    return config


def train_random_forest(folder: Path, trees: int = 100) -> Path:
    """Breast cancer, one candidate: a random forest of ``trees`` trees. Returns loopml.yaml."""
    init_project(folder, "breast_cancer")
    config = folder / "loopml.yaml"
    body = yaml.safe_load(config.read_text())
    body["models"] = {"candidates": {"random_forest": {"n_estimators": trees}}}
    config.write_text(yaml.safe_dump(body))
    loopml = Path(sys.executable).parent / "loopml"
    subprocess.run([str(loopml), "run", "-c", str(config)], check=True, capture_output=True)
    return config


def drift_frames(
    rows: int, reference_rows: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """20 columns (10 numeric, 10 categorical); in the current frame, columns whose name
    ends in '_drift' are clearly shifted and those ending in '_stable' are not."""
    rng = np.random.default_rng(seed)
    expected: dict[str, str] = {}

    def frame(n: int, shifted: bool) -> pd.DataFrame:
        columns: dict[str, Any] = {}
        for i in range(10):
            drift = i % 2 == 0
            name = f"num{i}_{'drift' if drift else 'stable'}"
            shift = 1.0 if (shifted and drift) else 0.0
            if i % 3 == 0:
                columns[name] = rng.normal(shift, 1.0, n)
            elif i % 3 == 1:
                columns[name] = rng.lognormal(shift * 0.8, 0.6, n)
            else:
                columns[name] = rng.poisson(4 + 4 * shift, n).astype(float)
            expected[name] = "drift" if drift else "stable"
        for i in range(10):
            drift = i % 2 == 1
            name = f"cat{i}_{'drift' if drift else 'stable'}"
            k = 5 + 3 * i
            weights = np.linspace(1, 3, k)
            if shifted and drift:
                weights = weights[::-1] ** 2
            labels = np.array([f"v{j}" for j in range(k)], dtype=object)
            columns[name] = labels[rng.choice(k, n, p=weights / weights.sum())]
            expected[name] = "drift" if drift else "stable"
        return pd.DataFrame(columns)

    return frame(reference_rows, False), frame(rows, True), expected


def best_of(repeats: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeats`` runs (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def write_results(name: str, values: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    values = {
        "benchmark": name,
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        **values,
    }
    path.write_text(json.dumps(values, indent=2, default=str), encoding="utf-8")
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
