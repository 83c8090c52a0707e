"""What a serving protocol is, and what every protocol shares.

A ``Protocol`` is one record: its routes (``Route``), how each scoring route reads a body
and writes an answer (``Scoring``), the status it gives bad input, and the shape of its
error bodies. ``loopml.serving.app`` mounts every protocol of ``protocols.REGISTRY``; the
token guard and the one error answer (``Protocol.error_response``) read the same records.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import numpy as np
import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

from loopml.errors import LoopmlError, ModelNotFoundError, PredictionInputError
from loopml.serving.engine import Scored
from loopml.serving.schema import InputSchema, Parsed

if TYPE_CHECKING:
    from loopml.serving.deployment import Deployment
    from loopml.serving.state import ServingState

#: body, Content-Type header, the deployment's input schema -> the rows
Parse = Callable[[bytes, str | None, InputSchema], Parsed]
#: deployment, scores, request id, the parsed request, explanations (or None) -> the body
Encode = Callable[["Deployment", Scored, str, Parsed, dict[str, Any] | None], bytes]
#: the error, the HTTP status it is answered with -> the body
ErrorBody = Callable[[LoopmlError, int], bytes]
#: (the server's ``ServingState``, path parameters as keywords) -> the answer
Handler = Callable[..., Response]
#: who may call a route when tokens are configured (see ``serving.auth``): ``token`` always
#: needs one; ``health`` is open unless ``auth.protect_health``; ``metadata`` is open when
#: ``auth.open_metadata``
Access = Literal["token", "health", "metadata"]


@dataclass(frozen=True)
class Scoring:
    """A scoring endpoint: a body of rows in, the model's answer out.

    Answered on ``ServingApp``'s fast path, before FastAPI's routing.

    Attributes
    ----------
    endpoint : str
        Its name in the metrics (``endpoint`` label) and in the prediction log.
    parse : Parse
        Reads the body (bytes, Content-Type) through the model's ``InputSchema``; raises
        ``PredictionInputError`` naming the problem.
    encode : Encode
        Writes the answer body (JSON bytes).
    request_body : Callable[[dict, int], dict]
        The OpenAPI ``requestBody``, from the JSON schema of one record and ``max_rows``.
    explain : {"optional", "always", "refused"}
        ``optional``: ``?explain=true`` and ``?top_k=K`` add explanations; ``always``: they
        are always added (``/explain``); ``refused``: those parameters are a 4xx.
    model_param : str or None
        The path parameter that names the model; another name than the served one is a 404.
    """

    endpoint: str
    parse: Parse
    encode: Encode
    request_body: Callable[[dict[str, Any], int], dict[str, Any]]
    explain: Literal["optional", "always", "refused"] = "optional"
    model_param: str | None = None


@dataclass(frozen=True)
class Route:
    """One HTTP route of a protocol.

    Attributes
    ----------
    method : str
        ``GET`` or ``POST``.
    path : str
        FastAPI's path, with at most one ``{parameter}`` (one path segment).
    summary : str
        One line for the OpenAPI document.
    answer : Scoring or Handler
        A scoring endpoint, or a function ``(state, **path_parameters) -> Response``.
    access : Access
        Who may call it when tokens are configured.
    """

    method: str
    path: str
    summary: str
    answer: Scoring | Handler
    access: Access = "token"


@dataclass(frozen=True)
class Protocol:
    """A serving protocol: its routes and its error shape.

    Attributes
    ----------
    name : str
        ``loopml``, ``mlflow``, ``open_inference``.
    routes : tuple of Route
        Every route it serves.
    error_body : ErrorBody
        The body of an error answer, in the protocol's shape (401 included).
    invalid_status : int
        The status of input the model cannot read (``PredictionInputError`` without a
        status of its own, such as 413 or 415): 422 for loopml (FastAPI's), 400 for MLflow
        and the Open Inference Protocol.
    prefix : str or None
        Paths under it that no route declares are still the protocol's: their errors (a 401,
        a 404) are answered in its shape, as its clients read them (``/v2/`` for the Open
        Inference Protocol).
    """

    name: str
    routes: tuple[Route, ...]
    error_body: ErrorBody
    invalid_status: int = 422
    prefix: str | None = None

    def status_of(self, exc: LoopmlError) -> int:
        """The HTTP status ``exc`` is answered with: its ``http_status``, except that bad
        input (422 by default) takes the protocol's ``invalid_status``."""
        status = exc.http_status
        if status == 422 and isinstance(exc, PredictionInputError):
            return self.invalid_status
        return status

    def error_response(self, exc: LoopmlError) -> Response:
        """The one answer to a ``LoopmlError``, whatever raised it: ``status_of(exc)``, the
        protocol's error body, and the error's ``headers`` if it has any (a 401 has
        ``WWW-Authenticate: Bearer``)."""
        status = self.status_of(exc)
        return Response(
            self.error_body(exc, status),
            status_code=status,
            media_type="application/json",
            headers=getattr(exc, "headers", None),
        )


class RequestTimeout(LoopmlError):
    """A request took longer than ``limits.request_timeout`` (HTTP 408)."""

    http_status = 408


class UnsupportedMediaType(PredictionInputError):
    """The body's content type is not one the endpoint reads (HTTP 415)."""

    http_status = 415


T = TypeVar("T")
NO_PARAMETERS: Mapping[str, str] = MappingProxyType({})


class PathTable(Generic[T]):
    """Paths to values: exact paths by one dictionary look-up; a path with one
    ``{parameter}`` matches one non-empty segment there, as FastAPI matches it."""

    def __init__(self, items: Iterable[tuple[str, T]]):
        self.exact: dict[str, T] = {}
        self.templates: list[tuple[str, str, str, T]] = []  # prefix, name, suffix, value
        for path, value in items:
            if "{" not in path:
                self.exact.setdefault(path, value)
                continue
            prefix, _, rest = path.partition("{")
            name, _, suffix = rest.partition("}")
            self.templates.append((prefix, name, suffix, value))

    def find(self, path: str) -> tuple[T, Mapping[str, str]] | None:
        """The value for ``path`` and its path parameters; None when no path matches."""
        value = self.exact.get(path)
        if value is not None:
            return value, NO_PARAMETERS
        for prefix, name, suffix, value in self.templates:
            if path.startswith(prefix) and path.endswith(suffix):
                segment = path[len(prefix) : len(path) - len(suffix)]
                if segment and "/" not in segment:
                    return value, {name: segment}
        return None


def check_model(state: ServingState, name: str) -> None:
    """Raise ``ModelNotFoundError`` (404) unless ``name`` is the served model's name (for a
    route's ``Scoring.model_param``, and model metadata)."""
    if name != state.champion.name:
        raise ModelNotFoundError(f"unknown model {name!r}; this server has {state.champion.name!r}")


def parameters_of(path: str) -> list[str]:
    """The names of ``path``'s ``{parameters}``."""
    return re.findall(r"{(\w+)}", path)


# --- what every protocol reads and writes alike ---


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


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


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


def media_type(content_type: str | None) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv``."""
    return (content_type or "").split(";")[0].strip().lower()


def plain(values: np.ndarray) -> list[Any]:
    """Predictions as JSON values: a float NaN (no prediction) as null."""
    items = values.tolist()
    if values.dtype == np.float64:
        return [None if isinstance(v, float) and math.isnan(v) else v for v in items]
    return items


def json_response(body: Any, status: int = 200) -> Response:
    """``body`` as a JSON answer (orjson)."""
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def json_request_body(schema: dict[str, Any], **more: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI ``requestBody``: ``schema`` as application/json, plus ``more`` media types."""
    return {"required": True, "content": {"application/json": {"schema": schema}, **more}}
