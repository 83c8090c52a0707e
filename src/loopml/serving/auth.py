"""Bearer-token auth: tokens from an environment variable or a file, compared in constant time."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from starlette.types import Receive, Scope, Send

from loopml.config import AuthConfig
from loopml.errors import ConfigError, LoopmlError
from loopml.serving import protocols
from loopml.serving.protocols.base import Access, PathTable


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


class Unauthorized(LoopmlError):
    """A request without a valid bearer token (HTTP 401, ``WWW-Authenticate: Bearer``)."""

    http_status = 401
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}


#: Paths outside the protocols: health (``/metrics``, the dashboard) and metadata (the docs).
OWN_ACCESS: dict[str, Access] = {
    "/metrics": "health",
    "/dashboard": "health",
    "/dashboard/data": "health",
    "/docs": "metadata",
    "/docs/oauth2-redirect": "metadata",
    "/redoc": "metadata",
    "/openapi.json": "metadata",
}


class TokenGuard:
    """The one place for auth. With tokens configured, every request needs one, checked
    before the body is read, except health routes (unless ``protect_health``) and, when
    ``open_metadata``, the OpenAPI document and model metadata. Who may call a route is
    declared by its protocol (``Route.access``) or in ``OWN_ACCESS``. A refusal is a 401
    with ``WWW-Authenticate: Bearer``, its body in the path's protocol's error shape.

    ``ServingApp`` calls ``refuse`` first for every HTTP request.
    """

    def __init__(self, tokens: TokenCheck, cfg: AuthConfig):
        self.tokens, self.cfg = tokens, cfg
        declared = [(r.path, r.access) for p in protocols.REGISTRY for r in p.routes]
        self.access = PathTable([*OWN_ACCESS.items(), *declared])

    def needs_token(self, path: str) -> bool:
        """Whether a request for ``path`` must carry a token."""
        if not self.tokens.enabled:
            return False
        found = self.access.find(path)
        access = "token" if found is None else found[0]
        if access == "health":
            return self.cfg.protect_health
        return not (access == "metadata" and self.cfg.open_metadata)

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer 401 and return True when the request needs a token it does not carry;
        the body is not read."""
        path = scope["path"]
        if not self.needs_token(path):
            return False
        header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if self.tokens.allows(header.decode("latin-1")):
            return False
        answer = protocols.protocol_for(path).error_response(Unauthorized(UNAUTHORIZED))
        await answer(scope, receive, send)
        return True
