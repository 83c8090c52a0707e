"""The Open Inference Protocol v2 (KServe, Triton, Seldon): ``POST /v2/models/{name}/infer``
with one input per column or one ``[rows, features]`` tensor; model metadata and readiness
under ``/v2/models/{name}``; server health under ``/v2/health/``.

Errors are ``{"error": message}``; bad input is a 400, another model name a 404.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import Response

from loopml.errors import LoopmlError, PredictionInputError
from loopml.serving.engine import Scored
from loopml.serving.protocols import loopml
from loopml.serving.protocols.base import (
    Protocol,
    Route,
    Scoring,
    check_model,
    json_request_body,
    json_response,
    parse_json,
    plain,
)
from loopml.serving.schema import InputSchema, Parsed

if TYPE_CHECKING:
    from loopml.serving.deployment import Deployment
    from loopml.serving.state import ServingState

MAX_DEPTH = 32  # nesting of one OIP tensor's data
_OIP_TYPES = {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT8", "BOOL", "BYTES"}


def oip_columns(body: bytes, schema: InputSchema) -> tuple[Parsed, str | None]:
    """One input per column (named as in the training file; ids and other known columns
    may come along) or one ``[rows, width]`` tensor (the model's features in order, or
    every column of the training file in the file's order)."""
    payload = parse_json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise PredictionInputError('expected an object {"inputs": [{name, shape, datatype, data}]}')
    inputs = payload["inputs"]
    for tensor in inputs:
        _check_tensor(tensor)
    request_id = payload.get("id") if isinstance(payload.get("id"), str) else None
    if len(inputs) == 1 and inputs[0]["name"] not in schema.known:
        tensor = inputs[0]
        shape = tensor["shape"]
        widths = sorted({len(schema.names), len(schema.known)})
        if len(shape) != 2 or shape[1] not in widths:
            raise PredictionInputError(
                f"one tensor must have shape [rows, {' or '.join(map(str, widths))}] (the "
                f"model's features, or every column of the training file), got {shape}"
            )
        return schema.from_matrix(_flat(tensor), int(shape[0])), request_id
    names = [t["name"] for t in inputs]
    repeated = [n for i, n in enumerate(names) if n in names[:i]]
    if repeated:
        raise PredictionInputError(f"input {repeated[0]!r} is given twice; send it once")
    return schema.from_mapping(
        dict(zip(names, (_flat(t) for t in inputs), strict=True))
    ), request_id


def _check_tensor(tensor: Any) -> None:
    if not isinstance(tensor, dict):
        raise PredictionInputError("each input must be an object {name, shape, datatype, data}")
    for key in ("name", "shape", "datatype", "data"):
        if key not in tensor:
            raise PredictionInputError(f"input {tensor.get('name', '?')!r} has no {key!r}")
    if not isinstance(tensor["name"], str):
        raise PredictionInputError(f"input name must be a string, got {tensor['name']!r:.80}")
    shape = tensor["shape"]
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise PredictionInputError(f"input {tensor['name']!r}: shape must be non-negative integers")
    if tensor["datatype"] not in _OIP_TYPES:
        raise PredictionInputError(
            f"input {tensor['name']!r}: datatype {tensor['datatype']!r} is not one of "
            f"{', '.join(sorted(_OIP_TYPES))}"
        )
    if not isinstance(tensor["data"], list):
        raise PredictionInputError(f"input {tensor['name']!r}: data must be a list")
    size = math.prod(shape) if shape else 1
    if len(_flatten(tensor["data"])) != size:
        raise PredictionInputError(
            f"input {tensor['name']!r}: {len(_flatten(tensor['data']))} values for shape {shape}"
        )


def _flat(tensor: dict[str, Any]) -> list[Any]:
    return _flatten(tensor["data"])


def _flatten(data: list[Any]) -> list[Any]:
    """Nested lists to one list, without recursion (a body may nest deeper than the stack)."""
    if not (data and isinstance(data[0], list)):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                if len(stack) >= MAX_DEPTH:
                    raise PredictionInputError(f"data is nested deeper than {MAX_DEPTH} levels")
                stack.append(iter(value))
                break
            flat.append(value)
        else:
            stack.pop()
    return flat


def oip_response(
    scored: Scored, model_name: str, version: str, request_id: str, regression: bool
) -> bytes:
    rows = len(scored.predictions)
    predictions = plain(scored.predictions)
    datatype = "FP64" if regression else _label_type(predictions)
    outputs: list[dict[str, Any]] = [
        {"name": "predictions", "shape": [rows], "datatype": datatype, "data": predictions}
    ]
    if scored.probabilities is not None:
        proba = scored.probabilities
        outputs.append(
            {
                "name": "probabilities",
                "shape": list(proba.shape),
                "datatype": "FP64",
                "data": proba.reshape(-1).tolist(),
            }
        )
    outputs.append(
        {
            "name": "abstained",
            "shape": [rows],
            "datatype": "BOOL",
            "data": scored.abstained.tolist(),
        }
    )
    return orjson.dumps(
        {"model_name": model_name, "model_version": version, "id": request_id, "outputs": outputs}
    )


def _label_type(labels: list[Any]) -> str:
    if all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        return "INT64"
    return "BYTES"


def oip_metadata(
    name: str, version: str, columns: list[Any], classes: list[Any], regression: bool
) -> dict[str, Any]:
    datatypes = {"numeric": "FP64", "categorical": "BYTES", "text": "BYTES", "datetime": "BYTES"}
    labels = [c.item() if hasattr(c, "item") else c for c in classes]  # numpy -> Python
    # the same datatype /infer answers with (an integer class label is INT64, as there)
    predicted = "FP64" if regression else _label_type(labels)
    outputs = [{"name": "predictions", "datatype": predicted, "shape": [-1]}]
    if classes:
        outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [-1, len(classes)]})
    outputs.append({"name": "abstained", "datatype": "BOOL", "shape": [-1]})
    return {
        "name": name,
        "versions": [version],
        "platform": "loopml",
        "inputs": [{"name": c.name, "datatype": datatypes[c.role], "shape": [-1]} for c in columns],
        "outputs": outputs,
        "parameters": {"classes": [str(c) for c in classes]},
    }


def _parse(body: bytes, content_type: str | None, schema: InputSchema) -> Parsed:
    return oip_columns(body, schema)[0]


def _encode(
    deployment: Deployment,
    scored: Scored,
    request_id: str,
    parsed: Parsed,
    explained: dict[str, Any] | None,
) -> bytes:
    return oip_response(
        scored, deployment.name, deployment.version, request_id, deployment.regression
    )


def error_body(error: LoopmlError, status: int) -> bytes:
    """``{"error": message}``."""
    return orjson.dumps({"error": str(error)})


def infer_body(record: dict[str, Any], max_rows: int) -> dict[str, Any]:
    """The OpenAPI request body of /v2/models/{name}/infer: ``inputs``, a list of tensors."""
    tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string"},
            "data": {"type": "array"},
        },
        "required": ["name", "shape", "datatype", "data"],
    }
    properties = {"id": {"type": "string"}, "inputs": {"type": "array", "items": tensor}}
    return json_request_body({"type": "object", "properties": properties, "required": ["inputs"]})


def model_metadata(state: ServingState, name: str) -> Response:
    """The model's inputs and outputs (404 for another name)."""
    check_model(state, name)
    dep = state.champion
    columns = dep.loaded.model.columns
    return json_response(oip_metadata(dep.name, dep.version, columns, dep.classes, dep.regression))


def model_ready(state: ServingState, name: str) -> Response:
    """200 when the named model is served and ready; 503 while loading; 404 for another name."""
    known = name == state.champion.name
    return json_response(
        {"name": name, "ready": state.ready and known},
        200 if known and state.ready else 404 if not known else 503,
    )


PROTOCOL = Protocol(
    "open_inference",
    (
        Route(
            "POST",
            "/v2/models/{name}/infer",
            "Open Inference Protocol v2: inference.",
            Scoring("v2_infer", _parse, _encode, infer_body, "refused", model_param="name"),
        ),
        Route(
            "GET",
            "/v2/models/{name}",
            "Open Inference Protocol v2: metadata.",
            model_metadata,
            "metadata",
        ),
        Route(
            "GET",
            "/v2/models/{name}/ready",
            "Open Inference Protocol v2: readiness.",
            model_ready,
            "health",
        ),
        Route(
            "GET", "/v2/health/live", "Open Inference Protocol: liveness.", loopml.live, "health"
        ),
        Route(
            "GET", "/v2/health/ready", "Open Inference Protocol: readiness.", loopml.ready, "health"
        ),
    ),
    error_body,
    invalid_status=400,
    prefix="/v2/",
)
