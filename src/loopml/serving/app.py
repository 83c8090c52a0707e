"""The HTTP service: loopml, MLflow and Open Inference protocols over one model (+ challenger).

Everything per model is prepared once, in ``create_app``: the engine (ONNX or native), the
compiled input schema, the model thread. A request is: auth, body (size-limited), parse
into columns, one micro-batched model call (time-limited), a JSON body (orjson), and an
entry queued for the prediction log. Malformed input is always a 4xx naming the problem.
(No ``from __future__ import annotations`` here: FastAPI must see the route types.)
"""

import asyncio
import contextlib
import functools
import gc
import os
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request, Response
from starlette.types import Receive, Scope, Send

from loopml import __version__
from loopml.config import ProjectConfig, ServeConfig
from loopml.core.scoring import ScoringModel
from loopml.errors import NotExplainableError, PredictionInputError
from loopml.serving import openapi, protocols
from loopml.serving.auth import RequireToken, TokenCheck, TokenGuard
from loopml.serving.deployment import Deployment, deploy
from loopml.serving.engine import Scored
from loopml.serving.metrics import Metrics
from loopml.serving.monitoring import add_monitoring
from loopml.serving.predlog import DROP_REASONS, Entry, PredictionLog
from loopml.serving.reload import ModelSource, watch
from loopml.serving.schema import (
    Columns,
    FieldError,
    FieldErrors,
    InputSchema,
    Parsed,
    RowsTooMany,
    json_schema,
    rows_of,
)
from loopml.tracking.models import LoadedModel

MAX_ROWS = 10_000
_REQUEST_ID = re.compile(r"^[\w.-]{1,64}$")


class BodyTooLarge(PredictionInputError):
    """The body is over ``limits.max_body_bytes`` (HTTP 413)."""


@dataclass
class ServingState:
    settings: ServeConfig
    metrics: Metrics
    tokens: TokenCheck
    champion: Deployment
    challenger: Deployment | None = None
    prediction_log: PredictionLog | None = None
    source: ModelSource | None = None
    ready: bool = False
    rng: random.Random = field(default_factory=random.Random)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    problems: dict[str, str] = field(default_factory=dict)  # role -> what is wrong (reload)
    jobs: list[Callable[[], Coroutine[Any, Any, None]]] = field(
        default_factory=list
    )  # run while serving

    @property
    def status(self) -> str:
        """ok, degraded (serving, but something needs a human) or loading."""
        if not self.ready:
            return "loading"
        return "degraded" if self.problems else "ok"

    def route(self) -> tuple[Deployment, str]:
        """The deployment answering this request, and its role in the log."""
        rollout = self.settings.rollout
        if (
            self.challenger is not None
            and rollout.mode == "canary"
            and self.rng.random() < rollout.canary_share
        ):
            return self.challenger, "canary"
        return self.champion, "champion"

    def notes(self) -> list[str]:
        lines = [f"{d.role} {d.name} v{d.version}: {d.note}" for d in self._deployments()]
        return lines

    def _deployments(self) -> list[Deployment]:
        return [d for d in (self.champion, self.challenger) if d is not None]


Answer = Callable[[Request], Awaitable[Response]]


class ServingApp(FastAPI):
    """FastAPI, with the prediction endpoints (``POST /predict``, ``/explain``,
    ``/invocations``, ``/v2/models/{name}/infer``) answered before FastAPI's middleware
    stack, routing and dependency solving: measured in process, a route that answers at
    once costs 61 µs through FastAPI against 16 µs through Starlette, of the ~300 µs a
    prediction takes (``benchmarks/bench_serving_inprocess.py``). The same handlers and the
    same token check (``TokenGuard``) answer them; they stay declared as FastAPI routes, so
    the OpenAPI document lists them. Everything else goes through FastAPI as usual. An
    unexpected error reaches uvicorn, which answers 500 and logs it, as FastAPI's outer
    middleware does."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.guard: TokenGuard | None = None
        self.answers: dict[str, Answer] = {}
        self.infer: Callable[[str, Request], Awaitable[Response]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            answer = self._answer_for(scope["path"])
            if answer is not None:
                if self.guard is not None and await self.guard.refuse(scope, send):
                    return
                scope["app"] = self
                response = await answer(Request(scope, receive))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _answer_for(self, path: str) -> Answer | None:
        answer = self.answers.get(path)
        if answer is not None or self.infer is None:
            return answer
        # /v2/models/{name}/infer, with {name} one path segment, as FastAPI matches it
        if path.startswith("/v2/models/") and path.endswith("/infer") and path.count("/") == 4:
            infer, name = self.infer, path[len("/v2/models/") : -len("/infer")]
            if name:
                return lambda request: infer(name, request)
        return None


def create_app(
    model: ScoringModel | LoadedModel,
    settings: ServeConfig | None = None,
    *,
    challenger: LoadedModel | None = None,
    tokens: TokenCheck | None = None,
    prediction_log: PredictionLog | None = None,
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
        lifespan=_lifespan(state),
    )
    app.state.serving = state
    app.guard = TokenGuard(state.tokens, settings.auth)
    app.add_middleware(RequireToken, guard=app.guard)
    if prediction_log is not None:
        for reason in DROP_REASONS:
            metrics.log_dropped.labels(reason)  # shown at 0 from the start
        prediction_log.on_drop = lambda reason, count: metrics.log_dropped.labels(reason).inc(count)
    _health_routes(app, state)
    _prediction_routes(app, state)
    add_monitoring(app, state, project)
    return app


def _lifespan(
    state: ServingState,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = _reload_tasks(state)
        freeze_heap()
        tasks += [asyncio.get_running_loop().create_task(job()) for job in state.jobs]
        state.ready = True
        try:
            yield
        finally:
            state.ready = False
            for task in tasks:
                task.cancel()
            for deployment in state._deployments():
                await deployment.retire()
            if state.prediction_log is not None:
                await asyncio.to_thread(state.prediction_log.close)
            state.metrics.process_exits()

    return lifespan


def _reload_tasks(state: ServingState) -> list[asyncio.Task[None]]:
    interval = state.settings.reload_interval
    if state.source is None or interval <= 0:
        return []
    loop = asyncio.get_running_loop()
    watched = [("champion", state.settings.alias)]
    if state.challenger is not None:
        watched.append(("challenger", state.settings.rollout.challenger))
    return [
        loop.create_task(
            watch(
                state.source,
                alias,
                functools.partial(_version_of, state, role),
                functools.partial(_switch, state, role),
                interval,
                functools.partial(_count_reload, state),
                functools.partial(_set_problem, state, role),
            )
        )
        for role, alias in watched
    ]


def _count_reload(state: ServingState, outcome: str) -> None:
    state.metrics.reloads.labels(outcome).inc()


def _set_problem(state: ServingState, role: str, problem: str | None) -> None:
    if problem is None:
        state.problems.pop(role, None)
    else:
        state.problems[role] = problem


def _version_of(state: ServingState, role: str) -> str | None:
    deployment = state.champion if role == "champion" else state.challenger
    return deployment.loaded.model.version if deployment else None


async def _switch(state: ServingState, role: str, loaded: LoadedModel) -> None:
    """Deploy the new version off the event loop, swap it in, retire the old one."""
    fresh = await asyncio.to_thread(deploy, loaded, role, state.settings, state.metrics)
    if role == "champion":
        old, state.champion = state.champion, fresh
    else:
        old, state.challenger = state.challenger, fresh  # type: ignore[assignment]
    if old is not None:
        await old.retire()
    freeze_heap()  # the new model's objects join the frozen generation


def freeze_heap() -> None:
    """Move every object alive now (the loaded, warmed models, the app) out of the garbage
    collector's reach: full collections then scan only what requests allocate, not ~400k
    long-lived objects (they were most of the p99 latency under load). After a hot reload
    the retired model is unfrozen first, so its cycles are collected, not kept."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


# --- health, readiness, metrics, version ---


def _health_routes(app: FastAPI, state: ServingState) -> None:
    for path, handler, summary in (
        ("/health", _health, "Model and readiness (503 while loading)."),
        ("/ping", _ping, "MLflow scoring protocol: 200 when ready."),
        ("/version", _version, "MLflow scoring protocol: the MLflow version."),
        ("/live", _live, "Liveness: the process answers."),
        ("/ready", _ready, "Readiness: the model is loaded and warmed up."),
        ("/v2/health/live", _live, "Open Inference Protocol: liveness."),
        ("/v2/health/ready", _ready, "Open Inference Protocol: readiness."),
        ("/metrics", _metrics, "Prometheus metrics."),
    ):
        app.add_api_route(path, _open_route(state, handler), methods=["GET"], summary=summary)


def _open_route(
    state: ServingState, handler: Callable[[ServingState], Response]
) -> Callable[[], Any]:
    """Health and metrics (auth: ``RequireToken``, open unless ``auth.protect_health``)."""

    async def route() -> Response:
        return handler(state)

    return route


def _health(state: ServingState) -> Response:
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
    return _json(body, 200 if state.ready else 503)


def _ping(state: ServingState) -> Response:
    return Response("\n", status_code=200 if state.ready else 503, media_type="application/json")


def _ready(state: ServingState) -> Response:
    return _json({"ready": state.ready}, 200 if state.ready else 503)


def _live(state: ServingState) -> Response:
    return _json({"live": True})


def _version(state: ServingState) -> Response:
    import mlflow

    return Response(mlflow.__version__, media_type="text/plain")


def _metrics(state: ServingState) -> Response:
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


# --- prediction endpoints ---

Parse = Callable[[bytes, str | None, InputSchema], Parsed]
Respond = Callable[[Deployment, Scored, str, Parsed, dict[str, Any] | None], bytes]
ErrorBody = Callable[[str, int], bytes]


def _prediction_routes(app: ServingApp, state: ServingState) -> None:
    record = json_schema(state.champion.schema)
    limits = state.settings.limits

    async def predict(request: Request) -> Response:
        return await _serve(state, request, "predict", protocols.loopml_columns, _loopml, _detail)

    async def explain(request: Request) -> Response:
        return await _serve(state, request, "explain", protocols.loopml_columns, _loopml, _detail)

    async def invocations(request: Request) -> Response:
        return await _serve(
            state, request, "invocations", protocols.mlflow_columns, _mlflow, _mlflow_error
        )

    async def infer(name: str, request: Request) -> Response:
        if name != state.champion.name:
            return _json(
                {"error": f"unknown model {name!r}; this server has {state.champion.name!r}"}, 404
            )
        return await _serve(state, request, "v2_infer", _oip_parse, _oip, _oip_error)

    async def model_metadata(name: str) -> Response:
        dep = state.champion
        if name != dep.name:
            return _json({"error": f"unknown model {name!r}; this server has {dep.name!r}"}, 404)
        columns = dep.loaded.model.columns
        return _json(
            protocols.oip_metadata(dep.name, dep.version, columns, dep.classes, dep.regression)
        )

    async def model_ready(name: str) -> Response:
        known = name == state.champion.name
        return _json(
            {"name": name, "ready": state.ready and known},
            200 if known and state.ready else 404 if not known else 503,
        )

    routes: list[tuple[str, Callable[..., Any], str, str, dict[str, Any] | None]] = [
        (
            "/predict",
            predict,
            "POST",
            "loopml protocol: records in; predictions, probabilities, abstained out.",
            openapi.predict_body(record, limits.max_rows),
        ),
        (
            "/explain",
            explain,
            "POST",
            "loopml protocol with attributions: the /predict body in; predictions and, per row, "
            "base_value, output, space and contributions per input column out (?top_k=K).",
            openapi.predict_body(record, limits.max_rows),
        ),
        (
            "/invocations",
            invocations,
            "POST",
            "MLflow scoring protocol.",
            openapi.invocations_body(record),
        ),
        (
            "/v2/models/{name}/infer",
            infer,
            "POST",
            "Open Inference Protocol v2: inference.",
            openapi.infer_body(),
        ),
        ("/v2/models/{name}", model_metadata, "GET", "Open Inference Protocol v2: metadata.", None),
        (
            "/v2/models/{name}/ready",
            model_ready,
            "GET",
            "Open Inference Protocol v2: readiness.",
            None,
        ),
    ]
    for path, handler, method, summary, body in routes:
        extra = {"requestBody": body} if body else None
        app.add_api_route(path, handler, methods=[method], summary=summary, openapi_extra=extra)
    app.answers = {"/predict": predict, "/explain": explain, "/invocations": invocations}
    app.infer = infer


async def _serve(
    state: ServingState,
    request: Request,
    endpoint: str,
    parse: Parse,
    respond: Respond,
    error_body: ErrorBody,
) -> Response:
    started, arrived = time.perf_counter(), time.time()
    metrics = state.metrics
    metrics.in_flight.inc()
    deployment, role = state.route()
    deployment.active += 1
    deployment.batcher.arriving += 1
    status, submitted = 500, False
    try:
        request_id = _request_id(request)
        explain, top_k = explain_options(request, endpoint)
        async with asyncio.timeout(state.settings.limits.request_timeout):
            body = await _read_body(request, state.settings.limits.max_body_bytes)
            parsed = parse(body, request.headers.get("content-type"), deployment.schema)
            columns = parsed.columns
            deployment.batcher.arriving -= 1
            submitted = True
            scored = await deployment.batcher.score(columns)
            explained = (
                await asyncio.get_running_loop().run_in_executor(
                    deployment.explain_thread, explained_body, deployment, columns, top_k
                )
                if explain
                else None
            )
        content = respond(deployment, scored, request_id, parsed, explained)
        status = 200
        latency = (time.perf_counter() - started) * 1000
        call = _Call(deployment, role, endpoint, request_id, arrived)
        _after(
            state,
            call,
            columns,
            scored,
            latency,
            (body, request.headers.get("content-type"), parse),
        )
        return Response(
            content, media_type="application/json", headers={"x-request-id": request_id}
        )
    except (PredictionInputError, NotExplainableError) as exc:
        status = _status_of(exc, endpoint)
        loopml_shape = endpoint in ("predict", "explain")
        content = _field_detail(exc) if loopml_shape else error_body(str(exc), status)
        return Response(content, status_code=status, media_type="application/json")
    except TimeoutError:
        status = 408
        limit = state.settings.limits.request_timeout
        message = f"the request took longer than {limit:g} s (limits.request_timeout)"
        return Response(
            error_body(message, status), status_code=status, media_type="application/json"
        )
    finally:
        if not submitted:
            deployment.batcher.arriving -= 1
        deployment.active -= 1
        metrics.in_flight.dec()
        metrics.observe(endpoint, status, time.perf_counter() - started)


def _status_of(exc: PredictionInputError | NotExplainableError, endpoint: str) -> int:
    if isinstance(exc, BodyTooLarge | RowsTooMany):
        return 413
    if isinstance(exc, protocols.UnsupportedMediaType):
        return 415
    if isinstance(exc, NotExplainableError):
        return 422
    return 422 if endpoint in ("predict", "explain") else 400


def explain_options(request: Request, endpoint: str) -> tuple[bool, int | None]:
    """``?explain=true`` (implied on /explain) and ``?top_k=K``, checked: a bad value is a 4xx."""
    always = endpoint == "explain"
    if not request.scope.get("query_string"):
        return always, None
    query = request.query_params
    if endpoint == "v2_infer" and ("explain" in query or "top_k" in query):
        raise PredictionInputError(
            "explain is not part of the Open Inference Protocol here; use POST /explain, or "
            "/predict?explain=true or /invocations?explain=true"
        )
    flag = query.get("explain", "true" if always else "false").strip().lower()
    if flag not in ("true", "false", "1", "0"):
        raise PredictionInputError(f"explain={flag!r}: use explain=true or explain=false")
    explain = always or flag in ("true", "1")
    raw = query.get("top_k")
    if raw is None:
        return explain, None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) < 1:
        raise PredictionInputError(f"top_k={raw!r}: use a whole number of columns, 1 or more")
    if not explain:
        raise PredictionInputError(
            "top_k applies to explanations; add explain=true or use /explain"
        )
    return explain, int(raw)


MAX_APPROXIMATE_ROWS = 20  # rows a request may have explained by the permutation explainer


def explained_body(deployment: Deployment, columns: Columns, top_k: int | None) -> dict[str, Any]:
    """``explanations`` (one object per row) and ``explainer`` (what is explained, how) for
    a response; runs in the deployment's explain thread (a slow explanation never holds up
    predictions). The preprocessing runs on the deployment's
    feature graph (ONNX, checked equal to scikit-learn's) when it has one; the attributions
    on the model's own estimator."""
    model = deployment.loaded.model
    rows = rows_of(columns)
    if not model.explainer().exact and rows > MAX_APPROXIMATE_ROWS:
        raise PredictionInputError(
            f"{rows} rows to explain: {model.explainer().method} takes about half a second "
            f"a row, so a request explains at most {MAX_APPROXIMATE_ROWS}; send fewer rows, or "
            "explain a file with loopml predict FILE -o OUT --explain"
        )
    graph = deployment.feature_graph()
    if graph is None:
        frame = pd.DataFrame({name: columns[name] for name in model.feature_names})
        found = model.explainer().explain(frame)
    else:
        found = model.explainer().explain_encoded(graph.run(columns))
    return {"explanations": found.records(top_k), "explainer": found.about()}


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(
            f"the body has {int(declared):,} bytes; the limit is {limit:,} (limits.max_body_bytes)"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over {limit:,} bytes (limits.max_body_bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    if given and _REQUEST_ID.match(given):
        return given
    return os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID


@dataclass(frozen=True)
class _Call:
    """One scoring of one request: by which deployment, in which role, through which endpoint."""

    deployment: Deployment
    role: str  # champion | canary | shadow
    endpoint: str
    request_id: str
    arrived: float


def _after(
    state: ServingState,
    call: _Call,
    columns: Columns,
    scored: Scored,
    latency_ms: float,
    shadow_input: tuple[bytes, str | None, Parse],
) -> None:
    """Count abstentions, queue the log entry, and score the shadow: all off the response."""
    deployment = call.deployment
    abstained = int(scored.abstained.sum())
    if abstained:
        state.metrics.abstentions.labels(deployment.role).inc(abstained)
    rows = len(scored.predictions)
    state.metrics.predictions.labels(deployment.role, deployment.version).inc(rows)
    _log(state, call, columns, scored, latency_ms)
    challenger = state.challenger
    if challenger is not None and state.settings.rollout.mode == "shadow":
        shadow = _Call(challenger, "shadow", call.endpoint, call.request_id, call.arrived)
        task = asyncio.get_running_loop().create_task(_shadow(state, shadow, shadow_input))
        state.background.add(task)
        task.add_done_callback(state.background.discard)


async def _shadow(
    state: ServingState, call: _Call, shadow_input: tuple[bytes, str | None, Parse]
) -> None:
    started = time.perf_counter()
    body, content_type, parse = shadow_input
    challenger = call.deployment
    challenger.active += 1
    try:
        columns = parse(body, content_type, challenger.schema).columns
        scored = await challenger.batcher.score(columns)
    except Exception:  # the shadow never affects the answer; a failure is only not logged
        return
    finally:
        challenger.active -= 1
    _log(state, call, columns, scored, (time.perf_counter() - started) * 1000)


def _log(
    state: ServingState, call: _Call, columns: Columns, scored: Scored, latency_ms: float
) -> None:
    if state.prediction_log is None:
        return
    deployment = call.deployment
    entry = Entry(
        call.request_id,
        call.arrived,
        deployment.name,
        deployment.version,
        call.role,
        deployment.engine.name,
        call.endpoint,
        columns,
        scored,
        latency_ms,
    )
    state.prediction_log.append(entry)  # a full queue counts the drop itself


# --- per-protocol bodies ---


def _loopml(
    deployment: Deployment,
    scored: Scored,
    request_id: str,
    parsed: Parsed,
    explained: dict[str, Any] | None,
) -> bytes:
    return protocols.loopml_response(
        scored, deployment.classes, deployment.info, request_id, parsed.ids, explained
    )


def _mlflow(
    deployment: Deployment,
    scored: Scored,
    request_id: str,
    parsed: Parsed,
    explained: dict[str, Any] | None,
) -> bytes:
    return protocols.mlflow_response(scored, explained)


def _oip(
    deployment: Deployment,
    scored: Scored,
    request_id: str,
    parsed: Parsed,
    explained: dict[str, Any] | None,
) -> bytes:
    return protocols.oip_response(
        scored, deployment.name, deployment.version, request_id, deployment.regression
    )


def _oip_parse(body: bytes, content_type: str | None, schema: InputSchema) -> Parsed:
    return protocols.oip_columns(body, schema)[0]


def _detail(message: str, status: int) -> bytes:
    return protocols.orjson.dumps(
        {"detail": [{"loc": ["body"], "msg": message, "type": "value_error"}]}
    )


def _field_detail(exc: PredictionInputError | NotExplainableError) -> bytes:
    """FastAPI's validation-error shape: {"detail": [{"loc", "msg", "type"}]}."""
    errors = exc.errors if isinstance(exc, FieldErrors) else [exc]
    detail = []
    for error in errors:
        location: list[Any] = ["body", "records"]
        if isinstance(error, FieldError):
            location += list(error.location)
        detail.append({"loc": location, "msg": str(error), "type": "value_error"})
    return protocols.orjson.dumps({"detail": detail})


def _mlflow_error(message: str, status: int) -> bytes:
    code = "UNAUTHENTICATED" if status == 401 else "BAD_REQUEST"
    return protocols.mlflow_error(message, code)


def _oip_error(message: str, status: int) -> bytes:
    return protocols.orjson.dumps({"error": message})


def _json(body: Any, status: int = 200) -> Response:
    return Response(protocols.orjson.dumps(body), status_code=status, media_type="application/json")


__all__ = ["MAX_ROWS", "ServingState", "create_app"]
