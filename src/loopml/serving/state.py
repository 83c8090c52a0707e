"""What one server holds while it runs: settings, metrics, tokens, the deployments."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from loopml.config import ServeConfig
from loopml.serving.auth import TokenCheck
from loopml.serving.deployment import Deployment
from loopml.serving.metrics import Metrics
from loopml.serving.predlog import PredictionLogWriter
from loopml.serving.reload import ModelSource


@dataclass
class ServingState:
    settings: ServeConfig
    metrics: Metrics
    tokens: TokenCheck
    champion: Deployment
    challenger: Deployment | None = None
    prediction_log: PredictionLogWriter | None = None
    source: ModelSource | None = None
    ready: bool = False
    rng: random.Random = field(default_factory=random.Random)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    problems: dict[str, str] = field(default_factory=dict)  # role -> what is wrong (reload)
    jobs: list[Callable[[], Coroutine[Any, Any, None]]] = field(
        default_factory=list
    )  # run while serving

    @property
    def status(self) -> str:
        """ok, degraded (serving, but something needs a human) or loading."""
        if not self.ready:
            return "loading"
        return "degraded" if self.problems else "ok"

    def route(self) -> tuple[Deployment, str]:
        """The deployment answering this request, and its role in the log."""
        rollout = self.settings.rollout
        if (
            self.challenger is not None
            and rollout.mode == "canary"
            and self.rng.random() < rollout.canary_share
        ):
            return self.challenger, "canary"
        return self.champion, "champion"

    def notes(self) -> list[str]:
        lines = [f"{d.role} {d.name} v{d.version}: {d.note}" for d in self._deployments()]
        return lines

    def _deployments(self) -> list[Deployment]:
        return [d for d in (self.champion, self.challenger) if d is not None]
