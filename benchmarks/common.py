"""Shared set-up of the benchmarks: a loopml project with a registered model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from loopml.workflows.init import init_project


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
