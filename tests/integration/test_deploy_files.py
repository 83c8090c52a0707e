"""Dockerfile, docker-compose.yaml and deploy/prometheus.yml checked without a Docker engine.

Every loopml service's command must be a real `loopml` command taking those options; ports,
volumes, health checks and the Prometheus targets must agree with each other. A command
that another issue has not landed yet is skipped with its name, so the check tightens by
itself when it lands.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.scaleout import CLI, check_loopml_command

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
LOOPML_SERVICES = [name for name, spec in SERVICES.items() if spec.get("build") == "."]


def _option(command: list[str], flag: str) -> str | None:
    return command[command.index(flag) + 1] if flag in command else None


def _published(spec: dict[str, Any]) -> list[int]:
    """Container ports of ``[ip:]host:container`` entries."""
    return [int(str(entry).rsplit(":", 1)[-1]) for entry in spec.get("ports", [])]


_VOLUME = re.compile(r"^(\$\{[^}]*\}|[^:]+):(/[^:]*)(?::(?:ro|rw))?$")


def _volumes(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, container path) of each ``source:/path[:ro]`` entry; a bad entry fails."""
    found = []
    for entry in spec.get("volumes", []):
        match = _VOLUME.match(str(entry))
        assert match, f"volume {entry!r} is not source:/container/path[:ro]"
        found.append((match[1], match[2]))
    return found


def test_compose_has_the_five_services_of_the_deployment() -> None:
    assert set(SERVICES) == {"postgres", "mlflow", "model", "watcher", "prometheus"}
    assert set(LOOPML_SERVICES) == {"mlflow", "model", "watcher"}


@pytest.mark.parametrize("service", LOOPML_SERVICES)
def test_every_loopml_command_exists_with_its_options(service: str) -> None:
    command = [str(part) for part in SERVICES[service]["command"]]
    check_loopml_command(command, f"service '{service}'")


@pytest.mark.parametrize("service", LOOPML_SERVICES)
def test_ports_volumes_and_urls_agree(service: str) -> None:
    spec = SERVICES[service]
    command = [str(part) for part in spec["command"]]
    port = _option(command, "--port")
    assert _published(spec) == ([int(port)] if port else []), "publish exactly the port it binds"
    if port:
        assert _option(command, "--host") == "0.0.0.0", "bind all interfaces inside a container"
    declared = set(COMPOSE["volumes"])
    for source, target in _volumes(spec):
        assert source in declared or source.startswith(("./", "${")), source
        assert target.startswith("/")
    config = _option(command, "--config")
    if config:
        assert any(config.startswith(target + "/") for _, target in _volumes(spec)), config
    for setting in [command[i + 1] for i, part in enumerate(command) if part == "--set"]:
        if match := re.fullmatch(r"tracking\.uri=http://([\w-]+):(\d+)", setting):
            host, target_port = match[1], int(match[2])
            assert host in SERVICES and target_port in _published(SERVICES[host]), setting
            assert host in spec.get("depends_on", {}), f"{service} must wait for {host}"


def test_mlflow_server_stores_in_the_postgres_service() -> None:
    command = [str(part) for part in SERVICES["mlflow"]["command"]]
    store = _option(command, "--backend-store-uri") or ""
    assert re.fullmatch(
        r"postgresql://mlflow:\$\{POSTGRES_PASSWORD:-mlflow\}@postgres:5432/mlflow", store
    )
    postgres = SERVICES["postgres"]
    assert postgres["environment"]["POSTGRES_DB"] == "mlflow"
    assert postgres["environment"]["POSTGRES_USER"] == "mlflow"
    artifacts = _option(command, "--artifacts")
    assert ("artifacts", artifacts) in _volumes(SERVICES["mlflow"])
    allowed = (_option(command, "--allowed-hosts") or "").split(",")
    assert "mlflow:5000" in allowed  # the name the other services use in tracking.uri


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_service_has_a_health_check_or_waits_for_healthy_ones(service: str) -> None:
    spec = SERVICES[service]
    if service != "prometheus":
        assert spec.get("healthcheck", {}).get("test"), f"{service} has no health check"
    for needed in spec.get("depends_on", {}):
        assert needed in SERVICES and SERVICES[needed].get("healthcheck"), needed
    check = " ".join(str(part) for part in spec.get("healthcheck", {}).get("test", []))
    for port in re.findall(r"127\.0\.0\.1:(\d+)/health", check):
        assert int(port) in _published(spec), f"{service} checks port {port} it does not bind"


def test_prometheus_scrapes_the_model_servers_metrics() -> None:
    prometheus = SERVICES["prometheus"]
    config_file = next(src for src, dst in _volumes(prometheus) if dst.endswith("prometheus.yml"))
    config = yaml.safe_load((ROOT / config_file).read_text(encoding="utf-8"))
    jobs = config["scrape_configs"]
    targets = [t for job in jobs for group in job["static_configs"] for t in group["targets"]]
    assert targets == ["model:8000"] and jobs[0]["metrics_path"] == "/metrics"
    host, port = targets[0].split(":")
    assert int(port) in _published(SERVICES[host])
    # That the model server answers GET /metrics is tested on a live server
    # (test_dashboard.py, test_rollback.py), not by reading its source.


def test_dockerfile_is_multi_stage_slim_non_root_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.MULTILINE)
    assert len(stages) >= 2 and all(_image(text, image).endswith("-slim") for image, _ in stages)
    final = text[text.rindex("\nFROM ") :]
    assert "COPY --from=build" in final
    assert re.search(r"^USER\s+loopml$", final, re.MULTILINE)
    assert "useradd --system --uid 10001" in final
    assert re.search(r"^HEALTHCHECK .*\n?.*127\.0\.0\.1:8000/health", final, re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["loopml"\]$', final, re.MULTILINE)
    default = re.search(r"^CMD \[(.*)\]$", final, re.MULTILINE)
    assert default and default[1].split(", ")[0] == '"serve"' and "serve" in CLI.commands
    assert re.search(r"^EXPOSE 8000$", final, re.MULTILINE)
    assert (ROOT / "requirements.lock").is_file()  # what the build stage installs


def _image(dockerfile: str, image: str) -> str:
    """``image`` with the ``${ARG}``s of the Dockerfile's ARG defaults put in."""
    defaults = dict(re.findall(r"^ARG\s+(\w+)=(\S+)$", dockerfile, re.MULTILINE))
    while match := re.search(r"\$\{(\w+)\}", image):
        image = image.replace(match[0], defaults[match[1]])
    return image


def test_named_volumes_of_loopml_services_are_folders_the_image_user_owns() -> None:
    """A named volume starts as a copy of the image's folder, owner included; one the image
    lacks comes up owned by root, and the non-root server cannot write its artifacts."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    final = text[text.rindex("\nFROM ") :]
    owned = {
        path
        for line in re.findall(r"chown loopml:loopml ([^\\\n&]+)", final)
        for path in line.split()
    }
    for service in LOOPML_SERVICES:
        for source, target in _volumes(SERVICES[service]):
            if source in COMPOSE["volumes"]:
                assert target in owned, f"{service}: {target} is not chowned to loopml"


@pytest.mark.parametrize("service", ["model", "watcher"])
def test_services_that_write_the_project_mount_it_writable_as_its_owner(service: str) -> None:
    """They write reports/ and .loopml/ (prediction log, studies) into the project folder."""
    spec = SERVICES[service]
    mounts = [str(entry) for entry in spec["volumes"] if ":/project" in str(entry)]
    assert mounts and not any(entry.endswith(":ro") for entry in mounts), mounts
    assert spec["user"] == "${LOOPML_UID:-10001}:${LOOPML_GID:-10001}"


STANDIN = yaml.safe_load((ROOT / "docker-compose.standin.yaml").read_text(encoding="utf-8"))


def test_the_standin_override_only_swaps_images_and_their_base() -> None:
    """docker-compose.yaml stays the file that runs: the override adds no service, port,
    volume or command; it builds PostgreSQL and Prometheus and sets every build's base."""
    assert set(STANDIN["services"]) == set(SERVICES)
    for name, spec in STANDIN["services"].items():
        assert set(spec) <= {"image", "build"}, f"{name}: the override changes {sorted(spec)}"
        assert spec["build"]["args"] == {"BASE_IMAGE": "${LOOPML_BASE_IMAGE:-python:3.11-slim}"}
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert _image(dockerfile, "${BASE_IMAGE}") == "python:3.11-slim"
    for name in ["postgres", "prometheus"]:
        build = STANDIN["services"][name]["build"]
        standin = (ROOT / build["context"] / build["dockerfile"]).read_text(encoding="utf-8")
        assert _image(standin, "${BASE_IMAGE}") == "python:3.11-slim", name
        assert STANDIN["services"][name]["image"].startswith("loopml-standin/")


def test_the_standins_serve_what_the_compose_file_expects() -> None:
    postgres = (ROOT / "deploy/standin/postgres.Dockerfile").read_text(encoding="utf-8")
    data = next(dst for src, dst in _volumes(SERVICES["postgres"]) if src == "pgdata")
    assert f"PGDATA={data}" in postgres and f"chown postgres:postgres {data}" in postgres
    entry = (ROOT / "deploy/standin/postgres-entrypoint.sh").read_text(encoding="utf-8")
    assert all(key in entry for key in SERVICES["postgres"]["environment"])
    prometheus = (ROOT / "deploy/standin/prometheus.Dockerfile").read_text(encoding="utf-8")
    storage = next(dst for src, dst in _volumes(SERVICES["prometheus"]) if src == "prometheus")
    assert f"--storage.tsdb.path={storage}" in SERVICES["prometheus"]["command"]
    assert f"chown prometheus:prometheus {storage}" in prometheus
