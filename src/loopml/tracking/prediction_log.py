"""The prediction log: every served prediction, and the true labels that arrive later.

All access to the log goes through this module: the server's writer, `loopml monitor`'s
reader, `loopml feedback` and ``POST /feedback``. It is one SQLite file in WAL mode, so the
server appends while monitoring reads. Schema (one row per predicted record):

``predictions``
    ``request_id`` TEXT, ``row`` INTEGER (position of the record in its request; primary
    key together), ``logged_at`` REAL (Unix seconds, UTC), ``model_name``,
    ``model_version``, ``run_id`` TEXT, ``inputs`` TEXT (JSON object: feature -> value as
    sent), ``prediction`` TEXT (JSON value; null when the model abstained),
    ``probabilities`` TEXT (JSON object class -> probability, or NULL), ``latency_ms`` REAL.
``feedback``
    ``request_id`` TEXT, ``row`` INTEGER (primary key together), ``label`` TEXT (JSON value),
    ``received_at`` REAL. A later label for the same record replaces the earlier one.

The serving issue's server writes ``loopml_predictions`` (one row per request: ``ts`` ISO
8601 UTC, ``role``, columnar JSON ``inputs`` {column: [values]}, ``outputs``
{predictions, probabilities (lists in class order), abstained}); when that table is in
the same file the readers read it too, one record per row, shadow scoring left out.

Readers return a DataFrame with columns ``request_id``, ``row``, ``timestamp`` (UTC),
``model_name``, ``model_version``, ``run_id``, one column per input feature,
``prediction``, ``proba_<class>`` per class (classifiers) and ``latency_ms``;
``labelled`` adds ``label``.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.core.jsonable import plain
from loopml.errors import DataError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    request_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    logged_at REAL NOT NULL,
    model_name TEXT,
    model_version TEXT,
    run_id TEXT,
    inputs TEXT NOT NULL,
    prediction TEXT,
    probabilities TEXT,
    latency_ms REAL,
    PRIMARY KEY (request_id, row)
);
CREATE INDEX IF NOT EXISTS predictions_logged_at ON predictions (logged_at);
CREATE TABLE IF NOT EXISTS feedback (
    request_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    label TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (request_id, row)
);
"""
_COLUMNS = (
    "request_id, row, logged_at, model_name, model_version, run_id, inputs, prediction, "
    "probabilities, latency_ms"
)


@dataclass(frozen=True)
class LoggedRow:
    """One predicted record, as the server appends it."""

    request_id: str
    row: int
    logged_at: float
    model_name: str | None
    model_version: str | None
    run_id: str | None
    inputs: dict[str, Any]
    prediction: Any
    probabilities: dict[str, float] | None
    latency_ms: float | None

    def values(self) -> tuple[Any, ...]:
        return (
            self.request_id,
            self.row,
            self.logged_at,
            self.model_name,
            self.model_version,
            self.run_id,
            _dumps(self.inputs),
            _dumps(self.prediction),
            None if self.probabilities is None else _dumps(self.probabilities),
            self.latency_ms,
        )


@dataclass(frozen=True)
class Label:
    request_id: str
    value: Any
    row: int = 0


@dataclass(frozen=True)
class FeedbackResult:
    received: int
    matched: int  # labels whose (request_id, row) is in the log

    @property
    def unmatched(self) -> int:
        return self.received - self.matched


class PredictionLog:
    """One prediction log file. Cheap to create; every call opens its own connection."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def connect(self, create: bool = False) -> Iterator[sqlite3.Connection]:
        if not create and not self.exists():
            raise DataError(
                f"{self.path}: no prediction log yet; serve the model with `loopml serve` "
                "(it logs every prediction there) or pass --current FILE"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            yield conn
        finally:
            conn.close()

    def append(self, rows: Sequence[LoggedRow]) -> None:
        """Append predicted records in one transaction."""
        with self.connect(create=True) as conn:
            _insert(conn, rows)

    def add_feedback(self, labels: Sequence[Label]) -> FeedbackResult:
        """Store true labels (all or none); count how many match a logged prediction."""
        now = time.time()
        values = [(lab.request_id, lab.row, _dumps(lab.value), now) for lab in labels]
        with self.connect(create=True) as conn:
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?)", values)
            conn.execute("COMMIT")
            matched = _count_matched(conn, [(lab.request_id, lab.row) for lab in labels])
        return FeedbackResult(len(labels), matched)

    def window(
        self,
        *,
        model_name: str | None = None,
        rows: int | None = None,
        hours: float | None = None,
        classes: Sequence[str] = (),
    ) -> pd.DataFrame:
        """The latest ``rows`` records, or those of the last ``hours``, oldest first.

        ``classes`` names the probability columns of rows the serving issue's server wrote.
        """
        where, params = _filters(model_name, hours)
        limit = f" LIMIT {int(rows)}" if rows else ""
        sql = (
            f"SELECT {_COLUMNS} FROM predictions{where} "
            f"ORDER BY logged_at DESC, request_id, row{limit}"
        )
        with self.connect() as conn:
            records = conn.execute(sql, params).fetchall()
            records += _serving_records(conn, model_name, hours, rows, classes, labelled=False)
        return _frame(_latest(records, rows), labelled=False)

    def labelled(
        self,
        *,
        model_name: str | None = None,
        rows: int | None = None,
        hours: float | None = None,
        classes: Sequence[str] = (),
    ) -> pd.DataFrame:
        """Like ``window``, over records whose label has arrived, with a ``label`` column."""
        where, params = _filters(model_name, hours, table="p.")
        limit = f" LIMIT {int(rows)}" if rows else ""
        columns = ", ".join(f"p.{c.strip()}" for c in _COLUMNS.split(","))
        sql = (
            f"SELECT {columns}, f.label FROM predictions p JOIN feedback f "
            f"ON f.request_id = p.request_id AND f.row = p.row{where} "
            f"ORDER BY p.logged_at DESC, p.request_id, p.row{limit}"
        )
        with self.connect() as conn:
            records = conn.execute(sql, params).fetchall()
            records += _serving_records(conn, model_name, hours, rows, classes, labelled=True)
        return _frame(_latest(records, rows), labelled=True)

    def counts(self) -> dict[str, int]:
        """Logged records and labels, for the dashboard."""
        if not self.exists():
            return {"predictions": 0, "labels": 0, "labelled": 0}
        with self.connect() as conn:
            predictions = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
            labels = conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
            labelled = conn.execute(
                "SELECT COUNT(*) FROM predictions p JOIN feedback f "
                "ON f.request_id = p.request_id AND f.row = p.row"
            ).fetchone()[0]
            if _has_serving_table(conn):
                predictions += conn.execute(
                    f"SELECT COALESCE(SUM(n_rows), 0) FROM {SERVING_TABLE} WHERE role != 'shadow'"
                ).fetchone()[0]
                labelled += conn.execute(
                    f"SELECT COUNT(*) FROM feedback f JOIN {SERVING_TABLE} s "
                    "ON s.request_id = f.request_id AND f.row < s.n_rows AND s.role != 'shadow'"
                ).fetchone()[0]
        return {"predictions": int(predictions), "labels": int(labels), "labelled": int(labelled)}


class PredictionLogWriter:
    """Appends off the hot path: a thread batches queued rows and commits every interval.

    A crash loses at most the rows queued since the last commit (``flush_seconds``).
    """

    def __init__(self, log: PredictionLog, flush_seconds: float = 0.2):
        self.log, self.flush_seconds = log, flush_seconds
        self._queue: queue.SimpleQueue[list[LoggedRow] | threading.Event | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, rows: list[LoggedRow]) -> None:
        self._queue.put(rows)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is committed; False on time-out."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with self.log.connect(create=True) as conn:
            while True:
                pending, marker = self._drain()
                if pending:
                    _insert(conn, pending)
                if marker is None and not pending:
                    return
                if isinstance(marker, threading.Event):
                    marker.set()

    def _drain(self) -> tuple[list[LoggedRow], threading.Event | None]:
        """Rows queued within one interval; stops early at a flush marker or at close."""
        item = self._queue.get()
        if not isinstance(item, list):
            return [], item
        pending, deadline = list(item), time.monotonic() + self.flush_seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                more = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if not isinstance(more, list):
                if more is None:
                    self._queue.put(None)  # commit these rows first, then stop
                return pending, more if more is not None else _CONTINUE
            pending.extend(more)
        return pending, _CONTINUE


_CONTINUE = threading.Event()  # a marker nobody waits on: keep running


SERVING_TABLE = "loopml_predictions"


def _serving_records(
    conn: sqlite3.Connection,
    model_name: str | None,
    hours: float | None,
    rows: int | None,
    classes: Sequence[str],
    *,
    labelled: bool,
) -> list[tuple[Any, ...]]:
    """Records of the serving issue's per-request table, as tuples of this module's shape."""
    if not _has_serving_table(conn):
        return []
    clauses, params = ["role != 'shadow'"], []
    if model_name:
        clauses.append("model_name = ?")
        params.append(model_name)
    if hours:
        since = pd.Timestamp(time.time() - hours * 3600, unit="s", tz="UTC")
        clauses.append("ts >= ?")
        params.append(since.isoformat())
    if labelled:
        clauses.append("request_id IN (SELECT request_id FROM feedback)")
    sql = (
        "SELECT request_id, ts, model_name, model_version, inputs, outputs, latency_ms, n_rows "
        f"FROM {SERVING_TABLE} WHERE {' AND '.join(clauses)} ORDER BY ts DESC"
    )
    records: list[tuple[Any, ...]] = []
    for request in conn.execute(sql, params):
        records.extend(_explode(request, classes))
        if rows and len(records) >= rows and not labelled:
            break
    return _with_labels(conn, records) if labelled else records


def _has_serving_table(conn: sqlite3.Connection) -> bool:
    found = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (SERVING_TABLE,)
    ).fetchone()
    return found is not None


def _explode(request: tuple[Any, ...], classes: Sequence[str]) -> list[tuple[Any, ...]]:
    request_id, ts, name, version, inputs, outputs, latency, n_rows = request
    columns, answer = json.loads(inputs), json.loads(outputs)
    moment = pd.Timestamp(ts).timestamp()
    probabilities = answer.get("probabilities")
    abstained = answer.get("abstained") or [False] * n_rows
    out = []
    for i in range(n_rows):
        prediction = None if abstained[i] else answer["predictions"][i]
        proba = None
        if probabilities is not None:
            labels = list(classes) or [str(k) for k in range(len(probabilities[i]))]
            proba = _dumps(dict(zip(labels, probabilities[i], strict=False)))
        record = {column: values[i] for column, values in columns.items()}
        out.append(
            (request_id, i, moment, name, version, None, _dumps(record), _dumps(prediction),
             proba, latency)
        )  # fmt: skip
    return out


def _with_labels(conn: sqlite3.Connection, records: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    labels = {
        (request_id, row): label
        for request_id, row, label in conn.execute("SELECT request_id, row, label FROM feedback")
    }
    return [(*r, labels[(r[0], r[1])]) for r in records if (r[0], r[1]) in labels]


def _latest(records: list[tuple[Any, ...]], rows: int | None) -> list[tuple[Any, ...]]:
    """Newest first in, oldest first out, at most ``rows``."""
    ordered = sorted(records, key=lambda r: (-r[2], r[0], r[1]))
    kept = ordered[:rows] if rows else ordered
    return sorted(kept, key=lambda r: (r[2], r[0], r[1]))


def _insert(conn: sqlite3.Connection, rows: Iterable[LoggedRow]) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [r.values() for r in rows],
    )
    conn.execute("COMMIT")


def _count_matched(conn: sqlite3.Connection, keys: list[tuple[str, int]]) -> int:
    """Labels whose record is logged, in either table (a served request has one non-shadow
    row in the serving table, holding ``n_rows`` records)."""
    serving = _has_serving_table(conn)
    matched = 0
    for start in range(0, len(keys), 400):
        chunk = keys[start : start + 400]
        params = [v for key in chunk for v in key]
        clause = " OR ".join("(request_id = ? AND row = ?)" for _ in chunk)
        matched += conn.execute(
            f"SELECT COUNT(*) FROM predictions WHERE {clause}", params
        ).fetchone()[0]
        if serving:
            keys_table = ", ".join("(?, ?)" for _ in chunk)
            matched += conn.execute(
                f"WITH k(request_id, row) AS (VALUES {keys_table}) SELECT COUNT(*) FROM k "
                f"JOIN {SERVING_TABLE} s ON s.request_id = k.request_id AND k.row < s.n_rows "
                "AND s.role != 'shadow'",
                params,
            ).fetchone()[0]
    return int(matched)


def _filters(model_name: str | None, hours: float | None, table: str = "") -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if model_name:
        clauses.append(f"{table}model_name = ?")
        params.append(model_name)
    if hours:
        clauses.append(f"{table}logged_at >= ?")
        params.append(time.time() - hours * 3600)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _frame(records: list[tuple[Any, ...]], *, labelled: bool) -> pd.DataFrame:
    meta = pd.DataFrame(
        [r[:6] for r in records],
        columns=["request_id", "row", "timestamp", "model_name", "model_version", "run_id"],
    )
    meta["timestamp"] = pd.to_datetime(meta["timestamp"].astype(float), unit="s", utc=True)
    inputs = pd.DataFrame.from_records([json.loads(r[6]) for r in records], index=meta.index)
    outputs = pd.DataFrame(
        {"prediction": pd.Series([json.loads(r[7]) for r in records], dtype=object)},
        index=meta.index,
    )
    probabilities = pd.DataFrame.from_records(
        [json.loads(r[8]) if r[8] else {} for r in records], index=meta.index
    ).add_prefix("proba_")
    parts = [meta, inputs, outputs, probabilities]
    parts.append(pd.DataFrame({"latency_ms": [r[9] for r in records]}, index=meta.index))
    if labelled:
        labels = pd.Series([json.loads(r[10]) for r in records], dtype=object, index=meta.index)
        parts.append(pd.DataFrame({"label": labels}))
    return pd.concat(parts, axis=1)


def _dumps(value: Any) -> str:
    return json.dumps(plain(value), separators=(",", ":"))
