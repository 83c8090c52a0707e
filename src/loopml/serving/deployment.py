"""A deployed model version: its engine, input schema and model thread (micro-batcher)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from loopml.config import ServeConfig
from loopml.serving.batching import MicroBatcher
from loopml.serving.engine import Engine, choose_engine, inline_rows, warm_up
from loopml.serving.metrics import Metrics
from loopml.serving.schema import InputSchema
from loopml.tracking.models import LoadedModel


@dataclass
class Deployment:
    role: str  # champion | challenger
    loaded: LoadedModel
    engine: Engine
    note: str  # which engine and why, printed at startup
    schema: InputSchema
    batcher: MicroBatcher
    active: int = 0  # requests holding this deployment

    async def retire(self) -> None:
        """Once no request holds it any more, stop the model thread."""
        while self.active > 0:
            await asyncio.sleep(0.005)
        await self.batcher.stop()

    @property
    def name(self) -> str:
        return self.loaded.model.name or "model"

    @property
    def version(self) -> str:
        return self.loaded.model.version or (self.loaded.model.run_id or "")[:8] or "local"

    @property
    def info(self) -> dict[str, Any]:
        model = self.loaded.model
        return {"name": model.name, "version": model.version, "run_id": model.run_id}

    @property
    def classes(self) -> list[Any]:
        return list(self.loaded.model.classes)

    @property
    def regression(self) -> bool:
        return self.loaded.model.task == "regression"


def deploy(loaded: LoadedModel, role: str, settings: ServeConfig, metrics: Metrics) -> Deployment:
    """Choose the engine, compile the schema, warm up: everything per model, done once."""
    model = loaded.model
    schema = InputSchema.for_model(model, settings.limits.max_rows)  # reads through the contract
    engine, note = choose_engine(loaded, settings.engine)
    warm_up(engine, schema)
    batching = settings.batching
    batcher = MicroBatcher(
        engine,
        max_batch_size=batching.max_batch_size,
        max_wait_ms=batching.max_wait_ms,
        enabled=batching.enabled,
        on_batch=metrics.batch_rows.labels(role).observe,
        inline_rows=inline_rows(engine, schema),
    )
    deployment = Deployment(role, loaded, engine, note, schema, batcher)
    metrics.set_model(role, deployment.name, deployment.version, engine.name)
    return deployment
