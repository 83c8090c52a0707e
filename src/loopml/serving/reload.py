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
    interval_s: float,
    on_outcome: Callable[[str], None],
) -> None:
    """Poll ``alias`` every ``interval_s``; on a new version, load it and ``switch``."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            version = await asyncio.to_thread(source.version_of, alias)
            if version is None or version == current():
                continue
            loaded = await asyncio.to_thread(source.load, alias)
            if loaded.model.version == current():
                continue
            await switch(loaded)
            on_outcome("switched")
            log.warning("alias %s moved: now serving version %s", alias, loaded.model.version)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep serving the old version; try again next tick
            on_outcome("failed")
            log.warning("reloading alias %s failed: %s", alias, exc)
