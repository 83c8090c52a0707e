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
    """The metric on one chunk of ``every`` consecutive labelled rows.

    Parameters
    ----------
    end : str
        Prediction time of the chunk's last row (ISO 8601), or ``"row N"`` without times.
    rows : int
        Rows in the chunk.
    value : float
        The metric on them, in its own units.
    """

    end: str  # prediction time of the chunk's last row (ISO 8601), or "row N" without times
    rows: int
    value: float


@dataclass(frozen=True)
class DecayReport:
    """The model's metric on late-labelled rows against its test score, and the verdict.

    Parameters
    ----------
    metric : str
        Name of the metric.
    higher_is_better : bool
        Its direction.
    reference : float or None
        The model's score on its test split; None when unknown.
    current : float or None
        The score on every labelled row of the window that has a prediction.
    rows : int
        Labelled rows with a prediction.
    judged : bool
        There is a reference and ``rows >= settings.min_rows``.
    settings : loopml.config.DecayConfig
        ``min_rows``, ``max_drop`` (metric units) and ``every`` (rows per chunk).
    series : list of DecayPoint, default []
        One point per full chunk, in prediction-time order (chunks whose metric is NaN,
        e.g. ROC AUC on a single class, are left out).
    abstained : int, default 0
        Labelled rows without a prediction, left out.
    """

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
        """Judged, and ``drop`` exceeds ``settings.max_drop``."""
        drop = self.drop
        return self.judged and drop is not None and drop > self.settings.max_drop

    def summary(self) -> str:
        """One line: not judged (and why), or "decayed"/"holding" with the scores and the drop.

        Returns
        -------
        str
        """
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
        """The report as JSON-ready values, with ``drop``, ``alert`` and ``summary`` added.

        Returns
        -------
        dict of str to Any
        """
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
    """Decay on ``labelled`` rows: columns timestamp, label, prediction, proba_<class>.

    Rows are sorted by ``timestamp`` (stably); rows missing a prediction or a label are
    left out (counted in ``abstained``). Classification labels and predictions are compared
    as ``category_key`` spellings.

    Parameters
    ----------
    labelled : pandas.DataFrame, shape (n_rows, n_columns)
        Logged predictions joined with their late labels: ``timestamp`` (times, or row
        numbers), ``label``, ``prediction`` and, for probability metrics, one
        ``proba_<class>`` column per class.
    task : {"classification", "regression"}
    metric : loopml.core.evaluation.metrics.Metric
        The metric to follow (the model's selection metric).
    classes : list of str
        The classifier's classes, in ``proba_`` column order (empty for regression).
    reference : float or None
        The model's test score.
    settings : loopml.config.DecayConfig

    Returns
    -------
    DecayReport
    """
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
