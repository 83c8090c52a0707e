"""The HTTP service: every protocol of ``serving.protocols.REGISTRY`` over one model (+ challenger).

Everything per model is prepared once, in ``create_app``: the engine (ONNX or native), the
compiled input schema, the model thread. The routes come from the protocol records: each
is mounted on FastAPI (so the OpenAPI document lists it), and each scoring route is also
answered on ``ServingApp``'s fast path. A scoring request is answered by
``serving.serve.serve``; auth is ``serving.auth.TokenGuard``, before anything else; every
``LoopmlError`` is answered by its protocol's ``error_response``.
(No ``from __future__ import annotations`` here: FastAPI must see the route types.)
"""

import functools
import inspect
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.types import Receive, Scope, Send

from loopml import __version__
from loopml.config import ProjectConfig, ServeConfig
from loopml.core.scoring import ScoringModel
from loopml.errors import LoopmlError
from loopml.serving import protocols
from loopml.serving.auth import TokenCheck, TokenGuard
from loopml.serving.deployment import deploy
from loopml.serving.lifecycle import lifespan
from loopml.serving.metrics import Metrics
from loopml.serving.monitoring import add_monitoring
from loopml.serving.predlog import DROP_REASONS, PredictionLogWriter
from loopml.serving.protocols.base import Handler, PathTable, Protocol, Scoring, parameters_of
from loopml.serving.reload import ModelSource
from loopml.serving.schema import json_schema
from loopml.serving.serve import serve
from loopml.serving.state import ServingState
from loopml.tracking.models import LoadedModel

#: (request, path parameters) -> the answer
Answer = Callable[[Request, Mapping[str, str]], Awaitable[Response]]


class ServingApp(FastAPI):
    """FastAPI, with two things answered before its middleware stack, routing and
    dependency solving: the token check (``TokenGuard``, for every HTTP request, before
    the body is read) and the scoring routes of every protocol (``POST /predict``,
    ``/explain``, ``/invocations``, ``/v2/models/{name}/infer``): measured in process, a
    route that answers at once costs 61 µs through FastAPI against 16 µs through
    Starlette, of the ~300 µs a prediction takes (``benchmarks/bench_serving_inprocess.py``).
    The scoring routes stay declared as FastAPI routes, with the same answers, so the
    OpenAPI document lists them. Everything else goes through FastAPI as usual. An
    unexpected error reaches uvicorn, which answers 500 and logs it, as FastAPI's outer
    middleware does."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.guard: TokenGuard | None = None  # None: no tokens configured
        self.fast: PathTable[Answer] = PathTable([])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            guard = self.guard
            if guard is not None and await guard.refuse(scope, receive, send):
                return
            if scope["method"] == "POST":
                found = self.fast.find(scope["path"])
                if found is not None:
                    answer, params = found
                    scope["app"] = self
                    response = await answer(Request(scope, receive), params)
                    await response(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


def create_app(
    model: ScoringModel | LoadedModel,
    settings: ServeConfig | None = None,
    *,
    challenger: LoadedModel | None = None,
    tokens: TokenCheck | None = None,
    prediction_log: PredictionLogWriter | None = None,
    source: ModelSource | None = None,
    max_rows: int | None = None,
    project: ProjectConfig | None = None,
) -> ServingApp:
    """A FastAPI app serving ``model`` (and ``challenger`` for canary/shadow rollouts).

    With the ``project`` config, ``/feedback`` joins labels to the prediction log and
    ``/dashboard`` shows drift too (see ``serving.monitoring``).
    """
    settings = settings or ServeConfig()
    if max_rows is not None:
        settings = settings.model_copy(deep=True)
        settings.limits.max_rows = max_rows
    if isinstance(model, ScoringModel):
        model = LoadedModel(model, None, "the model was given without its compiled artifact")
    metrics = Metrics()
    state = ServingState(
        settings,
        metrics,
        tokens or TokenCheck([]),
        deploy(model, "champion", settings, metrics),
        challenger=deploy(challenger, "challenger", settings, metrics) if challenger else None,
        prediction_log=prediction_log,
        source=source,
        rng=random.Random(settings.rollout.seed),
    )
    champion = state.champion.loaded.model
    app = ServingApp(
        title=f"loopml: {champion.describe()}",
        version=__version__,
        description=f"Predicts '{champion.target}' ({champion.task}).",
        lifespan=lifespan(state),
    )
    app.state.serving = state
    if state.tokens.enabled:
        app.guard = TokenGuard(state.tokens, settings.auth)
    app.add_exception_handler(LoopmlError, _error_answer)
    if prediction_log is not None:
        for reason in DROP_REASONS:
            metrics.log_dropped.labels(reason)  # shown at 0 from the start
        prediction_log.on_drop = lambda reason, count: metrics.log_dropped.labels(reason).inc(count)
    fast: list[tuple[str, Answer]] = []
    for protocol in protocols.REGISTRY:
        fast += _mount(app, state, protocol)
    app.fast = PathTable(fast)
    app.add_api_route(
        "/metrics", _metrics(state), methods=["GET"], summary="Prometheus metrics."
    )  # auth: open unless serve.auth.protect_health (serving.auth.OWN_ACCESS)
    add_monitoring(app, state, project)
    return app


def _mount(app: FastAPI, state: ServingState, protocol: Protocol) -> list[tuple[str, Answer]]:
    """Add ``protocol``'s routes to ``app``; return its scoring routes for the fast path."""
    record = json_schema(state.champion.schema)
    max_rows = state.settings.limits.max_rows
    fast: list[tuple[str, Answer]] = []
    for route in protocol.routes:
        answer: Answer
        if isinstance(route.answer, Scoring):
            scoring = route.answer
            answer = functools.partial(serve, state, protocol, scoring)
            extra = {"requestBody": scoring.request_body(record, max_rows)}
            name = scoring.endpoint
            if route.method == "POST":
                fast.append((route.path, answer))
        else:
            answer, extra, name = _handled(state, route.answer), None, route.answer.__name__
        app.add_api_route(
            route.path,
            _endpoint(answer, route.path, name),
            methods=[route.method],
            summary=route.summary,
            openapi_extra=extra,
        )
    return fast


def _handled(state: ServingState, handler: Handler) -> Answer:
    async def answer(request: Request, params: Mapping[str, str]) -> Response:
        return handler(state, **params)

    return answer


def _endpoint(answer: Answer, path: str, name: str) -> Callable[..., Awaitable[Response]]:
    """``answer`` as a FastAPI endpoint: the request, and the path's parameters as strings
    (declared, so the OpenAPI document lists them)."""

    async def endpoint(request: Request, **params: str) -> Response:
        return await answer(request, params)

    keyword = inspect.Parameter.KEYWORD_ONLY
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
            ),
            *(inspect.Parameter(p, keyword, annotation=str) for p in parameters_of(path)),
        ],
        return_annotation=Response,
    )
    endpoint.__name__ = name
    return endpoint


async def _error_answer(request: Request, exc: Exception) -> Response:
    """The FastAPI routes' answer to a ``LoopmlError``: its protocol's ``error_response``."""
    assert isinstance(exc, LoopmlError)  # registered for LoopmlError only
    return protocols.protocol_for(request.scope["path"]).error_response(exc)


def _metrics(state: ServingState) -> Callable[[], Awaitable[Response]]:
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type=state.metrics.content_type)

    return metrics


__all__ = ["ServingApp", "ServingState", "create_app"]
