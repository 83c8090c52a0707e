"""`docker compose up` of the whole stack in docker-compose.yaml, as the README says to run it
(`make compose-test`).

Opt-in: it needs a Docker engine with `docker compose` and takes minutes, so it runs only
with LOOPML_COMPOSE_TESTS=1. LOOPML_STANDINS=1 adds docker-compose.standin.yaml, which builds
PostgreSQL and Prometheus from the Debian packages of the loopml image's base instead of
pulling postgres:16 and prom/prometheus; LOOPML_BASE_IMAGE then replaces python:3.11-slim
for all three builds. The five services run on compose's own network under a project name of
their own, publishing the ports of docker-compose.yaml (5000, 8000, 9090) on 127.0.0.1:
the tracking server stores in PostgreSQL, `loopml run` in a container registers a model,
the model server answers /invocations and /metrics, Prometheus scrapes it, the watcher runs,
and `docker compose down` keeps the data in the named volumes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.containers import check_served, healthy, wait_until
from tests.integration.conftest import cli

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["postgres", "mlflow", "model", "watcher", "prometheus"]
PORTS = {"mlflow": 5000, "model": 8000, "prometheus": 9090}
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("LOOPML_COMPOSE_TESTS") != "1",
        reason="runs docker compose up of the five services: LOOPML_COMPOSE_TESTS=1 "
        "(make compose-test; needs a Docker engine)",
    ),
]


class Stack:
    """`docker compose` with the repository's files, one project name and its environment."""

    def __init__(self, project: Path) -> None:
        self.name = f"loopml-test-{uuid.uuid4().hex[:8]}"
        files = ["docker-compose.yaml"]
        if os.environ.get("LOOPML_STANDINS") == "1":
            files.append("docker-compose.standin.yaml")
        self.files = [arg for file in files for arg in ("-f", file)]
        self.env = {
            **os.environ,
            "LOOPML_PROJECT": str(project),
            "LOOPML_UID": str(os.getuid()),
            "LOOPML_GID": str(os.getgid()),
            "POSTGRES_PASSWORD": secrets.token_hex(12),
        }

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["docker", "compose", "-p", self.name, *self.files, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"docker compose {' '.join(args)}:\n{done.stderr[-4000:]}"
        return done

    def states(self) -> dict[str, dict[str, str]]:
        """Service name -> State and Health of its container, as `docker compose ps` says."""
        lines = self("ps", "--all", "--format", "json").stdout.splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        return {row["Service"]: row for row in rows}

    def volumes(self) -> set[str]:
        listed = subprocess.run(
            ["docker", "volume", "ls", "--format", "{{.Name}}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        prefix = f"{self.name}_"
        return {name[len(prefix) :] for name in listed.stdout.split() if name.startswith(prefix)}


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[Stack]:
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "info"], capture_output=True).returncode
    ):
        pytest.fail("LOOPML_COMPOSE_TESTS=1 but no Docker engine answers `docker info`")
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode:
        pytest.fail("LOOPML_COMPOSE_TESTS=1 but `docker compose` is missing (the compose plugin)")
    busy = [port for port in PORTS.values() if _answers(port)]
    assert not busy, f"ports {busy} of docker-compose.yaml are taken on 127.0.0.1; free them"
    code, _, stderr = cli("init", str(tmp_path / "project"), "--example", "wine")
    assert code == 0, stderr
    compose = Stack(tmp_path / "project")
    try:
        yield compose
    finally:
        if os.environ.get("LOOPML_KEEP_STACK") != "1":
            subprocess.run(
                ["docker", "compose", "-p", compose.name, *compose.files, "down", "-v"],
                cwd=ROOT,
                env=compose.env,
                capture_output=True,
                timeout=300,
            )


@pytest.mark.timeout(3600)
def test_the_five_services_come_up_serve_a_model_and_keep_their_data(
    stack: Stack, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    stack("build", timeout=2400)
    stack("up", "-d", "--wait", "--wait-timeout", "300", "mlflow", timeout=400)
    tracking = f"http://127.0.0.1:{PORTS['mlflow']}/health"
    wait_until(lambda: healthy(tracking), "the tracking server answered on 127.0.0.1:5000", 120)

    trained = stack(
        "run", "--rm", "model", "run", "--config", "/project/loopml.yaml",
        "--set", "tracking.uri=http://mlflow:5000", timeout=900,
    )  # fmt: skip
    said = trained.stdout + trained.stderr
    assert "Registered wine version 1" in said, said[-3000:]
    assert list((project / "reports").glob("evaluation-wine-v1.html"))
    assert _psql(stack, "SELECT name FROM registered_models") == ["wine"]  # MLflow's tables

    stack("up", "-d", "--wait", "--wait-timeout", "300", timeout=400)
    states = stack.states()
    assert sorted(states) == sorted(SERVICES)
    for service in ["postgres", "mlflow", "model", "watcher"]:
        assert states[service]["Health"] == "healthy", (service, states[service])
    assert states["prometheus"]["State"] == "running", states["prometheus"]

    served = f"http://127.0.0.1:{PORTS['model']}"
    check_served(served, project)

    targets = f"http://127.0.0.1:{PORTS['prometheus']}/api/v1/targets"
    wait_until(lambda: _target_health(targets) == "up", "Prometheus scraped model:8000", 120)
    watcher = stack("logs", "watcher").stdout
    assert "Watching" in watcher, watcher[-3000:]

    stack("down", timeout=300)
    assert stack.states() == {}
    assert {"pgdata", "artifacts", "prometheus"} <= stack.volumes()
    stack("up", "-d", "--wait", "--wait-timeout", "300", "mlflow", timeout=400)
    assert _psql(stack, "SELECT name FROM registered_models") == ["wine"]  # kept in pgdata
    listed = stack("exec", "-T", "mlflow", "find", "/artifacts", "-name", "MLmodel").stdout
    assert listed.split(), "the artifacts volume lost the model"


def _psql(stack: Stack, query: str) -> list[str]:
    done = stack("exec", "-T", "postgres", "psql", "-U", "mlflow", "-d", "mlflow", "-tAc", query)
    return done.stdout.split()


def _target_health(url: str) -> str | None:
    try:
        active = httpx.get(url, timeout=5).json()["data"]["activeTargets"]
    except (httpx.TransportError, ValueError, KeyError):
        return None
    found = [t for t in active if t["labels"].get("instance") == "model:8000"]
    return found[0]["health"] if found else None


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
