"""Bearer-token auth: tokens from an environment variable or a file, compared in constant time."""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Mapping
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from loopml.config import AuthConfig
from loopml.errors import ConfigError


class TokenCheck:
    """Accepts ``Authorization: Bearer <token>`` for any configured token; off when none."""

    def __init__(self, tokens: list[str]):
        self._tokens = [t.encode() for t in tokens]

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def allows(self, header: str | None) -> bool:
        if not self._tokens:
            return True
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        candidate = given.strip().encode()
        matched = False
        for token in self._tokens:  # compare with every token: time does not tell which
            matched |= hmac.compare_digest(candidate, token)
        return matched


def load_tokens(
    cfg: AuthConfig, root: Path, environ: Mapping[str, str] | None = None
) -> TokenCheck:
    """The tokens of ``serve.auth``; a named source that is missing or empty is an error."""
    environ = os.environ if environ is None else environ
    tokens: list[str] = []
    if cfg.token_env:
        value = environ.get(cfg.token_env, "")
        tokens += [t.strip() for t in value.split(",") if t.strip()]
        if not tokens:
            raise ConfigError(
                f"serve.auth.token_env: environment variable {cfg.token_env} is unset or empty; "
                "export it with one or more comma-separated tokens"
            )
    if cfg.token_file:
        path = Path(cfg.token_file)
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise ConfigError(
                f"serve.auth.token_file: {path} does not exist; create it, one token a line"
            )
        from_file = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        from_file = [t for t in from_file if t and not t.startswith("#")]
        if not from_file:
            raise ConfigError(f"serve.auth.token_file: {path} holds no token")
        tokens += from_file
    return TokenCheck(tokens)


UNAUTHORIZED = "missing or invalid bearer token"
HEALTH_PATHS = frozenset(
    {"/health", "/ping", "/version", "/live", "/ready", "/v2/health/live", "/v2/health/ready",
     "/metrics", "/dashboard", "/dashboard/data"}
)  # fmt: skip
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def is_health(path: str) -> bool:
    """Health, readiness, metrics and the dashboard (open unless ``auth.protect_health``)."""
    return path in HEALTH_PATHS or (path.startswith("/v2/models/") and path.endswith("/ready"))


def is_metadata(path: str) -> bool:
    """What describes the model: the OpenAPI document, its pages, OIP model metadata."""
    return path in DOCS_PATHS or (path.startswith("/v2/models/") and path.count("/") == 3)


def unauthorized_body(path: str) -> bytes:
    """The 401 body, in the shape of the path's protocol (MLflow, Open Inference, loopml)."""
    if path == "/invocations":
        return json.dumps({"error_code": "UNAUTHENTICATED", "message": UNAUTHORIZED}).encode()
    if path.startswith("/v2/"):
        return json.dumps({"error": UNAUTHORIZED}).encode()
    return json.dumps({"detail": UNAUTHORIZED}).encode()


class TokenGuard:
    """With tokens configured, every path needs one, checked before the body is read,
    except health paths (unless ``protect_health``) and, when ``open_metadata``, the
    OpenAPI document and model metadata. One place for auth; one 401 answer."""

    def __init__(self, tokens: TokenCheck, cfg: AuthConfig):
        self.tokens, self.cfg = tokens, cfg

    def needs_token(self, path: str) -> bool:
        if not self.tokens.enabled:
            return False
        if is_health(path):
            return self.cfg.protect_health
        return not (self.cfg.open_metadata and is_metadata(path))

    async def refuse(self, scope: Scope, send: Send) -> bool:
        """Answer 401 and return True when the request needs a token it does not carry;
        the body is not read. (``ServingApp`` calls this for the prediction endpoints it
        answers before FastAPI's middleware stack.)"""
        if not self.needs_token(scope["path"]):
            return False
        header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if self.tokens.allows(header.decode("latin-1")):
            return False
        body = unauthorized_body(scope["path"])
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True


class RequireToken:
    """ASGI middleware: ``TokenGuard`` before every HTTP request."""

    def __init__(self, app: ASGIApp, guard: TokenGuard):
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and await self.guard.refuse(scope, send):
            return
        await self.app(scope, receive, send)
