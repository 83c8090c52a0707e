"""Engines score ``Columns``: the compiled ONNX graph or the native scikit-learn pipeline.

``choose_engine`` picks one for ``serve.engine`` (auto | native | onnx) and says why, so
the server can print it at startup.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from loopml.core.compile import OnnxPredictor, thresholded
from loopml.core.scoring import ScoringModel
from loopml.errors import ConfigError
from loopml.serving.schema import Columns, InputSchema, rows_of

if TYPE_CHECKING:  # the prediction log imports Scored from here without loading MLflow
    from loopml.tracking.models import LoadedModel


@dataclass(frozen=True)
class Scored:
    predictions: np.ndarray
    probabilities: np.ndarray | None  # rows × classes, classifiers only
    abstained: np.ndarray  # bool per row

    def slice(self, start: int, stop: int) -> Scored:
        proba = None if self.probabilities is None else self.probabilities[start:stop]
        return Scored(self.predictions[start:stop], proba, self.abstained[start:stop])


class Engine(Protocol):
    name: str

    def score(self, columns: Columns) -> Scored: ...


class NativeEngine:
    """The scikit-learn pipeline on columns the schema has already read through the data
    contract (so values are not read twice), with the model's confidence threshold applied
    as ``ScoringModel.score_frame`` applies it."""

    name = "native"

    def __init__(self, model: ScoringModel):
        self.model = model
        self.pipeline = model.pipeline
        self._proba = model.task == "classification" and hasattr(model.pipeline, "predict_proba")

    def score(self, columns: Columns) -> Scored:
        features = pd.DataFrame({name: columns[name] for name in self.model.feature_names})
        predictions = np.asarray(self.pipeline.predict(features))
        proba = None
        if self._proba:
            proba = np.asarray(self.pipeline.predict_proba(features), dtype=np.float64)
        predictions, abstained = thresholded(self.model, predictions, proba)
        return Scored(predictions, proba, abstained)


class OnnxEngine:
    """The compiled graph on ONNX Runtime, one thread; the model's confidence threshold, if
    it has one, applied to the graph's probabilities as ``score_frame`` applies it."""

    name = "onnx"

    def __init__(self, loaded: LoadedModel):
        assert loaded.compiled is not None
        self.model = loaded.model
        self.inputs = loaded.compiled.inputs
        self.predictor = OnnxPredictor(
            loaded.compiled.onnx, self.inputs, self.model.task, list(self.model.classes), threads=1
        )

    def score(self, columns: Columns) -> Scored:
        predictions, proba = self.predictor.run(self.predictor.feeds(columns))
        predictions, abstained = thresholded(self.model, predictions, proba)
        return Scored(predictions, proba, abstained)


def choose_engine(loaded: LoadedModel, mode: str) -> tuple[Engine, str]:
    """The engine for ``mode`` and a sentence saying which and why."""
    if mode == "native":
        return NativeEngine(loaded.model), "native engine (serve.engine=native)"
    problem = _why_not_onnx(loaded)
    if problem is None:
        return OnnxEngine(loaded), f"ONNX engine ({loaded.compile_note})"
    if mode == "onnx":
        raise ConfigError(
            f"serve.engine=onnx but {loaded.model.describe()} cannot use it: {problem}; "
            "use --engine auto or native"
        )
    return NativeEngine(loaded.model), f"native engine, because {problem}"


def _why_not_onnx(loaded: LoadedModel) -> str | None:
    return loaded.compile_note if loaded.compiled is None else None


def warm_up(engine: Engine, schema: InputSchema) -> None:
    """Score one all-missing row, so the first request pays no lazy initialisation."""
    try:
        engine.score(schema.missing_row())
    except Exception:  # warm-up is best effort; real requests report their own errors
        return


INLINE_ROWS = 64  # the largest batch the event loop may score itself
INLINE_BUDGET_S = 1e-3  # ... when the model scores that many rows in less than this


def inline_rows(engine: Engine, schema: InputSchema) -> int:
    """How many rows a batch may have to be scored in the event loop instead of the model
    thread: ``INLINE_ROWS`` when the engine scores that many (all-missing) rows in under
    ``INLINE_BUDGET_S`` (best of 3), else 0. For a fast model, handing a small batch to the
    thread and back costs more than scoring it (60-90 µs against ~80 µs for a one-row
    100-tree forest on ONNX Runtime); a slow model keeps the event loop free."""
    missing = schema.missing_row()
    batch = concat_columns([missing] * INLINE_ROWS)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        try:
            engine.score(batch)
        except Exception:  # a model that cannot score missing rows: keep it in its thread
            return 0
        best = min(best, time.perf_counter() - started)
    return INLINE_ROWS if best < INLINE_BUDGET_S else 0


def concat_columns(parts: list[Columns]) -> Columns:
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


__all__ = ["Engine", "NativeEngine", "OnnxEngine", "Scored", "choose_engine", "rows_of"]
