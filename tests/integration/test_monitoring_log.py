"""Reading the prediction log the server writes: windows, the feedback join, counts, WAL,
on a real SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from loopml.errors import DataError
from loopml.serving.predlog import Entry
from loopml.serving.predlog import PredictionLogWriter as Writer
from loopml.tracking.prediction_log import Label, PredictionLog
from tests.integration.logged import entry, write
from tests.integration.postgres import fresh_database

pytestmark = pytest.mark.integration
CLASSES = ["no", "yes"]


def _request(
    request: str,
    at: float,
    rows: int = 3,
    *,
    version: str = "1",
    role: str = "champion",
    model: str = "m",
) -> Entry:
    """``rows`` records x = 0, 1, …, predicted no, yes, no, …"""
    return entry(
        request, {"x": [float(i) for i in range(rows)], "c": ["a"] * rows},
        ["yes" if i % 2 else "no" for i in range(rows)], at=at, model=model, version=version,
        role=role, probabilities=[[0.3, 0.7]] * rows,
    )  # fmt: skip


def test_reading_a_missing_log_says_how_to_get_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    with pytest.raises(DataError, match=r"none\.db: no prediction log yet; serve the model"):
        PredictionLog(url).window(rows=10)
    assert PredictionLog(url).counts() == {"predictions": 0, "labels": 0, "labelled": 0}
    assert not (tmp_path / "none.db").exists()


def test_window_returns_the_latest_rows_of_served_requests(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    start = time.time() - 100
    served = [_request(f"req{k}", start + k) for k in range(10)]
    shadow = _request("req9", start + 9, version="2", role="shadow")
    canary = _request("can", start - 50, version="2", role="canary")
    write(url, [*served, shadow, canary, _request("other", start, model="other")])
    log = PredictionLog(url)
    frame = log.window(model_name="m", rows=4, classes=CLASSES)
    assert frame["request_id"].tolist() == ["req8", "req9", "req9", "req9"]
    assert frame["row"].tolist() == [0, 0, 1, 2] and set(frame["model_version"]) == {"1"}
    assert list(frame.columns) == [
        "request_id", "row", "timestamp", "model_name", "model_version", "run_id",
        "x", "c", "prediction", "proba_no", "proba_yes", "latency_ms",
    ]  # fmt: skip
    assert frame["prediction"].tolist() == ["no", "no", "yes", "no"]
    assert frame["proba_yes"].tolist() == [0.7] * 4 and frame["latency_ms"].tolist() == [1.5] * 4
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["timestamp"].iloc[-1].timestamp() == pytest.approx(start + 9, abs=1e-3)
    everything = log.window(model_name="m", max_age=3600)
    assert len(everything) == 33  # 10 requests and the canary, 3 rows each; no shadow
    assert everything["request_id"].iloc[:3].tolist() == ["can"] * 3  # oldest first
    assert log.window(model_name="other", rows=10)["request_id"].tolist() == ["other"] * 3
    assert log.window(model_name="nobody", rows=10).empty
    assert list(log.window(rows=1)["proba_0"]) == [0.3]  # class names unknown: positions
    with sqlite3.connect(tmp_path / "log.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_old_requests_fall_outside_an_hours_window(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    write(url, [_request("old", time.time() - 7200, rows=1), _request("new", time.time(), 1)])
    assert PredictionLog(url).window(max_age=3600)["request_id"].tolist() == ["new"]
    assert PredictionLog(url).window(max_age=3 * 3600)["request_id"].tolist() == ["old", "new"]


def test_abstentions_and_missing_values_read_back_record_by_record(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    item = entry(
        "r", {"x": [1.5, float("nan")], "c": ["a", "b"]}, ["no", "yes"],
        probabilities=[[0.9, 0.1], [0.2, 0.8]], abstained=[False, True],
    )  # fmt: skip
    write(url, [item])
    frame = PredictionLog(url).window(rows=10, classes=CLASSES)
    assert frame["x"].tolist()[0] == 1.5 and pd.isna(frame["x"].tolist()[1])
    assert frame["c"].tolist() == ["a", "b"]
    assert frame["prediction"].tolist() == ["no", None]  # the second row abstained
    assert frame["proba_yes"].tolist() == [0.1, 0.8]


def _feedback_round_trip(url: str) -> None:
    now = time.time()
    write(
        url,
        [
            _request("a", now - 2, rows=2),
            _request("b", now - 1, rows=1),
            _request("b", now - 1, rows=1, version="2", role="shadow"),
            _request("s", now, rows=1, role="shadow"),
        ],
    )
    log = PredictionLog(url)
    result = log.add_feedback(
        [Label("a", "no", 0), Label("a", "yes", 1), Label("zzz", "no"), Label("a", "no", 2),
         Label("s", "no")]
    )  # fmt: skip
    assert (result.received, result.matched, result.unmatched) == (5, 2, 3)
    assert log.add_feedback([Label("a", "yes", 0), Label("a", "no", 0)]).matched == 2
    joined = log.labelled(model_name="m", classes=CLASSES)
    assert joined[["request_id", "row", "label"]].values.tolist() == [
        ["a", 0, "no"],  # the later of two labels for one record wins
        ["a", 1, "yes"],
    ]
    assert joined["prediction"].tolist() == ["no", "yes"] and joined["x"].tolist() == [0.0, 1.0]
    assert log.labelled(rows=1)["row"].tolist() == [0]  # the latest request, first row
    log.add_feedback([Label("b", 1.0)])
    assert log.labelled(model_name="m")["label"].tolist() == ["no", "yes", 1.0]
    assert log.counts() == {"predictions": 3, "labels": 6, "labelled": 3}


def test_feedback_joins_by_request_and_row_and_later_labels_win(tmp_path: Path) -> None:
    _feedback_round_trip(f"sqlite:///{tmp_path / 'log.db'}")


def test_the_log_reads_and_takes_feedback_on_postgresql(postgres: str) -> None:
    url = fresh_database(postgres, "monitoring_log")
    with pytest.raises(DataError, match="/monitoring_log: no prediction log yet"):
        PredictionLog(url).window(rows=1)
    _feedback_round_trip(url)
    assert PredictionLog(url).window(max_age=3600, rows=2)["request_id"].tolist() == ["a", "b"]


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    from tests.conftest import free_port

    url = f"postgresql://me:secret@127.0.0.1:{free_port()}/x"
    with pytest.raises(DataError, match="cannot open the prediction log") as caught:
        PredictionLog(url).window(rows=1)
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_reader_sees_committed_rows_while_the_writer_keeps_writing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    writer = Writer(url, flush_interval=0.005)
    log, seen, failures = PredictionLog(url), [], []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                seen.append(len(log.window(rows=10_000)))
            except Exception as exc:
                failures.append(exc)

    reader = threading.Thread(target=read)
    try:
        writer.append(_request("r0", time.time(), rows=2))  # the reader finds a log at once
        writer.flush()
        reader.start()
        for k in range(1, 200):
            writer.append(_request(f"r{k}", time.time(), rows=2))
            if k % 20 == 0:
                time.sleep(0.01)
        writer.flush()
    finally:
        done.set()
        reader.join(timeout=30)
        writer.close()
    assert failures == []
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] <= 400
    assert len(log.window(rows=10_000)) == 400
    assert len(set(seen)) > 1  # some reads happened while rows were still arriving
