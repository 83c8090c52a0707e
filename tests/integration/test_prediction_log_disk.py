"""The prediction log on a full disk and a read-only folder: served anyway, every entry
written or counted dropped, /health degraded while it fails (a real tmpfs, so root only)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopml.serving.app import create_app
from loopml.serving.predlog import PredictionLogWriter
from loopml.tracking.models import load_with_compiled
from tests.integration.conftest import LiveServer, Project

pytestmark = pytest.mark.integration


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs; skipped where it cannot be mounted (not root, no CAP_SYS_ADMIN)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder))
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def _server(breast_cancer: Project, url: str) -> tuple[LiveServer, dict[str, Any]]:
    loaded = load_with_compiled(
        "models:/breast-cancer@champion", tracking_uri=breast_cancer.cfg.tracking.uri
    )
    log = PredictionLogWriter(url, flush_interval=0.2, retry_for=0.5)
    record = dict.fromkeys(loaded.model.feature_names, 1.0)
    return LiveServer(create_app(loaded, prediction_log=log)), {"records": [record]}


def _send(http: httpx.Client, url: str, body: dict[str, Any], count: int) -> None:
    for _ in range(count):
        assert http.post(f"{url}/predict", json=body).status_code == 200


def _settled(http: httpx.Client, url: str, expected: int) -> dict[str, Any]:
    """/health once ``expected`` entries are written or counted dropped (30 s at most)."""
    deadline = time.monotonic() + 30
    while True:
        health: dict[str, Any] = http.get(f"{url}/health").json()
        log = health["prediction_log"]
        if log["written"] + sum(log["dropped"].values()) >= expected:
            return health
        assert time.monotonic() < deadline, health
        time.sleep(0.1)


def _dropped_metric(http: httpx.Client, url: str) -> float:
    lines = http.get(f"{url}/metrics").text.splitlines()
    found = [ln for ln in lines if ln.startswith('loopml_prediction_log_dropped_total{reason="w')]
    return float(found[0].rsplit(" ", 1)[1])


def test_a_full_disk_counts_what_it_drops_and_recovers(
    breast_cancer: Project, small_disk: Path
) -> None:
    server, body = _server(breast_cancer, f"sqlite:///{small_disk / 'log.db'}")
    with server as live, httpx.Client(timeout=10) as http:
        _send(http, live.url, body, 20)
        assert _settled(http, live.url, 20)["prediction_log"]["written"] == 20
        filler = small_disk / "filler"
        # take every free byte, unbuffered so that closing the file has nothing left to flush
        with filler.open("wb", buffering=0) as sink:
            try:
                while sink.write(b"\0" * 65536):
                    pass
            except OSError:
                pass
        _send(http, live.url, body, 200)
        full = _settled(http, live.url, 220)
        filler.unlink()
        _send(http, live.url, body, 10)
        recovered = _settled(http, live.url, 230)
        dropped = _dropped_metric(http, live.url)
    log = full["prediction_log"]
    assert full["status"] == "degraded"
    assert log["dropped"]["write_failed"] > 0 and "full" in log["failing"], log
    assert log["written"] + log["dropped"]["write_failed"] == 220
    assert recovered["prediction_log"]["failing"] is None
    assert recovered["prediction_log"]["written"] + dropped == 230


def test_a_read_only_log_folder_is_served_counted_and_degraded(
    breast_cancer: Project, small_disk: Path
) -> None:
    _mount("-o", "remount,ro", str(small_disk))
    server, body = _server(breast_cancer, f"sqlite:///{small_disk / 'log.db'}")
    with server as live, httpx.Client(timeout=10) as http:
        _send(http, live.url, body, 30)
        read_only = _settled(http, live.url, 30)
        dropped = _dropped_metric(http, live.url)
        _mount("-o", "remount,rw", str(small_disk))
        _send(http, live.url, body, 10)
        writable = _settled(http, live.url, 40)
    log = read_only["prediction_log"]
    assert read_only["status"] == "degraded" and log["failing"], read_only
    assert log["dropped"] == {"queue_full": 0, "write_failed": 30} and dropped == 30
    assert writable["prediction_log"]["written"] == 10
    assert writable["prediction_log"]["failing"] is None
