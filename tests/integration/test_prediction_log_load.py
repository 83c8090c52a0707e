"""The prediction log under load and faults, on a real `loopml serve` (SQLite and PostgreSQL).

- kill -9 under 64 clients: every request answered more than one flush interval before the
  kill is in the log; on SQLite after a minute of that load, through which the server's
  resident memory grows by less than 50 MB;
- a locked database: every answered request is written (retried) or counted as dropped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.integration.conftest import Project
from tests.integration.postgres import fresh_database
from tests.integration.served import serving

pytestmark = pytest.mark.integration

FLUSH_S = 0.5
CLIENTS = 64
LONG_LOAD_S = 60.0  # the SQLite run: memory over a minute of load, then the kill
WARM_S = 5.0  # memory is compared with what the server held after this much load
MAX_GROWTH_MB = 50.0
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def body(breast_cancer: Project) -> bytes:
    frame = pd.read_csv(breast_cancer.folder / "data" / "score_me.csv").head(1)
    target = breast_cancer.cfg.data.target
    records = frame.drop(columns=[target], errors="ignore").to_dict(orient="records")
    return httpx.Request("POST", "/", json={"records": records}).content


async def _load(url: str, body: bytes, seconds: float, answered: list[tuple[float, str]]) -> None:
    """CLIENTS clients posting /predict back to back for ``seconds`` (or until refused)."""
    import aiohttp

    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    timeout = aiohttp.ClientTimeout(total=10)

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop:
            try:
                async with session.post(f"{url}/predict", data=body, headers=JSON) as response:
                    found = await response.read()
            except (aiohttp.ClientError, TimeoutError):
                return  # the server is gone
            if response.status == 200:
                answered.append((time.monotonic(), orjson.loads(found)["request_id"]))

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))


def _kill_under_load(
    project: Project, tmp_path: Path, url: str, body: bytes, seconds: float = 4.0
) -> tuple[list[tuple[float, str]], float, list[tuple[float, float]]]:
    """Serve, load with CLIENTS clients, kill -9 after ``seconds`` of load; the answers,
    when the kill came, and the server's RSS (MB) sampled every half second of the load."""
    answered: list[tuple[float, str]] = []
    memory: list[tuple[float, float]] = []
    settings = (
        f"serve.prediction_log.url={url}",
        f"serve.prediction_log.flush_interval={FLUSH_S}",
        "serve.reload_interval=0",
    )
    with serving(project.config_path, tmp_path / "serve.log", *settings) as served:

        async def run() -> float:
            started = time.monotonic()
            load = asyncio.create_task(_load(served.url, body, seconds + 20.0, answered))
            while time.monotonic() - started < seconds:
                await asyncio.sleep(0.5)
                memory.append((time.monotonic() - started, _rss_mb(served.process.pid)))
            killed_at = time.monotonic()
            os.kill(served.process.pid, signal.SIGKILL)
            await asyncio.wait_for(load, 30)
            return killed_at

        killed_at = asyncio.run(run())
        assert served.process.wait(timeout=10) == -signal.SIGKILL
    return answered, killed_at, memory


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def _logged_ids(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT request_id FROM loopml_predictions"))
            return {row[0] for row in found}
    finally:
        engine.dispose()


def _assert_kept_all_but_the_last_interval(
    answered: list[tuple[float, str]], killed_at: float, logged: set[str]
) -> None:
    settled = [rid for at, rid in answered if at < killed_at - FLUSH_S]
    assert len(answered) > CLIENTS, "the load never got going"
    missing = [rid for rid in settled if rid not in logged]
    assert not missing, f"{len(missing)} of {len(settled)} settled answers not in the log"


@pytest.mark.slow
def test_a_minute_of_load_keeps_memory_flat_then_a_kill_loses_at_most_the_last_interval_sqlite(
    breast_cancer: Project, body: bytes, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    answered, killed_at, memory = _kill_under_load(breast_cancer, tmp_path, url, body, LONG_LOAD_S)
    warm = next(mb for at, mb in memory if at >= WARM_S)
    peak = max(mb for at, mb in memory if at >= WARM_S)
    assert peak - warm < MAX_GROWTH_MB, (
        f"RSS grew {peak - warm:.0f} MB under load ({warm:.0f} -> {peak:.0f} MB): {memory}"
    )
    _assert_kept_all_but_the_last_interval(answered, killed_at, _logged_ids(url))


def test_kill_under_load_loses_at_most_the_last_interval_postgresql(
    breast_cancer: Project, body: bytes, tmp_path: Path, postgres: str
) -> None:
    url = fresh_database(postgres, "killtest")
    answered, killed_at, _ = _kill_under_load(breast_cancer, tmp_path, url, body)
    _assert_kept_all_but_the_last_interval(answered, killed_at, _logged_ids(url))


def _dropped(metrics: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("loopml_prediction_log_dropped_total{"):
            labels, value = line.rsplit(" ", 1)
            found[labels.split('reason="')[1].split('"')[0]] = float(value)
    return found


def _answer(http: httpx.Client, url: str, body: bytes, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        answer = http.post(f"{url}/predict", content=body, headers=JSON)
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["request_id"])
    return ids


def _settle(http: httpx.Client, url: str, expected: int) -> dict[str, Any]:
    """/health once every entry is written or counted dropped (or after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        health = http.get(f"{url}/health").json()
        log = health["prediction_log"]
        if log["written"] + sum(log["dropped"].values()) >= expected:
            return dict(health)
        if time.monotonic() > deadline:
            pytest.fail(f"neither written nor dropped after 30 s: {health}")
        time.sleep(0.1)


def test_a_locked_database_is_retried_then_counted_never_neither(
    breast_cancer: Project, body: bytes, tmp_path: Path
) -> None:
    """Locked shorter than the retries: all written. Locked longer: the rest counted dropped."""
    db = tmp_path / "log.db"
    url = f"sqlite:///{db}"
    settings = (
        f"serve.prediction_log.url={url}",
        "serve.prediction_log.flush_interval=0.2",
        "serve.prediction_log.retry_for=2",
        "serve.reload_interval=0",
    )
    with (
        serving(breast_cancer.config_path, tmp_path / "serve.log", *settings) as served,
        httpx.Client(timeout=10) as http,
    ):
        with _locked(db):  # shorter than the retries
            first = _answer(http, served.url, body, 100)
            time.sleep(1.0)
            during = http.get(f"{served.url}/health").json()
        settled = _settle(http, served.url, 100)
        assert during["status"] == "degraded", during
        assert "locked" in during["prediction_log"]["failing"], during
        assert set(first) <= _logged_ids(url)
        assert settled["status"] == "ok" and settled["prediction_log"]["failing"] is None
        assert _dropped(http.get(f"{served.url}/metrics").text) == {
            "queue_full": 0,
            "write_failed": 0,
        }

        with _locked(db):  # longer than the retries
            second = _answer(http, served.url, body, 100)
            time.sleep(4.0)
        settled = _settle(http, served.url, 200)
        dropped = _dropped(http.get(f"{served.url}/metrics").text)
    written = len(set(second) & _logged_ids(url))
    assert dropped["write_failed"] > 0
    assert written + dropped["write_failed"] + dropped["queue_full"] == 100
    assert settled["status"] == "degraded", settled  # it dropped rows a moment ago
    assert settled["prediction_log"]["dropped"]["write_failed"] == dropped["write_failed"]
    server_log = (tmp_path / "serve.log").read_text()
    assert "write_failed" in server_log and "locked" in server_log, server_log


@contextmanager
def _locked(db: Path) -> Iterator[None]:
    """Another connection holds the SQLite file's write lock: every other writer waits."""
    locker = sqlite3.connect(db, timeout=10)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        locker.rollback()
        locker.close()
