"""`loopml serve` as a user runs it: a real subprocess on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 180  # a bound for a busy shared machine, not a timing
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"loopml serve exited with {process.returncode}: {log.read_text()}")
            try:
                return client.get(f"{url}/health")
            except httpx.TransportError:
                time.sleep(0.2)
    pytest.fail(f"loopml serve was not healthy within 180 s: {log.read_text()}")


@contextmanager
def serving(config: Path, log: Path, *settings: str) -> Iterator[Served]:
    """Start `loopml serve --config … --set …`; stop it (if still running) on exit."""
    port = free_port()
    command = [sys.executable, "-m", "loopml.cli", "serve", "--config", str(config)]
    command += ["--port", str(port)]
    for setting in settings:
        command += ["--set", setting]
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=config.parent, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            wait_healthy(url, process, log)
            yield Served(url, process, log)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
