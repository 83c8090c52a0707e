"""The prediction log on a real SQLite file: writer thread, windows, feedback join, WAL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from loopml.errors import DataError
from loopml.tracking.prediction_log import Label, LoggedRow, PredictionLog, PredictionLogWriter

pytestmark = pytest.mark.integration


def _row(request: str, i: int, at: float, version: str = "1", **inputs: object) -> LoggedRow:
    return LoggedRow(
        request, i, at, "m", version, "r" * 32, inputs or {"x": float(i), "c": "a"},
        "yes" if i % 2 else "no", {"no": 0.3, "yes": 0.7}, 1.5,
    )  # fmt: skip


def test_reading_a_missing_log_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no prediction log yet; serve the model"):
        PredictionLog(tmp_path / "none.db").window(rows=10)
    assert not (tmp_path / "none.db").exists()


def test_writer_commits_off_thread_and_window_returns_the_latest(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log.db")
    writer = PredictionLogWriter(log, flush_seconds=0.05)
    start = time.time() - 100
    for k in range(10):
        writer.submit([_row(f"req{k}", i, start + k) for i in range(3)])
    assert writer.flush()
    frame = log.window(model_name="m", rows=4)
    assert frame["request_id"].tolist() == ["req8", "req9", "req9", "req9"]
    assert list(frame.columns[:6]) == [
        "request_id", "row", "timestamp", "model_name", "model_version", "run_id"
    ]  # fmt: skip
    assert {"x", "c", "prediction", "proba_no", "proba_yes", "latency_ms"} <= set(frame.columns)
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert log.window(model_name="other", rows=10).empty
    assert len(log.window(hours=1)) == 30
    writer.close()
    with sqlite3.connect(log.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_old_rows_fall_outside_an_hours_window(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log.db")
    log.append([_row("old", 0, time.time() - 7200), _row("new", 0, time.time())])
    assert log.window(hours=1)["request_id"].tolist() == ["new"]


def test_feedback_joins_by_request_and_row_and_later_labels_win(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log.db")
    log.append([_row("a", 0, time.time()), _row("a", 1, time.time()), _row("b", 0, time.time())])
    result = log.add_feedback([Label("a", "no", 0), Label("a", "yes", 1), Label("zzz", "no")])
    assert (result.received, result.matched, result.unmatched) == (3, 2, 1)
    log.add_feedback([Label("a", "yes", 0)])
    joined = log.labelled(model_name="m")
    assert joined[["request_id", "row", "label"]].values.tolist() == [
        ["a", 0, "yes"],
        ["a", 1, "yes"],
    ]
    assert log.counts() == {"predictions": 3, "labels": 3, "labelled": 2}


def test_a_reader_sees_committed_rows_while_the_writer_keeps_writing(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log.db")
    writer = PredictionLogWriter(log, flush_seconds=0.01)
    seen = []
    for k in range(20):
        writer.submit([_row(f"r{k}", 0, time.time())])
        if k % 5 == 4:
            writer.flush()
            seen.append(len(log.window(rows=1000)))
    writer.close()
    assert seen == [5, 10, 15, 20]
