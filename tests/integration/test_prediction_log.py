"""The prediction log survives a crash (up to one flush interval) and writes to PostgreSQL."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

WRITER = """
import os, signal, sys, time
import numpy as np
from loopml.serving.engine import Scored
from loopml.serving.predlog import Entry, PredictionLogWriter

log = PredictionLogWriter(sys.argv[1], flush_interval=0.2)
scored = Scored(np.array(["a"], dtype=object), np.array([[0.9, 0.1]]), np.array([False]))
for i in range(int(sys.argv[2])):
    log.append(Entry(f"r{i}", time.time(), "m", "1", "champion", "onnx", "predict",
                     {"x": np.array([i + 0.5])}, scored, 0.3))
time.sleep(float(sys.argv[3]))
os.kill(os.getpid(), signal.SIGKILL)  # a crash: no close(), no final flush
"""


def _crash_writer(url: str, entries: int, wait_s: float) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WRITER), url, str(entries), str(wait_s)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


def test_a_crash_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    # 250 entries: written as multi-row inserts of 90, 90 and 70 rows
    _crash_writer(f"sqlite:///{db}", 250, wait_s=3.0)  # many flush intervals after the appends
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT request_id, inputs, outputs FROM loopml_predictions").fetchall()
    assert sorted(r[0] for r in rows) == sorted(f"r{i}" for i in range(250))
    assert {r[0]: r[1] for r in rows}["r137"] == '{"x":[137.5]}'  # each row's own values
    assert rows[0][2] == '{"predictions":["a"],"probabilities":[[0.9,0.1]],"abstained":[false]}'


def test_prediction_log_writes_to_postgresql(postgres: str) -> None:
    import sqlalchemy as sa

    from loopml.serving.predlog import _copy_sql
    from loopml.tracking.prediction_log import open_engine

    opened = open_engine(postgres)  # as the writer opens it: psycopg 3, so COPY
    assert (_copy_sql(opened.dialect) or "").startswith("COPY loopml_predictions (request_id, ")
    opened.dispose()
    _crash_writer(postgres, 200, wait_s=3.0)
    engine = sa.create_engine(postgres)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM loopml_predictions")).mappings().all()
    engine.dispose()
    # Written by COPY (psycopg 3): every column of each row as the SQLite INSERTs write it.
    assert sorted(r["request_id"] for r in rows) == sorted(f"r{i}" for i in range(200))
    row = next(r for r in rows if r["request_id"] == "r137")
    assert row["inputs"] == '{"x":[137.5]}'
    assert row["outputs"] == (
        '{"predictions":["a"],"probabilities":[[0.9,0.1]],"abstained":[false]}'
    )
    assert (row["model_name"], row["model_version"], row["role"], row["engine"]) == (
        "m", "1", "champion", "onnx"
    )  # fmt: skip
    assert (row["endpoint"], row["n_rows"], row["latency_ms"]) == ("predict", 1, 0.3)
    assert row["ts"].startswith("20") and row["ts"].endswith("+00:00")
