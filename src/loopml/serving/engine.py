"""Engines score ``Columns``: the compiled ONNX graph or the native scikit-learn pipeline.

``choose_engine`` picks one for ``serve.engine`` (auto | native | onnx) and says why, so
the server can print it at startup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from loopml.core.compile import OnnxPredictor, column_feeds, thresholded
from loopml.core.scoring import ScoringModel
from loopml.errors import ConfigError
from loopml.serving.schema import Columns, rows_of

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
    """The scikit-learn pipeline through ``ScoringModel.score_frame`` (abstention included)."""

    name = "native"

    def __init__(self, model: ScoringModel):
        self.model = model
        self._proba = [f"proba_{label}" for label in model.classes]

    def score(self, columns: Columns) -> Scored:
        frame = pd.DataFrame(columns, columns=self.model.feature_names)
        scored = self.model.score_frame(frame)
        proba = None
        if self._proba and self._proba[0] in scored:
            proba = scored[self._proba].to_numpy(dtype=np.float64)
        abstained = (
            scored["abstained"].to_numpy(dtype=bool)
            if "abstained" in scored
            else np.zeros(len(scored), dtype=bool)
        )
        return Scored(scored["prediction"].to_numpy(), proba, abstained)


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
        predictions, proba = self.predictor.run(column_feeds(columns, self.inputs))
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


def warm_up(engine: Engine, model: ScoringModel) -> None:
    """Score one all-missing row, so the first request pays no lazy initialisation."""
    columns: dict[str, Any] = {}
    for spec in model.columns:
        if spec.role == "numeric":
            columns[spec.name] = np.array([np.nan])
        else:
            array = np.empty(1, dtype=object)
            columns[spec.name] = array
    try:
        engine.score(columns)
    except Exception:  # warm-up is best effort; real requests report their own errors
        return


def concat_columns(parts: list[Columns]) -> Columns:
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


__all__ = ["Engine", "NativeEngine", "OnnxEngine", "Scored", "choose_engine", "rows_of"]
