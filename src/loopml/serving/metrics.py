"""Prometheus metrics of one server: requests, latency, batches, abstentions, model info.

With ``--workers N`` every worker process counts in files under ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multiprocess mode, set up by ``serving.runner``), and ``/metrics``
answered by any worker reports the sum over all of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 10000)


class Metrics:
    """One registry per app, so several apps (tests, reloads) never collide."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self._models: dict[str, tuple[str, str, str, str]] = {}
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "loopml_requests_total",
            "HTTP requests by endpoint and status.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "loopml_request_seconds",
            "Request latency by endpoint and status.",
            ["endpoint", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "loopml_batch_rows",
            "Rows scored per model call (micro-batching).",
            ["role"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.abstentions = Counter(
            "loopml_abstentions_total",
            "Rows the model abstained on.",
            ["role"],
            registry=self.registry,
        )
        self.predictions = Counter(
            "loopml_predictions_total", "Rows scored.", ["role", "version"], registry=self.registry
        )
        self.in_flight = Gauge(
            "loopml_in_flight_requests",
            "Requests being handled.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.model_info = Gauge(
            "loopml_model_info",
            "The model versions served (value 1), by role and engine.",
            ["role", "name", "version", "engine"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.log_dropped = Counter(
            "loopml_prediction_log_dropped_total",
            "Prediction log entries not written, by reason (queue_full, write_failed).",
            ["reason"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "loopml_reloads_total",
            "Hot reloads of a model, by outcome.",
            ["outcome"],
            registry=self.registry,
        )

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        children = self._children.get((endpoint, status))
        if children is None:  # labels() once per endpoint and status, not per request
            code = str(status)
            children = self.requests.labels(endpoint, code), self.latency.labels(endpoint, code)
            self._children[(endpoint, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def set_model(self, role: str, name: str, version: str, engine: str) -> None:
        previous = self._models.get(role)
        if previous is not None:
            self.model_info.labels(*previous).set(0)  # a worker's file keeps old labels: 0
            self.model_info.remove(*previous)
        self._models[role] = (role, name, version, engine)
        self.model_info.labels(role, name, version, engine).set(1)

    @property
    def multiprocess(self) -> bool:
        return bool(os.environ.get(MULTIPROCESS_DIR))

    def collect(self) -> Iterable[Metric]:
        """Every metric family: this process's, or all workers' summed in multiprocess mode."""
        if not self.multiprocess:
            return self.registry.collect()
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return merged.collect()

    def render(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)

    def process_exits(self) -> None:
        """Drop this worker's live gauges (in-flight, model info) from the shared files."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())
