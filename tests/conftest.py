"""Fixtures shared by every test layer: the shared datasets and project folders."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_file(name: str) -> Path:
    """A file from ../shared/data, or a skip with the reason when it is absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: these tests need the shared datasets beside the project")
    return path


class Recorder:
    """A workflow reporter that keeps its stages and warnings, for tests to read."""

    def __init__(self) -> None:
        self.stages: list[str] = []
        self.warnings: list[str] = []

    def stage(self, message: str) -> None:
        self.stages.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def progress(self, task: str, done: int, total: int) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_project(folder: Path, body: dict[str, Any]) -> Path:
    """Write loopml.yaml into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "loopml.yaml"
    config.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return config
