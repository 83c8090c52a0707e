"""Request bodies to ``Parsed`` rows and scores to response bodies, per protocol.

- loopml: ``POST /predict`` with ``{"records": [...]}``.
- MLflow scoring protocol: ``POST /invocations`` with ``dataframe_split``,
  ``dataframe_records``, ``instances``, ``inputs`` (JSON) or a CSV body.
- Open Inference Protocol v2: ``POST /v2/models/{name}/infer`` with one input per
  column or one ``[rows, features]`` tensor.

Every protocol reads values through the model's data contract (``InputSchema``), accepts a
row exactly as written in the training file (id, ignored and target columns included) and
refuses any other column the same way, naming it and the columns the model knows.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

from loopml.errors import PredictionInputError
from loopml.serving.engine import Scored
from loopml.serving.schema import InputSchema, Parsed

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class UnsupportedMediaType(PredictionInputError):
    """The body's content type is not one the endpoint reads (HTTP 415)."""


def parse_json(body: bytes) -> Any:
    """orjson; then Python's parser, which also reads NaN and Infinity as MLflow clients send."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            payload = json.loads(body)
            if _SURROGATE_ESCAPE.search(body):  # orjson refuses them; so must every later step
                json.dumps(payload, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise PredictionInputError(
                "the body is not valid JSON (a lone UTF-16 surrogate \\ud800-\\udfff: "
                "surrogates not allowed)"
            ) from None
        except (ValueError, RecursionError):
            raise PredictionInputError(f"the body is not valid JSON ({exc})") from None
        return payload


class _StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = parse_json(await self.body())
            except PredictionInputError as exc:  # FastAPI answers it with a 422
                raise json.JSONDecodeError(str(exc), "", 0) from None
        return self._json


class StrictJsonRoute(APIRoute):
    """A FastAPI route whose JSON body is read by ``parse_json``: what it refuses (a lone
    surrogate, nesting past the parser) is a 422, not a 500 when the answer is encoded."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return route


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


# --- loopml ---


def loopml_columns(body: bytes, content_type: str | None, schema: InputSchema) -> Parsed:
    if _media_type(content_type) not in ("application/json", ""):
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
        "predictions": _plain(scored.predictions),
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


def _plain(values: np.ndarray) -> list[Any]:
    items = values.tolist()
    if values.dtype == np.float64:
        return [None if isinstance(v, float) and math.isnan(v) else v for v in items]
    return items


# --- MLflow scoring protocol ---


def mlflow_columns(body: bytes, content_type: str | None, schema: InputSchema) -> Parsed:
    media = _media_type(content_type)
    if media == "text/csv":
        return csv_columns(body, content_type, schema)
    if media != "application/json":
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not supported; send application/json or text/csv"
        )
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise PredictionInputError(f"expected a JSON object with one of {', '.join(MLFLOW_KEYS)}")
    keys = [k for k in MLFLOW_KEYS if k in payload]
    if len(keys) != 1:
        raise PredictionInputError(
            f"the body must hold exactly one of {', '.join(MLFLOW_KEYS)}; got "
            f"{', '.join(payload) or 'none'}"
        )
    return _mlflow_payload(keys[0], payload[keys[0]], schema)


def _mlflow_payload(key: str, value: Any, schema: InputSchema) -> Parsed:
    if key == "dataframe_split":
        if not isinstance(value, dict):
            raise PredictionInputError("dataframe_split must be an object with columns and data")
        return schema.from_split(value.get("columns"), value.get("data"))
    if key == "dataframe_records":
        return schema.from_records(value)
    if isinstance(value, dict):  # inputs / instances as a dict of columns
        return schema.from_mapping(value)
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return schema.from_lists(value)  # rows as lists: the model's order or the file's
    return schema.from_records(value)


def csv_columns(body: bytes, content_type: str | None, schema: InputSchema) -> Parsed:
    """A CSV body read as the training file was: its separator and quote character, every
    cell as text read through the contract (so its decimal mark, thousands separator, date
    format and missing-value markers apply); a comma-separated body whose header names
    the model's columns is read too."""
    dialect = schema.dialect
    text = _csv_text(body, content_type, dialect.get("encoding"))
    quotechar = dialect.get("quotechar") or '"'
    sep = _csv_sep(text, dialect.get("sep") or ",", quotechar, schema)
    try:
        rows = [
            row
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar=quotechar)
            if row
        ]
    except csv.Error as exc:
        raise PredictionInputError(f"the CSV body cannot be read ({exc})") from None
    if not rows:
        raise PredictionInputError("the CSV body is empty; send a header line and rows")
    header, data = rows[0], rows[1:]
    return schema.from_split(header, data)


def _csv_text(body: bytes, content_type: str | None, trained: str | None) -> str:
    """The body decoded: the Content-Type charset if given, else UTF-8 (a BOM dropped), else
    the training file's encoding."""
    charset = _charset(content_type)
    tried = [charset] if charset else ["utf-8-sig"]
    if not charset and trained and trained.lower().replace("_", "-") not in ("utf-8", "utf-8-sig"):
        tried.append(trained)
    for encoding in tried:
        try:
            return body.decode(encoding).removeprefix("\ufeff")
        except (UnicodeDecodeError, LookupError):
            continue
    raise PredictionInputError(
        f"the CSV body is not {' or '.join(tried)} text; send UTF-8 or name the encoding "
        "in the Content-Type header (text/csv; charset=...)"
    )


def _charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def _csv_sep(text: str, trained: str, quotechar: str, schema: InputSchema) -> str:
    """The training file's separator, unless only another one splits the header into
    column names the model knows."""
    first = _LINE_END.split(text, maxsplit=1)[0]  # as the csv module: \n, \r\n or a lone \r
    for sep in (trained, *(s for s in _CSV_SEPS if s != trained)):
        try:
            header = next(csv.reader([first], delimiter=sep, quotechar=quotechar), [])
        except csv.Error:  # not a header in this separator; the body is read (and refused) below
            continue
        if len(header) > 1 and all(name in schema.known for name in header):
            return sep
    return trained


_CSV_SEPS = (",", ";", "\t", "|")
_LINE_END = re.compile(r"\r\n|\r|\n")


def mlflow_response(scored: Scored, explained: dict[str, Any] | None = None) -> bytes:
    return orjson.dumps({"predictions": _plain(scored.predictions)} | (explained or {}))


def mlflow_error(message: str, code: str = "BAD_REQUEST") -> bytes:
    return orjson.dumps({"error_code": code, "message": message})


# --- Open Inference Protocol v2 ---

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
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
    predictions = _plain(scored.predictions)
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
    outputs = [
        {"name": "predictions", "datatype": "FP64" if regression else "BYTES", "shape": [-1]}
    ]
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
