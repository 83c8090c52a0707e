"""The README's `make demo`, run as a user would: the whole loop through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.e2e
DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


@pytest.mark.slow
def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, str(DEMO), str(project)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Registered breast-cancer version 1 as challenger, champion" in done.stderr
    assert "POST /predict (3 rows) -> 200" in done.stdout
    assert "-> 422: ['body', 'records', 0, 'mean radius']" in done.stdout
    assert "server stopped" in done.stdout
    assert (
        "POST /feedback: their true labels -> {'received': 600, 'matched': 600, "
        "'accepted': 600, 'replaced': 0, 'refused': 0, 'duplicates': 0}"
    ) in done.stdout
    verdict = next(line for line in done.stderr.splitlines() if line.startswith("alert "))
    assert "drift in 4 of 30: mean radius, mean area, worst radius, worst area" in verdict
    assert "decayed: f1_macro" in verdict
    assert (project / "reports" / "monitor.html").is_file()
    predictions = pd.read_parquet(project / "predictions.parquet")
    assert len(predictions) == 50
    assert list(predictions.columns) == [
        "patient_id",
        "prediction",
        "proba_benign",
        "proba_malignant",
    ]
    assert (project / ".loopml" / "mlflow.db").is_file()
