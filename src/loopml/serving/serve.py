"""One scoring request, whatever its protocol.

Body (size-limited), parse into columns (the protocol's ``Scoring.parse``), one
micro-batched model call (time-limited), explanations if asked for, the protocol's answer
body, and an entry queued for the prediction log (and the shadow model's score). A
``LoopmlError`` is answered by the protocol's ``error_response``: malformed input is always
a 4xx naming the problem.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from fastapi import Request, Response

from loopml.errors import LoopmlError, PredictionInputError
from loopml.serving.deployment import Deployment
from loopml.serving.engine import Scored
from loopml.serving.predlog import Entry
from loopml.serving.protocols.base import Parse, Protocol, RequestTimeout, Scoring, check_model
from loopml.serving.schema import Columns, rows_of
from loopml.serving.state import ServingState

_REQUEST_ID = re.compile(r"^[\w.-]{1,64}$")
MAX_APPROXIMATE_ROWS = 20  # rows a request may have explained by the permutation explainer


class BodyTooLarge(PredictionInputError):
    """The body is over ``limits.max_body_bytes`` (HTTP 413)."""

    http_status = 413


async def serve(
    state: ServingState,
    protocol: Protocol,
    scoring: Scoring,
    request: Request,
    params: Mapping[str, str],
) -> Response:
    """Answer one scoring request (see the module's docstring).

    Parameters
    ----------
    state : ServingState
        The server.
    protocol : Protocol
        The protocol of the route: its error shape.
    scoring : Scoring
        The route's parsing, encoding and explanation rule.
    request : Request
        The request; its body is read here.
    params : Mapping[str, str]
        The path parameters (``{"name": ...}`` for the Open Inference Protocol).

    Returns
    -------
    Response
        200 with the protocol's body, or the protocol's error answer.
    """
    if scoring.model_param is not None:
        try:
            check_model(state, params[scoring.model_param])
        except LoopmlError as exc:
            return protocol.error_response(exc)
    started, arrived = time.perf_counter(), time.time()
    metrics = state.metrics
    metrics.in_flight.inc()
    deployment, role = state.route()
    deployment.active += 1
    deployment.batcher.arriving += 1
    status, submitted, endpoint = 500, False, scoring.endpoint
    try:
        request_id = _request_id(request)
        explain, top_k = explain_options(request, scoring)
        limits = state.settings.limits
        async with asyncio.timeout(limits.request_timeout):
            body = await _read_body(request, limits.max_body_bytes)
            parsed = scoring.parse(body, request.headers.get("content-type"), deployment.schema)
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
        content = scoring.encode(deployment, scored, request_id, parsed, explained)
        status = 200
        latency = (time.perf_counter() - started) * 1000
        call = _Call(deployment, role, endpoint, request_id, arrived)
        shadow_input = (body, request.headers.get("content-type"), scoring.parse)
        _after(state, call, columns, scored, latency, shadow_input)
        return Response(
            content, media_type="application/json", headers={"x-request-id": request_id}
        )
    except LoopmlError as exc:
        answer = protocol.error_response(exc)
        status = answer.status_code
        return answer
    except TimeoutError:
        limit = state.settings.limits.request_timeout
        late = RequestTimeout(f"the request took longer than {limit:g} s (limits.request_timeout)")
        answer = protocol.error_response(late)
        status = answer.status_code
        return answer
    finally:
        if not submitted:
            deployment.batcher.arriving -= 1
        deployment.active -= 1
        metrics.in_flight.dec()
        metrics.observe(endpoint, status, time.perf_counter() - started)


def explain_options(request: Request, scoring: Scoring) -> tuple[bool, int | None]:
    """``?explain=true`` (implied on /explain) and ``?top_k=K``, checked: a bad value is a 4xx."""
    always = scoring.explain == "always"
    if not request.scope.get("query_string"):
        return always, None
    query = request.query_params
    if scoring.explain == "refused" and ("explain" in query or "top_k" in query):
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
