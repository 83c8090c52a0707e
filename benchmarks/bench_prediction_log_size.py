"""Bytes per logged request, and what retention does to the file.

Writes 20,000 one-row requests of the breast-cancer example (30 numeric features, two
class probabilities) with the server's own writer into a fresh SQLite log, prunes half
with ``PredictionLog.prune`` and writes 10,000 more: the file should not grow (SQLite
reuses the freed pages). Baseline: the same log before the prune.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.logged import entry

from loopml.serving.predlog import PredictionLogWriter as Writer
from loopml.tracking.prediction_log import PredictionLog
from loopml.workflows.init import init_project

REQUESTS = 20_000


def _append(db: Path, frame: pd.DataFrame, prefix: str, count: int, start: float) -> float:
    writer = Writer(f"sqlite:///{db}", flush_interval=0.5, max_queue=count + 10)
    for i in range(count):
        row = frame.iloc[i % len(frame)]
        columns = {c: [float(row[c])] for c in frame.columns}
        writer.append(
            entry(
                f"{prefix}{i:030x}", columns, ["benign"], at=start + i, probabilities=[[0.9, 0.1]]
            )
        )
    writer.flush()
    writer.close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.stat().st_size


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        init_project(Path(folder) / "project", "breast_cancer")
        frame = pd.read_csv(Path(folder) / "project" / "data" / "score_me.csv")
        frame = frame.drop(columns=["patient_id"])
        db = Path(folder) / "log.db"
        start = time.time() - 10 * REQUESTS
        full = _append(db, frame, "a", REQUESTS, start)
        pruned = PredictionLog(f"sqlite:///{db}").prune(keep_rows=REQUESTS // 2)
        after = _append(db, frame, "b", REQUESTS // 2, start + REQUESTS)
    result = {
        "requests": REQUESTS,
        "bytes": full,
        "bytes_per_request": round(full / REQUESTS),
        "pruned": pruned,
        "bytes_after_prune_and_refill": after,
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "prediction_log_size.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
