"""Auth with tokens on (a real uvicorn on loopback): model metadata needs the token, every
health path follows ``protect_health``, and the token is checked before the body is read."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from loopml.config import ServeConfig
from loopml.serving.app import create_app
from loopml.serving.auth import TokenCheck
from loopml.serving.predlog import PredictionLogWriter
from loopml.tracking.models import LoadedModel, load_with_compiled
from tests.integration.conftest import LiveServer, Project

pytestmark = pytest.mark.integration

TOKEN = {"authorization": "Bearer s3cret"}
METADATA = ["/openapi.json", "/docs", "/redoc", "/v2/models/breast-cancer"]
HEALTH = [
    "/health", "/ping", "/version", "/live", "/ready", "/v2/health/live", "/v2/health/ready",
    "/v2/models/breast-cancer/ready", "/metrics", "/dashboard", "/dashboard/data",
]  # fmt: skip


@pytest.fixture(scope="module")
def loaded(breast_cancer: Project) -> LoadedModel:
    uri = "models:/breast-cancer@champion"
    return load_with_compiled(uri, tracking_uri=breast_cancer.cfg.tracking.uri)


@pytest.fixture(scope="module")
def project_cfg(breast_cancer: Project, tmp_path_factory: pytest.TempPathFactory) -> Any:
    cfg = breast_cancer.cfg.model_copy(deep=True)
    cfg.serve.prediction_log.url = f"sqlite:///{tmp_path_factory.mktemp('auth') / 'log.db'}"
    cfg.serve.reload_interval = 0
    return cfg


def _server(loaded: LoadedModel, cfg: Any, **auth: bool) -> LiveServer:
    settings: ServeConfig = cfg.serve.model_copy(deep=True)
    for key, value in auth.items():
        setattr(settings.auth, key, value)
    log = PredictionLogWriter(cfg.serve.prediction_log.url, flush_interval=0.2)
    app = create_app(
        loaded, settings, tokens=TokenCheck(["s3cret"]), prediction_log=log, project=cfg
    )
    return LiveServer(app)


@pytest.fixture(scope="module")
def guarded(loaded: LoadedModel, project_cfg: Any) -> Iterator[LiveServer]:
    with _server(loaded, project_cfg) as live:
        yield live


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.request.url, response.text)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "missing or invalid bearer token" in response.text


@pytest.mark.parametrize("path", METADATA)
def test_model_metadata_needs_the_token(guarded: LiveServer, path: str) -> None:
    with httpx.Client(timeout=10) as http:
        refused = http.get(f"{guarded.url}{path}")
        allowed = http.get(f"{guarded.url}{path}", headers=TOKEN)
    _assert_refused(refused)
    assert "breast-cancer" not in refused.text and "mean radius" not in refused.text
    assert allowed.status_code == 200, allowed.text


def test_health_is_open_by_default_except_nothing_else(guarded: LiveServer) -> None:
    with httpx.Client(timeout=10) as http:
        for path in HEALTH:
            assert http.get(f"{guarded.url}{path}").status_code == 200, path
        _assert_refused(http.get(f"{guarded.url}/no-such-page"))


def test_protect_health_covers_every_health_path(loaded: LoadedModel, project_cfg: Any) -> None:
    with _server(loaded, project_cfg, protect_health=True) as live, httpx.Client(timeout=10) as h:
        for path in HEALTH:
            _assert_refused(h.get(f"{live.url}{path}"))
            assert h.get(f"{live.url}{path}", headers=TOKEN).status_code == 200, path


def test_metadata_can_be_opened_explicitly(loaded: LoadedModel, project_cfg: Any) -> None:
    with _server(loaded, project_cfg, open_metadata=True) as live, httpx.Client(timeout=10) as h:
        for path in METADATA:
            assert h.get(f"{live.url}{path}").status_code == 200, path
        _assert_refused(h.post(f"{live.url}/predict", json={"records": [{}]}))


def test_feedback_checks_the_token_before_the_body(guarded: LiveServer) -> None:
    with httpx.Client(timeout=10) as http:
        answer = http.post(f"{guarded.url}/feedback", json={"labels": [{"nope": 1}]})
    _assert_refused(answer)
    assert "labels" not in answer.text and "nope" not in answer.text


@pytest.mark.parametrize("path", ["/predict", "/invocations", "/v2/models/breast-cancer/infer",
                                  "/feedback"])  # fmt: skip
def test_the_token_is_checked_before_the_body_is_read(guarded: LiveServer, path: str) -> None:
    """Headers announcing a 1 MB body, and no body: the 401 comes without waiting for it."""
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=5) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000000\r\n\r\n".encode()
        )
        head = sock.recv(4096).decode("latin-1")  # a timeout here: the server waited
    assert head.startswith("HTTP/1.1 401"), head
    assert "www-authenticate: Bearer" in head.lower().replace("bearer", "Bearer")
