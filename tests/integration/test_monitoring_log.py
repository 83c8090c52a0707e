"""The prediction log on a real SQLite file: writer thread, windows, feedback join, WAL."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pandas as pd
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


def test_the_serving_servers_per_request_table_is_read_record_by_record(tmp_path: Path) -> None:
    """The table the serving issue's server writes (one row per request, columnar JSON)."""
    log = PredictionLog(tmp_path / "predictions.db")
    log.append([_row("mine", 0, time.time() - 50)])
    with sqlite3.connect(log.path) as conn:
        conn.execute(
            "CREATE TABLE loopml_predictions (request_id TEXT, ts TEXT, model_name TEXT, "
            "model_version TEXT, role TEXT, engine TEXT, endpoint TEXT, n_rows INTEGER, "
            "inputs TEXT, outputs TEXT, latency_ms REAL)"
        )
        stamp = pd.Timestamp(time.time() - 10, unit="s", tz="UTC").isoformat()
        answer = {"predictions": ["no", "yes"], "probabilities": [[0.9, 0.1], [0.2, 0.8]],
                  "abstained": [False, True]}  # fmt: skip
        for role in ("champion", "shadow"):
            conn.execute(
                "INSERT INTO loopml_predictions VALUES (?, ?, 'm', '2', ?, 'onnx', 'predict', 2, "
                "?, ?, 3.5)",
                ("theirs", stamp, role, json.dumps({"x": [1.5, None], "c": ["a", "b"]}),
                 json.dumps(answer)),
            )  # fmt: skip
    frame = log.window(model_name="m", rows=10, classes=["no", "yes"])
    assert frame["request_id"].tolist() == ["mine", "theirs", "theirs"]
    theirs = frame[frame["request_id"] == "theirs"]
    assert theirs["row"].tolist() == [0, 1] and theirs["model_version"].tolist() == ["2", "2"]
    assert theirs["x"].tolist()[0] == 1.5 and pd.isna(theirs["x"].tolist()[1])
    assert theirs["prediction"].tolist() == ["no", None]  # the second row abstained
    assert theirs["proba_yes"].tolist() == [0.1, 0.8]
    assert log.window(rows=2)["request_id"].tolist() == ["theirs", "theirs"]
    log.add_feedback([Label("theirs", "yes", 1), Label("mine", "no", 0)])
    joined = log.labelled(model_name="m", classes=["no", "yes"])
    assert joined[["request_id", "row", "label"]].values.tolist() == [
        ["mine", 0, "no"], ["theirs", 1, "yes"]
    ]  # fmt: skip
