"""Fixtures shared by every test layer: the shared datasets and project folders."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with the most ``slow`` tests run first, the rest in collection order.

    ``make test`` hands whole files to its two workers in this order
    (``--dist loadfile --no-loadscope-reorder``): the long files start early and the many
    short unit tests fill the end, instead of a two-minute Ray file starting last while
    the other worker idles (xdist's own reorder puts files with many tests first, and so
    the long one-test files last: the last 7% of the suite took 12 of its 20 minutes).
    The order inside a file is kept, so its module fixtures are built once.
    """
    slow: dict[str, int] = {}
    for item in items:
        slow[item.nodeid.split("::")[0]] = slow.get(item.nodeid.split("::")[0], 0) + (
            item.get_closest_marker("slow") is not None
        )
    items.sort(key=lambda item: -slow[item.nodeid.split("::")[0]])  # stable: order kept


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
