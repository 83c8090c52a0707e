"""A trained pipeline with what it needs to score new rows: column specs, task and classes.

Pure: it takes and returns frames and arrays. Loading it from MLflow lives in tracking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from loopml.config import Task
from loopml.core.data.contract import ColumnRule, DataContract
from loopml.core.data.roles import ColumnRoles
from loopml.core.evaluation.threshold import Threshold, apply
from loopml.core.explain import Explainer, Explanations
from loopml.errors import PredictionInputError


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    role: str  # numeric | categorical | text | datetime


def column_specs(roles: ColumnRoles) -> list[ColumnSpec]:
    return [
        ColumnSpec(column, role)
        for role in ("numeric", "categorical", "text", "datetime")
        for column in getattr(roles, role)
    ]


@dataclass
class ScoringModel:
    """What ``loopml.load_model`` returns: predict on frames with the training columns."""

    pipeline: Pipeline
    task: Task
    target: str
    columns: list[ColumnSpec]
    classes: list[Any] = field(default_factory=list)
    id_columns: list[str] = field(default_factory=list)
    name: str | None = None
    version: str | None = None
    run_id: str | None = None
    uri: str | None = None
    threshold: Threshold | None = None  # classifiers: abstain or fall back below it
    contract: DataContract | None = None  # how raw values are read; from the roles if None
    background: pd.DataFrame | None = None  # training rows the explainers measure against

    def __post_init__(self) -> None:
        if self.contract is None:  # a model logged before data contracts: read by role
            self.contract = contract_from_roles(self.columns, self.target, self.id_columns)

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Labels or values; below the confidence threshold, the fallback label or None."""
        features = self.conform(frame)
        predicted = np.asarray(self.pipeline.predict(features))
        if self.threshold is not None and self._gives_proba():
            predicted, _ = apply(predicted, self.pipeline.predict_proba(features), self.threshold)
        return predicted

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.task != "classification" or not hasattr(self.pipeline, "predict_proba"):
            raise PredictionInputError(f"model {self.describe()} gives no class probabilities")
        return np.asarray(self.pipeline.predict_proba(self.conform(frame)))

    def explainer(self) -> Explainer:
        """The model's explainer, prepared on first use and kept (see ``core.explain``).

        Raises ``NotExplainableError`` naming the model kind and the fix."""
        cached = self.__dict__.get("_explainer")
        if cached is None:
            note = ""
            if self.threshold is not None and self._gives_proba():
                note = (
                    f"; the confidence threshold (min_confidence {self.threshold.min_confidence:g})"
                    " applies to the probabilities afterwards"
                )
            cached = Explainer(self.pipeline, self.task, self.feature_names, self.background, note)
            self.__dict__["_explainer"] = cached
        return cached

    def explain(self, frame: pd.DataFrame) -> Explanations:
        """Attributions of each row of ``frame`` (read by the data contract) to the model's
        input columns: the function every entry point (serving, batch, CLI) calls."""
        return self.explainer().explain(self.conform(frame))

    def describe(self) -> str:
        if self.name and self.version:
            return f"{self.name} v{self.version}"
        return self.uri or "model"

    def conform(self, frame: pd.DataFrame, *, source: str = "", first_row: int = 1) -> pd.DataFrame:
        """The feature columns in training order, read through the data contract.

        ``frame`` is rows as written (a file's text cells) or typed; extra columns are
        ignored. Raises ``PredictionInputError`` for a missing column and
        ``DataContractError`` naming the row, column and value for a value that does not
        read (``source`` and ``first_row`` place it in a file).
        """
        missing = [c for c in self.feature_names if c not in frame.columns]
        if missing:
            names = ", ".join(f"'{c}'" for c in missing[:10])
            raise PredictionInputError(
                f"input is missing {len(missing)} column(s) the model needs: {names}; "
                "add them (empty values are allowed)"
            )
        assert self.contract is not None
        features = frame[self.feature_names]
        return self.contract.apply(features, source=source, first_row=first_row)

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions (and one probability column per class) for each row of ``frame``.

        With a confidence threshold, rows below it get the fallback label (or no prediction)
        and ``abstained`` is true.
        """
        features = self.conform(frame)
        out = pd.DataFrame({"prediction": self.pipeline.predict(features)}, index=frame.index)
        if self._gives_proba():
            proba = self.pipeline.predict_proba(features)
            for i, label in enumerate(self.classes):
                out[f"proba_{label}"] = proba[:, i]
            if self.threshold is not None:
                predicted, abstained = apply(out["prediction"].to_numpy(), proba, self.threshold)
                out["prediction"] = predicted
                out["abstained"] = abstained
        return out

    def _gives_proba(self) -> bool:
        return self.task == "classification" and hasattr(self.pipeline, "predict_proba")


def contract_from_roles(
    columns: list[ColumnSpec], target: str, id_columns: list[str]
) -> DataContract:
    """The contract of a model logged without one: numbers, dates (ISO 8601) and strings."""
    kinds = {"numeric": "number", "datetime": "datetime"}
    rules = [ColumnRule(c.name, kinds.get(c.role, "string"), role=c.role) for c in columns]  # type: ignore[arg-type]
    rules += [ColumnRule(name, "string", role="id") for name in id_columns]
    return DataContract(target=target, columns=tuple(rules))
