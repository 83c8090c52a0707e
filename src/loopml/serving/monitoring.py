"""What the server adds for monitoring: counters, the prediction log, feedback, dashboard.

``add_monitoring(app, model, cfg)`` installs, on an app from ``create_app``:

- ``ServerStats``: Prometheus counters in the app's own registry (requests and latency by
  endpoint and status, predicted rows, abstentions, model info), exported at ``/metrics``
  unless the app already has that route;
- a ``Recorder`` the /predict handler calls once per request: it counts rows and
  abstentions and queues the rows for the prediction log (written off the hot path);
- ``POST /feedback``: true labels joined to logged predictions by request id;
- ``/dashboard`` (see ``loopml.serving.dashboard``).

Without a project config (``cfg=None``) nothing is logged and the dashboard shows the
server's counters only.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from loopml.config import ProjectConfig
from loopml.core.scoring import ScoringModel
from loopml.serving import dashboard
from loopml.tracking.prediction_log import Label, LoggedRow, PredictionLog, PredictionLogWriter
from loopml.workflows.monitor import log_path

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_LABELS = 10_000
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class ServerStats:
    """The server's counters, in a registry of its own (several apps may share a process)."""

    def __init__(self, model: ScoringModel):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "loopml_requests",
            "HTTP requests by endpoint and status.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "loopml_request_latency_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter("loopml_predicted_rows", "Rows predicted.", registry=self.registry)
        self.abstentions = Counter(
            "loopml_abstentions", "Rows the model abstained on.", registry=self.registry
        )
        self.model = Info("loopml_model", "The model being served.", registry=self.registry)
        self.model.info({"name": model.name or "", "version": model.version or ""})

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """Sum of the samples called ``name`` whose labels include ``labels``."""
        total = 0.0
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in (labels or {}).items()
                ):
                    total += sample.value
        return total

    def latency_buckets(self, endpoint: str) -> list[tuple[float, float]]:
        """Cumulative (upper bound, count) pairs of one endpoint's latency histogram."""
        pairs = []
        for family in self.registry.collect():
            for sample in family.samples:
                if (
                    sample.name == "loopml_request_latency_seconds_bucket"
                    and sample.labels.get("endpoint") == endpoint
                ):
                    pairs.append((float(sample.labels["le"]), sample.value))
        return sorted(pairs)


class CountingMiddleware:
    """Counts every HTTP request and its latency by endpoint and status (pure ASGI)."""

    def __init__(
        self,
        app: Callable[[Scope, Any, Any], Awaitable[None]],
        stats: ServerStats,
        endpoints: Callable[[], set[str]],
    ):
        self.app, self.stats, self.endpoints = app, stats, endpoints

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            path = scope.get("path", "")
            endpoint = path if path in self.endpoints() else "other"
            self.stats.requests.labels(endpoint, str(status)).inc()
            self.stats.latency.labels(endpoint).observe(time.perf_counter() - started)


@dataclass
class Recorder:
    """Called by /predict once per request: counts rows and queues them for the log."""

    model: ScoringModel
    stats: ServerStats
    writer: PredictionLogWriter | None

    def record(
        self,
        request_id: str,
        rows: list[dict[str, Any]],
        predictions: list[Any],
        probabilities: list[dict[str, float]] | None,
        started: float,
    ) -> None:
        abstained = sum(1 for p in predictions if p is None or p != p)
        self.stats.rows.inc(len(rows))
        if abstained:
            self.stats.abstentions.inc(abstained)
        if self.writer is None:
            return
        latency_ms = (time.perf_counter() - started) * 1000
        now, m = time.time(), self.model
        self.writer.submit(
            [
                LoggedRow(
                    request_id,
                    i,
                    now,
                    m.name,
                    m.version,
                    m.run_id,
                    row,
                    predictions[i],
                    probabilities[i] if probabilities else None,
                    latency_ms,
                )
                for i, row in enumerate(rows)
            ]
        )


class FeedbackLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(..., min_length=1, description="The request_id /predict returned.")
    row: int = Field(0, ge=0, description="Position of the record in that request.")
    label: StrictStr | StrictInt | StrictFloat | StrictBool = Field(..., description="True label.")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[FeedbackLabel] = Field(..., min_length=1, max_length=MAX_LABELS)


class FeedbackResponse(BaseModel):
    received: int
    matched: int = Field(description="Labels whose request_id and row are in the log.")


def add_monitoring(app: FastAPI, model: ScoringModel, cfg: ProjectConfig | None) -> Recorder:
    """Install counters, /metrics, /feedback, /dashboard and the prediction log on ``app``."""
    stats = ServerStats(model)
    log = PredictionLog(log_path(cfg)) if cfg is not None else None
    writer = PredictionLogWriter(log) if log is not None else None
    app.add_middleware(CountingMiddleware, stats=stats, endpoints=lambda: _paths(app))
    if "/metrics" not in _paths(app):
        _add_metrics(app, stats)
    if log is not None and writer is not None:
        _add_feedback(app, log, writer)
        _close_on_shutdown(app, writer)
    dashboard.add_dashboard(app, model, stats, cfg)
    return Recorder(model, stats, writer)


def _paths(app: FastAPI) -> set[str]:
    return {getattr(route, "path", "") for route in app.router.routes}


def _add_metrics(app: FastAPI, stats: ServerStats) -> None:
    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(stats.registry), media_type=CONTENT_TYPE_LATEST)


def _add_feedback(app: FastAPI, log: PredictionLog, writer: PredictionLogWriter) -> None:
    @app.post("/feedback", response_model=FeedbackResponse)
    def feedback(body: FeedbackRequest) -> FeedbackResponse:
        """True labels for earlier predictions, joined to them by request id (and row)."""
        writer.flush()  # a label sent right after its prediction finds it in the log
        labels = [Label(item.request_id, item.label, item.row) for item in body.labels]
        result = log.add_feedback(labels)
        return FeedbackResponse(received=result.received, matched=result.matched)


def _close_on_shutdown(app: FastAPI, writer: PredictionLogWriter) -> None:
    """Flush the prediction log when the server stops, after the app's own shutdown."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        try:
            async with inner(application) as state:
                yield state
        finally:
            writer.close()

    app.router.lifespan_context = lifespan
