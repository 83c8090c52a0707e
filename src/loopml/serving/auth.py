"""Bearer-token auth: tokens from an environment variable or a file, compared in constant time."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from pathlib import Path

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
