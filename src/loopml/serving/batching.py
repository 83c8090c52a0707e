"""Micro-batching: requests that arrive together are scored in one model call.

One model thread per batcher. While it works, new requests queue; the next call takes
all of them (up to ``max_batch_size`` rows). A request waits up to ``max_wait`` seconds for
others only while more requests are on their way (parsed but not yet queued), so a lone
client never waits. A batch of at most ``inline_rows`` rows is scored in the event loop
itself, without the hand-off to the thread (``engine.inline_rows`` decides it per model:
only a fast model is scored there).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from loopml.serving.engine import Engine, Scored, concat_columns
from loopml.serving.schema import Columns, rows_of

T = TypeVar("T")


@dataclass
class _Pending:
    columns: Columns
    rows: int
    future: asyncio.Future[Scored]
    queued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    def __init__(
        self,
        engine: Engine,
        *,
        max_batch_size: int = 256,
        max_wait: float = 0.002,
        enabled: bool = True,
        on_batch: Callable[[int], None] | None = None,
        inline_rows: int = 0,
    ):
        self.engine = engine
        self.max_rows = max_batch_size if enabled else 1
        self.max_wait = max_wait if enabled else 0.0
        self.on_batch = on_batch or (lambda rows: None)
        self.inline_rows = inline_rows
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loopml-model")
        self.arriving = 0  # requests being parsed: worth a short wait
        self._pending: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Finish what is queued, then stop the model thread."""
        while self._pending:
            await asyncio.sleep(0.001)
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.executor.shutdown(wait=True)

    async def score(self, columns: Columns) -> Scored:
        self.start()
        future: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(columns, rows_of(columns), future))
        self._wake.set()
        return await future

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in the model thread, after the batches queued before it."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, work, *args)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
            await self._gather_more()
            batch = self._take()
            if batch:
                await self._score(loop, batch)

    async def _gather_more(self) -> None:
        deadline = time.perf_counter() + self.max_wait
        while (
            self.arriving > 0
            and self._queued_rows() < self.max_rows
            and time.perf_counter() < deadline
        ):
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), deadline - time.perf_counter())
            except TimeoutError:
                break

    def _queued_rows(self) -> int:
        return sum(p.rows for p in self._pending)

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        rows = 0
        while self._pending and (not batch or rows + self._pending[0].rows <= self.max_rows):
            item = self._pending.popleft()
            if not item.future.cancelled():
                batch.append(item)
                rows += item.rows
        return batch

    async def _score(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        rows = sum(p.rows for p in batch)
        self.on_batch(rows)
        try:
            columns = concat_columns([p.columns for p in batch])
            if rows <= self.inline_rows:
                scored = self.engine.score(columns)
            else:
                scored = await loop.run_in_executor(self.executor, self.engine.score, columns)
        except Exception as exc:
            if len(batch) > 1:  # one bad request must not fail the others: score each alone
                for item in batch:
                    await self._score(loop, [item])
                return
            _settle(batch[0].future, error=exc)
            return
        start = 0
        for item in batch:
            _settle(item.future, result=scored.slice(start, start + item.rows))
            start += item.rows


def _settle(
    future: asyncio.Future[Scored],
    *,
    result: Scored | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)
