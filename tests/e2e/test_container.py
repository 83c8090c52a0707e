"""The Docker image built and run as docker-compose.yaml runs it (`make container-test`).

Opt-in: it needs a Docker engine and takes minutes, so it runs only with
LOOPML_CONTAINER_TESTS=1. LOOPML_BASE_IMAGE replaces python:3.11-slim (a mirror, or a
stand-in where the engine cannot pull). PostgreSQL is a real cluster on loopback, as for
the other scale-out tests, and every container uses the host's network, so all traffic stays
on 127.0.0.1: `loopml server` on PostgreSQL with artifacts in a named volume, `loopml run`
in a container registering into it, `loopml serve` turning healthy and answering, and
`loopml watch` running beside it, each as the compose services do (same commands, mounts and
user).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.containers import check_served, healthy, wait_until
from tests.integration.postgres import postgres_cluster

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("LOOPML_CONTAINER_TESTS") != "1",
        reason="builds and runs the Docker image: LOOPML_CONTAINER_TESTS=1 (make container-test)",
    ),
]


def _docker(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"docker {' '.join(args[:3])}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("docker") is None or subprocess.run(["docker", "info"]).returncode:
        pytest.fail("LOOPML_CONTAINER_TESTS=1 but no Docker engine answers `docker info`")
    tag = "loopml:container-test"
    base = os.environ.get("LOOPML_BASE_IMAGE")
    args = ["--build-arg", f"BASE_IMAGE={base}"] if base else []
    _docker("build", "--network", "host", *args, "-t", tag, str(ROOT), timeout=1500)
    return tag


@pytest.fixture()
def containers() -> Iterator[list[str]]:
    """Names of the containers a test starts; all removed at the end, with their volume."""
    started: list[str] = []
    yield started
    for name in started:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
    subprocess.run(["docker", "volume", "rm", "-f", *started], capture_output=True, timeout=60)


def _start(containers: list[str], image: str, *args: str) -> str:
    name = f"loopml-test-{uuid.uuid4().hex[:8]}"
    containers.append(name)
    _docker("run", "-d", "--name", name, "--network", "host", *args[:-1], image, *args[-1].split())
    return name


def _running(name: str) -> bool:
    return bool(json.loads(_docker("inspect", "--format", "{{json .State}}", name))["Running"])


@pytest.mark.timeout(2400)
def test_the_compose_services_run_from_the_image(
    image: str, containers: list[str], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    tmp_path.chmod(0o777)
    owner = f"{os.getuid()}:{os.getgid()}"
    _docker("run", "--rm", "--user", owner, "-v", f"{tmp_path}:/work", "-w", "/work",
            "--entrypoint", "loopml", image, "init", "project")  # fmt: skip
    with postgres_cluster() as store:
        server_port, model_port = free_port(), free_port()
        tracking = f"http://127.0.0.1:{server_port}"
        volume = f"loopml-test-{uuid.uuid4().hex[:8]}"
        containers.append(volume)
        server = _start(
            containers, image, "-v", f"{volume}:/artifacts",
            f"server --backend-store-uri {store} --artifacts /artifacts --host 127.0.0.1 "
            f"--port {server_port} --allowed-hosts 127.0.0.1:{server_port}",
        )  # fmt: skip
        wait_until(lambda: healthy(f"{tracking}/health"), f"{server} answered /health")

        mounts = ["--user", owner, "-v", f"{project}:/project"]
        settings = f"--config /project/loopml.yaml --set tracking.uri={tracking}"
        trained = subprocess.run(
            ["docker", "run", "--rm", "--network", "host", *mounts, image,
             *f"run {settings}".split()],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert trained.returncode == 0, trained.stderr[-3000:]
        assert "is now the champion" in trained.stderr
        assert list((project / "reports").glob("evaluation-*.html"))

        model = _start(
            containers, image, *mounts,
            f"serve {settings} --host 127.0.0.1 --port {model_port}",
        )  # fmt: skip
        watcher = _start(containers, image, *mounts, f"watch --every 10m {settings}")
        served = f"http://127.0.0.1:{model_port}"
        wait_until(lambda: healthy(f"{served}/health"), f"{model} answered /health")
        # The image's own HEALTHCHECK command, run in the container against this port.
        check = json.loads(_docker("inspect", "--format", "{{json .Config.Healthcheck}}", model))
        probe = [part.replace(":8000/", f":{model_port}/") for part in check["Test"][1:]]
        _docker("exec", model, *probe)
        check_served(served, project)
        assert (project / ".loopml" / "predictions.db").is_file()  # the server's log
        logs = subprocess.run(
            ["docker", "logs", watcher], capture_output=True, text=True, timeout=30
        )
        assert _running(watcher), logs.stdout + logs.stderr
        assert "Watching" in logs.stdout + logs.stderr
