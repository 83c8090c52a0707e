"""Without --verbose a run prints loopml's lines only: no library log, warning or traceback.

The run is a real process, so that what the C++ of LightGBM or a worker process writes to
the terminal's file descriptors is seen too, not only what Python's sys.stderr receives.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import write_project

pytestmark = pytest.mark.integration

NOISE = ("[LightGBM]", "Trial ", "Traceback", "UserWarning", "Warning:", "Downloading artifacts")


def project(folder: Path) -> Path:
    """240 rows; names holding Rich markup; one candidate whose every trial fails in sklearn."""
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=240), rng.normal(size=240)
    frame = pd.DataFrame(
        {
            "x1": x1.round(3),
            "[bold]x2": x2.round(3),
            "zona[/]": rng.choice(["norte", "sur"], 240),
            "clase": np.where(x1 + 0.5 * x2 + rng.normal(scale=0.5, size=240) > 0, "a", "b"),
        }
    )
    folder.mkdir(parents=True)
    frame.to_csv(folder / "data.csv", index=False)
    return write_project(
        folder,
        {
            "name": "quiet",
            "data": {"source": "data.csv", "target": "clase"},
            # C=-1 makes scikit-learn raise in every trial: Optuna logs each failure with
            # its traceback unless the CLI keeps it quiet.
            "models": {"candidates": {"lightgbm": {}, "logistic_regression": {"C": [-1.0]}}},
            "tuning": {"budget": {"trials": 2}, "learning_curve": False},
            "tracking": {"uri": "sqlite:///.loopml/mlflow.db"},
        },
    )


def run(config: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    code = "from loopml.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *flags, "run", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_a_run_without_verbose_prints_no_library_noise_and_names_as_written(
    tmp_path: Path,
) -> None:
    done = run(project(tmp_path / "p"))

    assert done.returncode == 0, done.stderr
    noise = [
        line for line in (done.stdout + done.stderr).splitlines() if any(n in line for n in NOISE)
    ]
    assert noise == []
    failed = [line for line in done.stderr.splitlines() if "candidate logistic_regression" in line]
    assert len(failed) == 1 and failed[0].startswith("warning: candidate logistic_regression")
    assert "[bold]x2 (numbers)" in done.stderr and "zona[/] (2 distinct" in done.stderr
