"""The HTTP service: POST /predict, /health and OpenAPI docs for one loaded model.

The request schema is built once, at load time, from the model's columns: each field is
typed by its role, so a missing or mistyped field is a 422 that names it. (No
``from __future__ import annotations`` here: FastAPI must see the request type itself.)
"""

import time
import uuid
from typing import Annotated, Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, Strict, create_model

from loopml import __version__
from loopml.config import ProjectConfig
from loopml.core.scoring import ColumnSpec, ScoringModel
from loopml.errors import LoopmlError, PredictionInputError
from loopml.serving.monitoring import add_monitoring

MAX_ROWS = 10_000

_ROLE_TYPES: dict[str, Any] = {
    "numeric": Annotated[float, Strict()] | None,
    "categorical": Annotated[str, Strict()]
    | Annotated[int, Strict()]
    | Annotated[float, Strict()]
    | bool
    | None,
    "text": Annotated[str, Strict()] | None,
    "datetime": Annotated[str, Strict()] | None,
}


class ModelInfo(BaseModel):
    name: str | None
    version: str | None
    run_id: str | None


class PredictResponse(BaseModel):
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = Field(
        None, description="Per row, the probability of each class (classifiers only)."
    )
    model: ModelInfo
    request_id: str


class HealthResponse(BaseModel):
    status: str
    model: ModelInfo
    loopml_version: str


def record_model(columns: list[ColumnSpec]) -> type[BaseModel]:
    """A pydantic model of one input row: every feature column required, null allowed."""
    fields: dict[str, Any] = {
        f"f{i}": (_ROLE_TYPES[spec.role], Field(..., alias=spec.name))
        for i, spec in enumerate(columns)
    }
    config = ConfigDict(extra="forbid", populate_by_name=False)
    return create_model("Record", __config__=config, **fields)


def create_app(
    model: ScoringModel, *, max_rows: int = MAX_ROWS, cfg: ProjectConfig | None = None
) -> FastAPI:
    """A FastAPI app serving ``model``. Everything per-model is prepared here, once.

    With the project's ``cfg``, predictions are logged for monitoring (see serving.monitoring).
    """
    record = record_model(model.columns)
    request_type = create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        records=(list[record], Field(..., min_length=1, max_length=max_rows)),  # type: ignore[valid-type]
    )
    info = ModelInfo(name=model.name, version=model.version, run_id=model.run_id)
    names = model.feature_names
    app = FastAPI(
        title=f"loopml: {model.describe()}",
        version=__version__,
        description=f"Predicts '{model.target}' ({model.task}).",
    )

    @app.exception_handler(LoopmlError)
    async def _loopml_error(request: Request, exc: LoopmlError) -> JSONResponse:
        status = 422 if isinstance(exc, PredictionInputError) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/health", response_model=HealthResponse)
    def health() -> HealthResponse:
        return HealthResponse(status="ok", model=info, loopml_version=__version__)

    @app.post("/predict", response_model=PredictResponse)
    def predict(body: request_type) -> PredictResponse:
        started = time.perf_counter()
        rows = [r.model_dump(by_alias=True) for r in body.records]  # type: ignore[attr-defined]
        frame = pd.DataFrame.from_records(rows, columns=names)
        scored = model.score_frame(frame)
        predictions = scored["prediction"].tolist()
        probabilities = _probabilities(scored, model.classes)
        request_id = uuid.uuid4().hex
        recorder.record(request_id, rows, predictions, probabilities, started)
        return PredictResponse(
            predictions=predictions,
            probabilities=probabilities,
            model=info,
            request_id=request_id,
        )

    recorder = add_monitoring(app, model, cfg)
    return app


def _probabilities(scored: pd.DataFrame, classes: list[Any]) -> list[dict[str, float]] | None:
    columns = [f"proba_{label}" for label in classes]
    if not classes or columns[0] not in scored:
        return None
    values = scored[columns].to_numpy().tolist()
    labels = [str(label) for label in classes]
    return [dict(zip(labels, row, strict=True)) for row in values]
