"""A deployed model version: its engine, input schema and model thread (micro-batcher)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from loopml.config import ServeConfig
from loopml.core.compile import FeatureGraph, compile_features
from loopml.serving.batching import MicroBatcher
from loopml.serving.engine import Engine, choose_engine, inline_rows, warm_up
from loopml.serving.metrics import Metrics
from loopml.serving.schema import InputSchema
from loopml.tracking.models import LoadedModel

log = logging.getLogger(__name__)


@dataclass
class Deployment:
    role: str  # champion | challenger
    loaded: LoadedModel
    engine: Engine
    note: str  # which engine and why, printed at startup
    schema: InputSchema
    batcher: MicroBatcher
    active: int = 0  # requests holding this deployment
    features_note: str = ""  # how /explain preprocesses rows, once it has been asked
    _features: FeatureGraph | None = field(default=None, repr=False)
    # explanations run here, not in the model thread: one slow (or timed-out) /explain
    # must not hold up the predictions queued behind it
    explain_thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="loopml-explain"),
        repr=False,
    )

    def feature_graph(self) -> FeatureGraph | None:
        """The ONNX form of the model's preprocessing for ``/explain``, made on the first
        explanation (in the model thread) and checked against scikit-learn on the model's
        background rows; None, with the reason logged once, where it cannot be used (the
        native engine, the permutation explainer, no background rows, a difference): then
        scikit-learn preprocesses, the same values ~2 ms a row slower."""
        if self.features_note:
            return self._features
        model = self.loaded.model
        explainer = model.explainer()
        if self.engine.name != "onnx":
            self.features_note = "scikit-learn preprocesses: the native engine serves"
        elif explainer.preprocess is None or model.background is None:
            self.features_note = "scikit-learn preprocesses: no exact explainer or background"
        else:
            self._features, why = compile_features(
                explainer.preprocess, list(model.columns), model.background
            )
            self.features_note = why
            if self._features is None:
                log.warning("/explain preprocesses with scikit-learn (slower): %s", why)
        return self._features

    async def retire(self) -> None:
        """Once no request holds it any more, stop the model thread."""
        while self.active > 0:
            await asyncio.sleep(0.005)
        await self.batcher.stop()
        self.explain_thread.shutdown(wait=False, cancel_futures=True)

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
        max_wait=batching.max_wait,
        enabled=batching.enabled,
        on_batch=metrics.batch_rows.labels(role).observe,
        inline_rows=inline_rows(engine, schema),
    )
    deployment = Deployment(role, loaded, engine, note, schema, batcher)
    metrics.set_model(role, deployment.name, deployment.version, engine.name)
    return deployment
