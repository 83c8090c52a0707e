"""Bounded prediction logs: `loopml log prune` and the server's background retention delete
old requests with exactly their labels, and keep labels whose request is not logged yet."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from loopml.tracking.prediction_log import Label, PredictionLog
from tests.integration.conftest import Project, cli
from tests.integration.logged import entry, logged_server, write

pytestmark = pytest.mark.integration
DAY = 86400.0


def _ids(db: Path, table: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(f"SELECT request_id FROM {table} ORDER BY request_id").fetchall()
    return [r[0] for r in rows]


def test_log_prune_deletes_old_requests_and_only_their_labels(
    breast_cancer: Project, tmp_path: Path
) -> None:
    db = tmp_path / "log.db"
    url = f"sqlite:///{db}"
    now = time.time()
    ages = {"old-40d": 40, "old-31d": 31, "new-29d": 29, "new-1d": 1}
    write(url, [entry(rid, {"x": [1.0]}, ["no"], at=now - age * DAY) for rid, age in ages.items()])
    write(url, [entry("old-40d", {"x": [1.0]}, ["yes"], at=now - 40 * DAY, role="shadow")])
    PredictionLog(url).add_feedback(
        [Label(rid, "no") for rid in ("old-40d", "new-1d", "not-logged-yet")]
    )
    settings = ("-c", str(breast_cancer.config_path), "--set", f"serve.prediction_log.url={url}")

    code, stdout, stderr = cli("log", "prune", "--older-than", "30d", *settings)
    assert code == 0, stderr
    assert stdout.strip() == "3"  # old-40d (and its shadow row), old-31d
    assert f"Deleted 3 rows of the prediction log, and their labels, from {db}" in stderr
    assert _ids(db, "loopml_predictions") == ["new-1d", "new-29d"]
    assert _ids(db, "loopml_feedback") == ["new-1d", "not-logged-yet"]

    code, stdout, _ = cli("log", "prune", "--rows", "1", *settings)
    assert (code, stdout.strip()) == (0, "1")
    assert _ids(db, "loopml_predictions") == ["new-1d"]

    code, stdout, stderr = cli("log", "prune", "--older-than", "30 days", *settings)
    assert code == 1 and stdout == ""
    assert (
        stderr.strip() == "error: --older-than: '30 days' is not a duration like 30s, 10m, 2h or 7d"
    )
    code, _, stderr = cli("log", "prune", *settings)
    assert code == 1 and "nothing to prune by: pass --older-than" in stderr


def test_the_server_applies_the_retention_in_the_background(
    breast_cancer: Project, tmp_path: Path
) -> None:
    overrides = (
        "serve.prediction_log.retention.rows=5",
        "serve.prediction_log.retention.interval=0.2",
    )
    live, writer = logged_server(
        breast_cancer.folder, breast_cancer.config_path, tmp_path / "log.db", *overrides
    )
    rows = pd.read_csv(breast_cancer.folder / "data" / "score_me.csv").head(12)
    with live as server, httpx.Client(timeout=30) as http:
        for record in rows.drop(columns=["patient_id"]).to_dict("records"):
            assert http.post(f"{server.url}/predict", json={"records": [record]}).is_success
        writer.flush()
        deadline = time.monotonic() + 10
        while len(_ids(tmp_path / "log.db", "loopml_predictions")) > 5:
            assert time.monotonic() < deadline, "the retention did not run"
            time.sleep(0.1)
    assert len(_ids(tmp_path / "log.db", "loopml_predictions")) == 5
