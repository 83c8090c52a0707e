"""Micro-batching: a fast model's small batches are scored in the event loop, a slow
model's in its thread, and one bad request never fails the others."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from loopml.core.data.contract import ColumnRule, DataContract
from loopml.core.scoring import ColumnSpec
from loopml.serving.batching import MicroBatcher
from loopml.serving.engine import INLINE_ROWS, Scored, inline_rows
from loopml.serving.schema import Columns, InputSchema

SCHEMA = InputSchema(
    [ColumnSpec("x", "numeric")],
    DataContract(target="y", columns=(ColumnRule("x", "number", role="numeric"),)),
    max_rows=10_000,
)


class Doubling:
    """An engine that predicts 2x, after ``pause_s``, noting which thread scored each call;
    a negative x is an error (a request the model cannot score)."""

    name = "doubling"

    def __init__(self, pause_s: float = 0.0, refuse_missing: bool = False):
        self.pause_s, self.refuse_missing = pause_s, refuse_missing
        self.threads: list[str] = []

    def score(self, columns: Columns) -> Scored:
        self.threads.append(threading.current_thread().name)
        if self.pause_s:
            time.sleep(self.pause_s)
        x = columns["x"]
        if (x < 0).any() or (self.refuse_missing and np.isnan(x).any()):
            raise ValueError("x must be a number, 0 or more")
        return Scored(x * 2, None, np.zeros(len(x), dtype=bool))


def _rows(*values: float) -> Columns:
    return {"x": np.array(values, dtype=np.float64)}


def test_a_fast_model_is_scored_in_the_event_loop_and_a_large_batch_in_its_thread() -> None:
    engine = Doubling()
    assert inline_rows(engine, SCHEMA) == INLINE_ROWS

    async def run() -> tuple[list[float], list[float]]:
        batcher = MicroBatcher(engine, inline_rows=INLINE_ROWS)
        small = await batcher.score(_rows(1.0, 2.0))
        large = await batcher.score(_rows(*range(INLINE_ROWS + 1)))
        await batcher.stop()
        return small.predictions.tolist(), large.predictions.tolist()

    engine.threads.clear()
    small, large = asyncio.run(run())
    assert small == [2.0, 4.0] and large == [2.0 * i for i in range(INLINE_ROWS + 1)]
    assert engine.threads[0] == threading.main_thread().name
    assert engine.threads[1].startswith("loopml-model")


def test_a_slow_model_keeps_the_event_loop_free() -> None:
    assert inline_rows(Doubling(pause_s=0.002), SCHEMA) == 0


def test_a_model_that_cannot_score_missing_rows_stays_in_its_thread() -> None:
    # the timing is made on all-missing rows
    assert inline_rows(Doubling(refuse_missing=True), SCHEMA) == 0


@pytest.mark.parametrize("inline", [0, INLINE_ROWS])
def test_one_bad_request_fails_alone(inline: int) -> None:
    engine = Doubling()

    async def run() -> list[object]:
        batcher = MicroBatcher(engine, inline_rows=inline, max_wait=0.05)
        batcher.arriving = 3  # three requests on their way: one batch
        tasks = [
            asyncio.create_task(batcher.score(rows))
            for rows in (_rows(1.0), _rows(-1.0), _rows(3.0))
        ]
        batcher.arriving = 0
        found = await asyncio.gather(*tasks, return_exceptions=True)
        await batcher.stop()
        return [f if isinstance(f, Exception) else f.predictions.tolist() for f in found]

    good, bad, other = asyncio.run(run())
    assert len(engine.threads) == 4  # the batch of three failed, then each alone
    assert good == [2.0] and other == [6.0]
    assert isinstance(bad, ValueError)
