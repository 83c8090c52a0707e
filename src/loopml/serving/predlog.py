"""The prediction log: every request's inputs and outputs, appended off the hot path.

Requests put an entry on a bounded in-memory queue (no I/O, no serialisation); a writer
thread drains it every ``WRITE_EVERY_S`` (at least twice per ``flush_interval``) and
writes everything drained in one transaction, as multi-row inserts of ``ROWS_PER_INSERT``
rows, so a crash loses at most the last interval. Memory is bounded by ``max_queue``
entries, not by load. A failed write is retried with backoff for up to ``retry_for``;
what still cannot be written (the queue full, the database failing past that bound) is
counted by reason (``loopml_prediction_log_dropped_total``), logged once per
``REPORT_EVERY_S`` and shown on ``/health`` (``degraded``) and the dashboard. SQLite files
run in WAL mode; any SQLAlchemy URL (``postgresql://…``) works the same way. The tables
are defined in ``loopml.tracking.prediction_log``, which also reads them (`loopml monitor`,
feedback).

Table ``loopml_predictions`` (one row per request and model that scored it):

| column | type | meaning |
|---|---|---|
| request_id | text | the id returned to the client (also the ``x-request-id`` header) |
| ts | text | UTC time the request arrived, ISO 8601 |
| model_name, model_version | text | the registered model that scored it |
| role | text | ``champion``, ``canary`` (challenger answered) or ``shadow`` (not returned) |
| engine | text | ``onnx`` or ``native`` |
| endpoint | text | ``predict``, ``explain``, ``invocations`` or ``v2_infer`` |
| n_rows | integer | rows in the request |
| inputs | text | JSON object: column -> list of values |
| outputs | text | JSON object: predictions, probabilities (or null), abstained |
| latency_ms | real | time spent in the server for this request |
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa

from loopml.errors import first_line
from loopml.serving.engine import Scored
from loopml.serving.schema import Columns
from loopml.tracking.prediction_log import METADATA, PREDICTIONS, open_engine, timestamp_text

log = logging.getLogger(__name__)

MAX_BATCH = 20_000  # entries per transaction (a backlog is written in several)
# Rows per INSERT statement: 11 parameters a row, 990 a statement, under every SQLite's
# limit (999 before 3.32) and PostgreSQL's; the driver binds them holding the GIL.
ROWS_PER_INSERT = 90
WRITE_EVERY_S = 0.05  # the writer drains the queue this often (or twice per flush interval)
REPORT_EVERY_S = 10.0  # drops are logged at most this often, with their reasons
DEGRADED_FOR_S = 60.0  # /health stays "degraded" this long after the last drop
QUEUE_FULL, WRITE_FAILED = "queue_full", "write_failed"
DROP_REASONS = (QUEUE_FULL, WRITE_FAILED)


@dataclass(frozen=True)
class Entry:
    request_id: str
    arrived: float  # time.time()
    model_name: str
    model_version: str
    role: str
    engine: str
    endpoint: str
    columns: Columns
    scored: Scored
    latency_ms: float


@dataclass
class LogHealth:
    """What /health and the dashboard show about the log."""

    queued: int
    written: int
    dropped: dict[str, int]
    failing: str | None  # the last write error, while writes fail
    degraded: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "written": self.written,
            "dropped": dict(self.dropped),
            "failing": self.failing,
        }


@dataclass
class _Drops:
    """Drops by reason: totals, and those not yet reported in the server's log."""

    total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    unreported: dict[str, int] = field(default_factory=dict)
    last_at: float = float("-inf")  # time.monotonic() of the last drop
    reported_at: float = float("-inf")


class PredictionLogWriter:
    """Bounded queue + writer thread over one SQLAlchemy database."""

    def __init__(
        self,
        url: str,
        *,
        flush_interval: float = 1.0,
        max_queue: int = 100_000,
        retry_for: float = 30.0,
    ):
        self.url, self.flush_interval, self.retry_for = url, flush_interval, retry_for
        self.max_queue = max_queue
        self.on_drop: Callable[[str, int], None] = lambda reason, count: None
        self.written = 0
        self._queue: deque[Entry] = deque()  # append/popleft are atomic: no lock per request
        self._drops = _Drops()
        self._dropping = threading.Lock()
        self._failing: str | None = None
        self._stop = threading.Event()
        self._writing = threading.Lock()  # a flush returns only once earlier entries are in
        self._engine = open_engine(url, **_writer_options(url))
        self._created = False
        try:
            self._create()
        except Exception as exc:  # serve anyway; /health says why the log cannot be written
            self._failing = _reason(exc)
            log.warning("prediction log %s: %s", self.where, self._failing)
        self._marker = _marker(self._engine.dialect.paramstyle)
        self._copy = _copy_sql(self._engine.dialect)
        self._inserts: dict[int, str] = {}  # rows -> statement
        self._thread = threading.Thread(target=self._write_loop, name="loopml-predlog", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return sum(self._drops.total.values())

    def append(self, entry: Entry) -> bool:
        """Queue one entry; never blocks. False (and counted) when the queue is full."""
        if len(self._queue) >= self.max_queue:
            self._drop(QUEUE_FULL, 1)
            return False
        self._queue.append(entry)
        return True

    def health(self) -> LogHealth:
        recent = time.monotonic() - self._drops.last_at < DEGRADED_FOR_S
        return LogHealth(
            len(self._queue),
            self.written,
            dict(self._drops.total),
            self._failing,
            degraded=recent or self._failing is not None,
        )

    def flush(self, *, retry_for: float | None = None) -> int:
        """Write everything queued now; return how many entries were written.

        Each batch is one multi-row insert in one transaction. A failed write is retried
        with backoff for up to ``retry_for`` (default: the log's), then counted as dropped.
        """
        with self._writing:
            written = 0
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_BATCH))]
                written += self._write(batch, self.retry_for if retry_for is None else retry_for)
            self._report()
            return written

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.retry_for + 30)
        self.flush(retry_for=min(self.retry_for, 5.0))
        self._engine.dispose()

    def _write(self, batch: list[Entry], retry_for: float) -> int:
        rows = [_row(e) for e in batch]
        deadline, pause = time.monotonic() + retry_for, 0.05
        while True:
            try:
                self._create()
                with self._engine.begin() as conn:
                    if self._copy is not None:  # PostgreSQL with psycopg 3: COPY
                        _copy_rows(conn, self._copy, rows)
                    elif self._marker is None:  # a driver with named parameters only
                        names = [c.name for c in PREDICTIONS.columns]
                        conn.execute(
                            PREDICTIONS.insert(), [dict(zip(names, r, strict=True)) for r in rows]
                        )
                    else:
                        for start in range(0, len(rows), ROWS_PER_INSERT):
                            chunk = rows[start : start + ROWS_PER_INSERT]
                            values = tuple(v for row in chunk for v in row)
                            conn.exec_driver_sql(self._insert_for(len(chunk)), values)
            except Exception as exc:  # retried, then counted: never lost silently
                self._failing = _reason(exc)
                if time.monotonic() >= deadline:
                    self._drop(WRITE_FAILED, len(batch))
                    return 0
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, 2.0)
                continue
            self._failing = None
            self.written += len(batch)
            return len(batch)

    def _insert_for(self, rows: int) -> str:
        statement = self._inserts.get(rows)
        if statement is None:
            assert self._marker is not None
            statement = self._inserts[rows] = _insert_sql(self._marker, rows)
        return statement

    def _create(self) -> None:
        if not self._created:
            METADATA.create_all(self._engine)  # the feedback table too, on every database
            self._created = True

    def _drop(self, reason: str, count: int) -> None:
        with self._dropping:
            drops = self._drops
            drops.total[reason] = drops.total.get(reason, 0) + count
            drops.unreported[reason] = drops.unreported.get(reason, 0) + count
            drops.last_at = time.monotonic()
        self.on_drop(reason, count)

    def _report(self) -> None:
        """Log the drops since the last report, at most once per ``REPORT_EVERY_S``."""
        drops = self._drops
        if not drops.unreported or time.monotonic() - drops.reported_at < REPORT_EVERY_S:
            return
        with self._dropping:
            counts, drops.unreported = drops.unreported, {}
            drops.reported_at = time.monotonic()
        detail = ", ".join(f"{n:,} {reason}" for reason, n in sorted(counts.items()))
        cause = f" (last error: {self._failing})" if self._failing else ""
        log.warning("prediction log %s: dropped %s%s", self.where, detail, cause)

    @property
    def where(self) -> str:
        """The URL without its password, for messages."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def _write_loop(self) -> None:
        # At least twice per interval: an entry waits at most half an interval, and its write
        # has the other half to commit, so a crash loses at most one interval. Small,
        # frequent writes: a long one holds the GIL (serialising rows) in longer bursts,
        # which the event loop's requests wait out (p99 at 64 clients: 44 -> 35 ms).
        while not self._stop.wait(min(self.flush_interval / 2, WRITE_EVERY_S)):
            try:
                self.flush()
            except Exception as exc:  # never kill the writer; the entries were counted
                log.warning("prediction log writer: %s", exc)


def _writer_options(url: str) -> dict[str, Any]:
    """The writer retries by itself: a short SQLite busy wait, one pooled connection."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 1.0}}
    return {"pool_size": 1, "max_overflow": 0, "pool_pre_ping": True}


def _copy_sql(dialect: Any) -> str | None:
    """``COPY ... FROM STDIN`` into the predictions table on PostgreSQL through psycopg 3,
    else None (multi-row INSERTs). PostgreSQL loads a batch by COPY several times faster
    than by INSERTs of ``ROWS_PER_INSERT`` rows (bound one statement at a time): 9-11k
    rows/s by INSERT on a server on loopback, see ``benchmarks/bench_serving.py
    --postgres``."""
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return None
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c.name) for c in PREDICTIONS.columns)
    return f"COPY {quote(PREDICTIONS.name)} ({names}) FROM STDIN"


def _copy_rows(conn: Any, statement: str, rows: list[tuple[Any, ...]]) -> None:
    """``rows`` by ``statement`` (``_copy_sql``) on the connection's psycopg 3 connection,
    inside its open transaction."""
    cursor = conn.connection.driver_connection.cursor()
    with cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _marker(paramstyle: str) -> str | None:
    """The driver's positional parameter marker; None for a driver with named ones only."""
    return {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(paramstyle)


def _insert_sql(marker: str, rows: int) -> str:
    """One INSERT of ``rows`` rows (multi-row VALUES), positional parameters.

    One statement per ``ROWS_PER_INSERT`` rows, not an executemany of one-row inserts: the
    SQLite driver releases the GIL around every statement it steps, and under load the
    event loop holds the GIL for up to a switch interval (5 ms) each time the writer asks
    for it back, so row-by-row writes fell behind the server (issue 16's kill test)."""
    names = [c.name for c in PREDICTIONS.columns]
    quoted = ", ".join(f'"{n}"' for n in names)
    row = f"({', '.join([marker] * len(names))})"
    return f"INSERT INTO {PREDICTIONS.name} ({quoted}) VALUES {', '.join([row] * rows)}"


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {first_line(orig)}"[:200]


def _row(entry: Entry) -> tuple[Any, ...]:
    scored = entry.scored
    outputs = {
        "predictions": _native(scored.predictions),
        "probabilities": scored.probabilities,
        "abstained": scored.abstained,
    }
    return (
        entry.request_id,
        timestamp_text(entry.arrived),
        entry.model_name,
        entry.model_version,
        entry.role,
        entry.engine,
        entry.endpoint,
        len(scored.predictions),
        orjson.dumps({k: _native(v) for k, v in entry.columns.items()}, **_NUMPY).decode(),
        orjson.dumps(outputs, **_NUMPY).decode(),
        entry.latency_ms,
    )


def _native(values: np.ndarray) -> np.ndarray | list[Any]:
    """Numbers and booleans as they are (orjson writes them, NaN and inf as null, without a
    Python object per value); dates as ISO 8601 text, which the data contract reads back;
    anything else (text) as Python values."""
    if values.dtype.kind in "fiub":
        return values
    if values.dtype.kind == "M":
        texts = np.datetime_as_string(values, unit="s").tolist()
        return [None if t == "NaT" else t for t in texts]
    return values.tolist()


def _tolist(value: Any) -> Any:
    if isinstance(value, np.ndarray):  # not contiguous, or a dtype orjson does not write
        return value.tolist()
    raise TypeError(f"cannot log a {type(value).__name__}")


_NUMPY: dict[str, Any] = {"option": orjson.OPT_SERIALIZE_NUMPY, "default": _tolist}
