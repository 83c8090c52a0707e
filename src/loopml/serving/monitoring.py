"""What the server adds for monitoring, given the project's config: feedback and dashboard.

- ``POST /feedback``: true labels joined to logged predictions by request id (the same
  bearer-token rule as the prediction endpoints);
- ``/dashboard`` (see ``loopml.serving.dashboard``): open, like ``/metrics``, unless
  ``serve.auth.protect_health``.

Counters and the prediction log itself belong to the app (``serving.metrics``,
``serving.predlog``); this module only reads them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from loopml.config import ProjectConfig, RetentionConfig
from loopml.core import labels as labels_check
from loopml.errors import first_line
from loopml.serving import dashboard
from loopml.serving.protocols import StrictJsonRoute
from loopml.tracking.prediction_log import FeedbackResult, Label, PredictionLog
from loopml.workflows.monitor import log_url
from loopml.workflows.retention import apply_retention

log_ = logging.getLogger(__name__)

if TYPE_CHECKING:
    from loopml.serving.app import ServingState

MAX_LABELS = 10_000


class FeedbackLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(
        ..., min_length=1, max_length=64, description="The request_id /predict returned."
    )
    row: int = Field(0, ge=0, lt=2**31, description="Position of the record in that request.")
    label: StrictStr | StrictInt | StrictFloat | StrictBool = Field(..., description="True label.")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[FeedbackLabel] = Field(..., min_length=1, max_length=MAX_LABELS)


class FeedbackResponse(BaseModel):
    received: int
    matched: int = Field(description="Labels whose request_id and row are in the log.")
    accepted: int = Field(description="Records labelled for the first time.")
    replaced: int = Field(description="Records whose earlier label this one replaced.")
    refused: int = Field(0, description="Labels outside the model's contract (then a 422).")
    duplicates: int = Field(description="Labels repeating a record with the same value.")


def add_monitoring(app: FastAPI, state: ServingState, cfg: ProjectConfig | None) -> None:
    """Install /feedback (when predictions are logged) and /dashboard on ``app``."""
    if cfg is not None and state.prediction_log is not None:
        _add_feedback(app, state, PredictionLog(log_url(cfg)))
        retention = cfg.serve.prediction_log.retention
        if retention.max_age or retention.rows:
            state.jobs.append(functools.partial(_retain, PredictionLog(log_url(cfg)), retention))
    dashboard.add_dashboard(app, state, cfg)


async def _retain(log: PredictionLog, retention: RetentionConfig) -> None:
    """Apply serve.prediction_log.retention now and every ``interval``; a failure is
    logged and tried again next time (serving goes on)."""
    while True:
        try:
            deleted = await asyncio.to_thread(apply_retention, log, retention)
            if deleted:
                log_.info("prediction log retention: deleted %d requests", deleted)
        except Exception as exc:
            log_.warning("prediction log retention failed: %s", first_line(exc))
        await asyncio.sleep(retention.interval)


def _add_feedback(app: FastAPI, state: ServingState, log: PredictionLog) -> None:
    router = APIRouter(route_class=StrictJsonRoute)  # auth: serving.auth.TokenGuard

    @router.post("/feedback", response_model=FeedbackResponse)
    async def feedback(body: FeedbackRequest) -> Any:  # FeedbackResponse, or a 422
        """True labels for earlier predictions, joined to them by request id (and row)."""
        items = [(item.request_id, item.row, item.label) for item in body.labels]
        checked = labels_check.check(items, _contract(state), lambda i: f"labels[{i}]")
        if checked.refused:
            detail = f"{checked.first_problem()}; nothing was recorded"
            counts = {"received": len(items), "refused": len(checked.refused), "accepted": 0}
            return JSONResponse({"detail": detail, **counts}, status_code=422)
        labels = [Label(rid, label, row) for rid, row, label in checked.labels]
        result = await asyncio.to_thread(_record, state, log, labels)
        return FeedbackResponse(
            received=len(items),
            matched=result.matched,
            accepted=result.accepted,
            replaced=result.replaced,
            duplicates=checked.duplicates,
        )

    app.include_router(router)


def _contract(state: ServingState) -> labels_check.LabelContract:
    """Labels are checked against the served champion: its task and classes."""
    model = state.champion.loaded.model
    name = f"{state.champion.name} v{state.champion.version}"
    return labels_check.LabelContract(model.task, tuple(model.classes), name)


def _record(state: ServingState, log: PredictionLog, labels: list[Label]) -> FeedbackResult:
    if state.prediction_log is not None:
        state.prediction_log.flush()  # a label sent right after its prediction finds it
    return log.add_feedback(labels)
