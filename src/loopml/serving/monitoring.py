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
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from loopml.config import ProjectConfig
from loopml.serving import dashboard
from loopml.serving.protocols import StrictJsonRoute
from loopml.tracking.prediction_log import FeedbackResult, Label, PredictionLog
from loopml.workflows.monitor import log_url

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


def add_monitoring(app: FastAPI, state: ServingState, cfg: ProjectConfig | None) -> None:
    """Install /feedback (when predictions are logged) and /dashboard on ``app``."""
    if cfg is not None and state.prediction_log is not None:
        _add_feedback(app, state, PredictionLog(log_url(cfg)))
    dashboard.add_dashboard(app, state, cfg)


def _add_feedback(app: FastAPI, state: ServingState, log: PredictionLog) -> None:
    router = APIRouter(route_class=StrictJsonRoute)  # auth: serving.auth.RequireToken

    @router.post("/feedback", response_model=FeedbackResponse)
    async def feedback(body: FeedbackRequest) -> FeedbackResponse:
        """True labels for earlier predictions, joined to them by request id (and row)."""
        labels = [Label(item.request_id, item.label, item.row) for item in body.labels]
        result = await asyncio.to_thread(_record, state, log, labels)
        return FeedbackResponse(received=result.received, matched=result.matched)

    app.include_router(router)


def _record(state: ServingState, log: PredictionLog, labels: list[Label]) -> FeedbackResult:
    if state.prediction_log is not None:
        state.prediction_log.flush()  # a label sent right after its prediction finds it
    return log.add_feedback(labels)
