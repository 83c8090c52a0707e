"""loopml's own protocol: ``POST /predict`` and ``/explain`` with ``{"records": [...]}``, and
the health paths ``/health``, ``/live``, ``/ready``.

Errors have FastAPI's shapes: bad input is its validation error
``{"detail": [{"loc", "msg", "type"}]}``, one entry per bad field; a 401 is ``{"detail": msg}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from fastapi import Response

from loopml import __version__
from loopml.errors import LoopmlError, NotExplainableError, PredictionInputError
from loopml.serving.engine import Scored
from loopml.serving.protocols.base import (
    Protocol,
    Route,
    Scoring,
    UnsupportedMediaType,
    json_request_body,
    json_response,
    media_type,
    parse_json,
    plain,
)
from loopml.serving.schema import FieldError, FieldErrors, InputSchema, Parsed

if TYPE_CHECKING:
    from loopml.serving.deployment import Deployment
    from loopml.serving.state import ServingState


def loopml_columns(body: bytes, content_type: str | None, schema: InputSchema) -> Parsed:
    """``{"records": [{column: value, ...}, ...]}`` as JSON to rows."""
    if media_type(content_type) not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not supported; send application/json"
        )
    payload = parse_json(body)
    if not isinstance(payload, dict) or "records" not in payload:
        raise PredictionInputError('expected an object {"records": [{column: value, ...}, ...]}')
    extra = [k for k in payload if k != "records"]
    if extra:
        raise PredictionInputError(f"unknown field {extra[0]!r}; send only 'records'")
    return schema.from_records(payload["records"])


def loopml_response(
    scored: Scored,
    classes: list[Any],
    model: dict[str, Any],
    request_id: str,
    ids: dict[str, list[Any]],
    explained: dict[str, Any] | None = None,
) -> bytes:
    """Predictions, probabilities, abstained; with ``ids`` (the model's id columns as sent,
    one object per row) when the model has id columns; with ``explained`` (explanations
    and explainer) when asked for."""
    probabilities = None
    if scored.probabilities is not None:
        labels = [str(c) for c in classes]
        probabilities = [
            dict(zip(labels, row, strict=True)) for row in scored.probabilities.tolist()
        ]
    body: dict[str, Any] = {
        "predictions": plain(scored.predictions),
        "probabilities": probabilities,
        "abstained": scored.abstained.tolist(),
    }
    if ids:
        names = list(ids)
        body["ids"] = [
            dict(zip(names, row, strict=True)) for row in zip(*ids.values(), strict=True)
        ]
    body |= (explained or {}) | {"model": model, "request_id": request_id}
    return orjson.dumps(body)


def _encode(
    deployment: Deployment,
    scored: Scored,
    request_id: str,
    parsed: Parsed,
    explained: dict[str, Any] | None,
) -> bytes:
    return loopml_response(
        scored, deployment.classes, deployment.info, request_id, parsed.ids, explained
    )


def error_body(error: LoopmlError, status: int) -> bytes:
    """FastAPI's shapes: ``{"detail": message}`` for a 401; otherwise its validation-error
    shape, one ``{"loc", "msg", "type"}`` per bad field of the records (``loc`` is
    ``["body", "records", row, column]`` for a field, ``["body"]`` for a timeout)."""
    if status == 401:
        return orjson.dumps({"detail": str(error)})
    errors = error.errors if isinstance(error, FieldErrors) else [error]
    about_input = isinstance(error, PredictionInputError | NotExplainableError)
    detail = []
    for one in errors:
        location: list[Any] = ["body", "records"] if about_input else ["body"]
        if isinstance(one, FieldError):
            location += list(one.location)
        detail.append({"loc": location, "msg": str(one), "type": "value_error"})
    return orjson.dumps({"detail": detail})


def predict_body(record: dict[str, Any], max_rows: int) -> dict[str, Any]:
    """The OpenAPI request body of /predict and /explain."""
    records = {"type": "array", "items": record, "minItems": 1, "maxItems": max_rows}
    return json_request_body(
        {
            "type": "object",
            "properties": {"records": records},
            "required": ["records"],
            "additionalProperties": False,
        }
    )


def health(state: ServingState) -> Response:
    """200 ``ok``, or ``degraded`` (with ``problems``) while a served alias is missing or
    the prediction log drops or fails writes; 503 while loading."""
    body: dict[str, Any] = {
        "status": state.status,
        "problems": list(state.problems.values()),
        "model": state.champion.info,
        "engine": state.champion.engine.name,
        "loopml_version": __version__,
    }
    if state.prediction_log is not None:
        log = state.prediction_log.health()
        body["prediction_log"] = log.as_dict()
        if log.degraded and state.ready:
            body["status"] = "degraded"
    return json_response(body, 200 if state.ready else 503)


def live(state: ServingState) -> Response:
    """Liveness: the process answers."""
    return json_response({"live": True})


def ready(state: ServingState) -> Response:
    """Readiness: 200 once the model is loaded and warmed up, 503 before."""
    return json_response({"ready": state.ready}, 200 if state.ready else 503)


_PREDICT = Scoring("predict", loopml_columns, _encode, predict_body)
_EXPLAIN = Scoring("explain", loopml_columns, _encode, predict_body, explain="always")

PROTOCOL = Protocol(
    "loopml",
    (
        Route(
            "POST",
            "/predict",
            "loopml protocol: records in; predictions, probabilities, abstained out.",
            _PREDICT,
        ),
        Route(
            "POST",
            "/explain",
            "loopml protocol with attributions: the /predict body in; predictions and, per "
            "row, base_value, output, space and contributions per input column out (?top_k=K).",
            _EXPLAIN,
        ),
        Route("GET", "/health", "Model and readiness (503 while loading).", health, "health"),
        Route("GET", "/live", "Liveness: the process answers.", live, "health"),
        Route("GET", "/ready", "Readiness: the model is loaded and warmed up.", ready, "health"),
    ),
    error_body,
    invalid_status=422,
)
