"""A server's life: start (reload watchers, background jobs, a frozen heap), hot reloads of
the served aliases, and stop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from loopml.serving.deployment import deploy
from loopml.serving.reload import watch
from loopml.serving.state import ServingState
from loopml.tracking.models import LoadedModel


def lifespan(
    state: ServingState,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The server's lifespan: on start, the reload watchers and ``state.jobs`` run, the heap
    is frozen, and the server is ready; on stop, they are cancelled, the deployments
    retired and the prediction log flushed and closed."""

    @contextlib.asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
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

    return run


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
