"""The MLflow scoring protocol, as ``mlflow models serve`` speaks it: ``POST /invocations``
with ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` (JSON) or a CSV
body; ``GET /ping`` and ``/version``.

Errors are MLflow's ``{"error_code", "message"}``; bad input is a 400 ``BAD_REQUEST``.
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import Response

from loopml.errors import LoopmlError, PredictionInputError
from loopml.serving.engine import Scored
from loopml.serving.protocols.base import (
    Protocol,
    Route,
    Scoring,
    UnsupportedMediaType,
    json_request_body,
    media_type,
    parse_json,
    plain,
)
from loopml.serving.schema import InputSchema, Parsed

if TYPE_CHECKING:
    from loopml.serving.deployment import Deployment
    from loopml.serving.state import ServingState

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def mlflow_columns(body: bytes, content_type: str | None, schema: InputSchema) -> Parsed:
    media = media_type(content_type)
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
    return orjson.dumps({"predictions": plain(scored.predictions)} | (explained or {}))


def mlflow_error(message: str, code: str = "BAD_REQUEST") -> bytes:
    return orjson.dumps({"error_code": code, "message": message})


def _encode(
    deployment: Deployment,
    scored: Scored,
    request_id: str,
    parsed: Parsed,
    explained: dict[str, Any] | None,
) -> bytes:
    return mlflow_response(scored, explained)


def error_body(error: LoopmlError, status: int) -> bytes:
    """``{"error_code": "UNAUTHENTICATED" (401) or "BAD_REQUEST", "message": ...}``."""
    return mlflow_error(str(error), "UNAUTHENTICATED" if status == 401 else "BAD_REQUEST")


def invocations_body(record: dict[str, Any], max_rows: int) -> dict[str, Any]:
    """The OpenAPI request body of /invocations: the four JSON forms, or CSV."""
    split = {
        "type": "object",
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "data": {"type": "array", "items": {"type": "array"}},
        },
    }
    properties = {
        "dataframe_records": {"type": "array", "items": record},
        "dataframe_split": split,
        "instances": {"type": "array"},
        "inputs": {},
    }
    text = {"schema": {"type": "string"}}
    return json_request_body({"type": "object", "properties": properties}, **{"text/csv": text})


def ping(state: ServingState) -> Response:
    """200 when ready (503 while loading), with a newline as MLflow's server answers."""
    return Response("\n", status_code=200 if state.ready else 503, media_type="application/json")


def version(state: ServingState) -> Response:
    """The MLflow version, as text."""
    import mlflow

    return Response(mlflow.__version__, media_type="text/plain")


PROTOCOL = Protocol(
    "mlflow",
    (
        Route(
            "POST",
            "/invocations",
            "MLflow scoring protocol.",
            Scoring("invocations", mlflow_columns, _encode, invocations_body),
        ),
        Route("GET", "/ping", "MLflow scoring protocol: 200 when ready.", ping, "health"),
        Route("GET", "/version", "MLflow scoring protocol: the MLflow version.", version, "health"),
    ),
    error_body,
    invalid_status=400,
)
