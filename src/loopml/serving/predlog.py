"""The prediction log: every request's inputs and outputs, appended off the hot path.

Requests put an entry on an in-memory queue (no I/O, no serialisation); a writer thread
turns them into rows and commits them every ``flush_interval_s`` in one transaction, so a
crash loses at most the last interval. SQLite files run in WAL mode; any SQLAlchemy URL
(``postgresql://…``) works the same way. The tables are defined in
``loopml.tracking.prediction_log``, which also reads them (`loopml monitor`, feedback).

Table ``loopml_predictions`` (one row per request and model that scored it):

| column | type | meaning |
|---|---|---|
| request_id | text | the id returned to the client (also the ``x-request-id`` header) |
| ts | text | UTC time the request arrived, ISO 8601 |
| model_name, model_version | text | the registered model that scored it |
| role | text | ``champion``, ``canary`` (challenger answered) or ``shadow`` (not returned) |
| engine | text | ``onnx`` or ``native`` |
| endpoint | text | ``predict``, ``invocations`` or ``v2_infer`` |
| n_rows | integer | rows in the request |
| inputs | text | JSON object: column -> list of values |
| outputs | text | JSON object: predictions, probabilities (or null), abstained |
| latency_ms | real | time spent in the server for this request |
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from loopml.serving.engine import Scored
from loopml.serving.schema import Columns
from loopml.tracking.prediction_log import METADATA, PREDICTIONS, open_engine, timestamp_text

SLICE, SLICE_PAUSE_S = 32, 0.001  # entries per write; pause between writes (GIL to requests)


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


class PredictionLog:
    """Queue + writer thread over one SQLAlchemy database."""

    def __init__(self, url: str, *, flush_interval_s: float = 1.0, max_queue: int = 100_000):
        self.url, self.flush_interval = url, flush_interval_s
        self.dropped = 0
        self._queue: queue.Queue[Entry] = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        self._writing = threading.Lock()  # a flush returns only once earlier entries are in
        self._engine = open_engine(url)
        METADATA.create_all(self._engine)  # the feedback table too, the same on every database
        self._thread = threading.Thread(target=self._write_loop, name="loopml-predlog", daemon=True)
        self._thread.start()

    def append(self, entry: Entry) -> bool:
        """Queue one entry; never blocks. False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def flush(self) -> int:
        """Write everything queued now; return how many entries were written.

        In slices of ``SLICE`` entries, one transaction each, with a pause between them:
        turning entries into rows holds the GIL, and one long hold would stall every
        request waiting on the event loop (it was most of the server's p99 latency).
        """
        with self._writing:
            entries: list[Entry] = []
            while True:
                try:
                    entries.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for start in range(0, len(entries), SLICE):
                if start:
                    time.sleep(SLICE_PAUSE_S)
                with self._engine.begin() as conn:
                    part = entries[start : start + SLICE]
                    conn.execute(PREDICTIONS.insert(), [_row(e) for e in part])
            return len(entries)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.flush()
        self._engine.dispose()

    def _write_loop(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except Exception:  # a database hiccup must not kill the writer; retry next tick
                continue


def _row(entry: Entry) -> dict[str, Any]:
    scored = entry.scored
    outputs = {
        "predictions": scored.predictions.tolist(),
        "probabilities": None if scored.probabilities is None else scored.probabilities.tolist(),
        "abstained": scored.abstained.tolist(),
    }
    return {
        "request_id": entry.request_id,
        "ts": timestamp_text(entry.arrived),
        "model_name": entry.model_name,
        "model_version": entry.model_version,
        "role": entry.role,
        "engine": entry.engine,
        "endpoint": entry.endpoint,
        "n_rows": len(scored.predictions),
        "inputs": orjson.dumps({k: _jsonable(v) for k, v in entry.columns.items()}).decode(),
        "outputs": orjson.dumps(outputs, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
        "latency_ms": entry.latency_ms,
    }


def _jsonable(values: np.ndarray) -> list[Any]:
    if values.dtype == np.float64:
        return [None if v != v else v for v in values.tolist()]
    if values.dtype.kind == "M":  # dates as read by the contract: ISO 8601, which it reads back
        texts = np.datetime_as_string(values, unit="s").tolist()
        return [None if t == "NaT" else t for t in texts]
    return values.tolist()
