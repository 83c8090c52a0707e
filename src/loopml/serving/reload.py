"""Hot reload: when a registry alias moves, load the new version beside the old and switch.

The new version is loaded, compiled into its engine and warmed up in a thread while the
old one keeps serving; the switch is one reference assignment. Requests already holding
the old deployment finish on it; its model thread stops once they are done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from loopml.errors import first_line
from loopml.tracking.models import LoadedModel, alias_version, load_with_compiled

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """Where the served aliases live: the project's registered model and tracking store."""

    model_name: str
    tracking_uri: str

    def version_of(self, alias: str) -> str | None:
        return alias_version(self.model_name, alias, tracking_uri=self.tracking_uri)

    def load(self, alias: str) -> LoadedModel:
        uri = f"models:/{self.model_name}@{alias}"
        return load_with_compiled(uri, tracking_uri=self.tracking_uri)


async def watch(
    source: ModelSource,
    alias: str,
    current: Callable[[], str | None],
    switch: Callable[[LoadedModel], Awaitable[None]],
    interval: float,
    on_outcome: Callable[[str], None],
    on_problem: Callable[[str | None], None] = lambda _: None,
) -> None:
    """Poll ``alias`` every ``interval`` seconds; on a new version, load it and ``switch``.

    An alias that points at no version any more (it was deleted, or its version was) is
    counted once as ``alias_missing``, logged and reported through ``on_problem`` (the
    old version keeps serving, but a restart could not load it); so is a failed reload.
    ``on_problem(None)`` clears it once the alias serves again.
    """
    problem: str | None = None

    def report(message: str | None, outcome: str | None = None) -> None:
        nonlocal problem
        if message != problem:
            if outcome:
                on_outcome(outcome)
            log.warning("%s", message or f"alias {alias} of {source.model_name} serves again")
            on_problem(message)
        problem = message

    while True:
        await asyncio.sleep(interval)
        try:
            version = await asyncio.to_thread(source.version_of, alias)
            if version is None:
                report(_missing(source, alias, current()), "alias_missing")
                continue
            if version == current():
                report(None)
                continue
            loaded = await asyncio.to_thread(source.load, alias)
            if loaded.model.version != current():
                await switch(loaded)
                on_outcome("switched")
                log.warning("alias %s moved: now serving version %s", alias, loaded.model.version)
            report(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep serving the old version; try again next tick
            on_outcome("failed")
            reason = first_line(exc)
            log.warning("reloading alias %s failed: %s", alias, reason)
            report(f"reloading alias {alias} of {source.model_name} failed: {reason}")


def _missing(source: ModelSource, alias: str, serving: str | None) -> str:
    return (
        f"alias {alias} of {source.model_name} points at no version any more (deleted?); "
        f"still serving v{serving}, which a restart cannot load: set the alias again "
        f"(`loopml promote` or `loopml rollback`)"
    )
