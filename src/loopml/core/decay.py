"""Decay: the model's metric on rows whose true label arrived later, against its test score.

The labelled rows are ordered by prediction time and cut into consecutive chunks of
``every`` rows: one metric value per chunk is the decay-over-time series. The verdict
uses all labelled rows of the window: an alert when the metric is worse than the test
score by more than ``max_drop`` (in the metric's own units) on at least ``min_rows`` rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loopml.config import DecayConfig, Task
from loopml.core.evaluation.metrics import Metric, score
from loopml.core.features import category_key
from loopml.core.jsonable import plain


@dataclass(frozen=True)
class DecayPoint:
    end: str  # prediction time of the chunk's last row (ISO 8601), or "row N" without times
    rows: int
    value: float


@dataclass(frozen=True)
class DecayReport:
    metric: str
    higher_is_better: bool
    reference: float | None  # the model's score on its test split
    current: float | None  # on every labelled row of the window
    rows: int  # labelled rows with a prediction
    judged: bool
    settings: DecayConfig
    series: list[DecayPoint] = field(default_factory=list)
    abstained: int = 0  # labelled rows without a prediction, left out

    @property
    def drop(self) -> float | None:
        """How much worse than at training time (positive is worse)."""
        if self.reference is None or self.current is None:
            return None
        sign = 1.0 if self.higher_is_better else -1.0
        return sign * (self.reference - self.current)

    @property
    def alert(self) -> bool:
        drop = self.drop
        return self.judged and drop is not None and drop > self.settings.max_drop

    def summary(self) -> str:
        if self.reference is None:
            return f"decay not judged: the model has no test {self.metric} to compare with"
        if not self.judged:
            return (
                f"decay not judged: {self.rows} labelled rows < decay.min_rows "
                f"{self.settings.min_rows}"
            )
        assert self.current is not None and self.drop is not None
        verdict = "decayed" if self.alert else "holding"
        return (
            f"{verdict}: {self.metric} {self.current:.4f} on {self.rows} labelled rows vs "
            f"{self.reference:.4f} at training (drop {self.drop:+.4f}, max "
            f"{self.settings.max_drop:g})"
        )

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values.update(
            drop=self.drop,
            alert=self.alert,
            summary=self.summary(),
            settings=self.settings.model_dump(),
        )
        return plain(values)


def assess(
    labelled: pd.DataFrame,
    *,
    task: Task,
    metric: Metric,
    classes: list[str],
    reference: float | None,
    settings: DecayConfig,
) -> DecayReport:
    """Decay on ``labelled`` rows: columns timestamp, label, prediction, proba_<class>."""
    frame = labelled.sort_values("timestamp", kind="stable") if len(labelled) else labelled
    answered = frame[frame["prediction"].notna() & frame["label"].notna()] if len(frame) else frame
    current = _score(answered, task, metric, classes) if len(answered) else None
    return DecayReport(
        metric=metric.name,
        higher_is_better=metric.higher_is_better,
        reference=reference,
        current=current,
        rows=len(answered),
        judged=reference is not None and len(answered) >= settings.min_rows,
        settings=settings,
        series=_series(answered, task, metric, classes, settings.every),
        abstained=len(frame) - len(answered),
    )


def _series(
    frame: pd.DataFrame, task: Task, metric: Metric, classes: list[str], every: int
) -> list[DecayPoint]:
    points = []
    for start in range(0, len(frame) - every + 1, every):
        chunk = frame.iloc[start : start + every]
        value = _score(chunk, task, metric, classes)
        if not math.isnan(value):
            points.append(DecayPoint(_moment(chunk["timestamp"].iloc[-1]), len(chunk), value))
    return points


def _moment(value: Any) -> str:
    """A time as ISO 8601; a row number (rows without times) as 'row N'."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return f"row {int(value) + 1}"


def _score(frame: pd.DataFrame, task: Task, metric: Metric, classes: list[str]) -> float:
    if task == "regression":
        truth = pd.to_numeric(frame["label"], errors="coerce").to_numpy(dtype=float)
        predicted = pd.to_numeric(frame["prediction"], errors="coerce").to_numpy(dtype=float)
        return float(score(metric, truth, predicted, None, None))
    truth = frame["label"].map(category_key).to_numpy(dtype=object)
    predicted = frame["prediction"].map(category_key).to_numpy(dtype=object)
    proba = _probabilities(frame, classes)
    try:
        return float(score(metric, truth, predicted, proba, np.asarray(classes, dtype=object)))
    except ValueError:  # e.g. ROC AUC on a chunk holding one class only
        return float("nan")


def _probabilities(frame: pd.DataFrame, classes: list[str]) -> np.ndarray | None:
    columns = [f"proba_{c}" for c in classes]
    if not classes or any(c not in frame for c in columns):
        return None
    return frame[columns].to_numpy(dtype=float)
