"""Integration fixtures: trained projects (real MLflow on SQLite in tmp) and a real server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from loopml.cli import app
from loopml.config import ProjectConfig, load_config
from loopml.workflows.init import init_project
from tests.conftest import free_port

pytestmark = pytest.mark.integration


@dataclass
class Project:
    folder: Path
    config_path: Path
    run_id: str

    @property
    def cfg(self) -> ProjectConfig:
        return load_config(self.config_path)


def cli(*args: str) -> tuple[int, str, str]:
    """Run the real CLI in-process; return (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def train_cli(config: Path, *extra: str) -> str:
    code, stdout, stderr = cli("run", "--config", str(config), *extra)
    assert code == 0, stderr
    return stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A real PostgreSQL server in a temporary folder, on a free loopback port."""
    from tests.integration.postgres import postgres_cluster

    with postgres_cluster() as url:
        yield url


@pytest.fixture(scope="session")
def breast_cancer(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The bundled example, trained once for the whole session."""
    folder = tmp_path_factory.mktemp("breast_cancer")
    init_project(folder, "breast_cancer")
    config = folder / "loopml.yaml"
    return Project(folder, config, train_cli(config))


class LiveServer:
    """A real uvicorn server in a background thread on a free loopback port."""

    def __init__(self, app_: object):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app_, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start within 30 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client
