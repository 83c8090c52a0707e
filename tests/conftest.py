"""Fixtures shared by every test layer: the shared datasets and project folders."""

from __future__ import annotations

import socket
from collections import Counter
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding tests marked ``slow`` first (most such tests first), then the rest.

    ``make test`` gives each of its 2 workers one file at a time, in this order
    (pytest-xdist's ``--dist loadfile --no-loadscope-reorder``): started last, a file of
    several minutes would leave one worker running it alone at the end."""
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])
