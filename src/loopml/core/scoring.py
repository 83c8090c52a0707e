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
    """One input column of a model and its role.

    Parameters
    ----------
    name : str
    role : {"numeric", "categorical", "text", "datetime"}
    """

    name: str
    role: str  # numeric | categorical | text | datetime


def column_specs(roles: ColumnRoles) -> list[ColumnSpec]:
    """The model's input columns, role by role (numeric, categorical, text, datetime).

    Parameters
    ----------
    roles : loopml.core.data.roles.ColumnRoles

    Returns
    -------
    list of ColumnSpec
        In the order the preprocessor's branches take them.
    """
    return [
        ColumnSpec(column, role)
        for role in ("numeric", "categorical", "text", "datetime")
        for column in getattr(roles, role)
    ]


@dataclass
class ScoringModel:
    """What ``loopml.load_model`` returns: predict on frames with the training columns.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline (preprocessing then estimator), or a rule.
    task : {"classification", "regression"}
    target : str
        Name of the target column.
    columns : list of ColumnSpec
        The input columns, in training order.
    classes : list, default []
        A classifier's classes, in ``predict_proba`` column order.
    id_columns : list of str, default []
        Columns passed through to outputs, not used to predict.
    name, version, run_id, uri : str or None
        Where the model comes from (registry name and version, MLflow run, model URI).
    threshold : Threshold or None, default None
        A classifier's confidence threshold; below it, the fallback label or no prediction.
    contract : DataContract or None, default None
        How raw values are read; built from the roles (``contract_from_roles``) if None.
    background : pandas.DataFrame or None, default None
        Training rows the explainers measure against.
    """

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
        """The input column names, in training order."""
        return [c.name for c in self.columns]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Labels or values; below the confidence threshold, the fallback label or None.

        Parameters
        ----------
        frame : pandas.DataFrame, shape (n_rows, n_columns)
            Rows with at least the model's input columns (extra columns are ignored).

        Returns
        -------
        numpy.ndarray, shape (n_rows,)

        Raises
        ------
        loopml.errors.PredictionInputError
            An input column is missing.
        loopml.errors.DataContractError
            A value does not read as its column's kind (see ``conform``).
        """
        features = self.conform(frame)
        predicted = np.asarray(self.pipeline.predict(features))
        if self.threshold is not None and self._gives_proba():
            predicted, _ = apply(predicted, self.pipeline.predict_proba(features), self.threshold)
        return predicted

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities of each row (the threshold does not change them).

        Parameters
        ----------
        frame : pandas.DataFrame, shape (n_rows, n_columns)
            Rows with at least the model's input columns.

        Returns
        -------
        numpy.ndarray of float, shape (n_rows, n_classes)
            Probabilities in [0, 1], columns in ``classes`` order.

        Raises
        ------
        loopml.errors.PredictionInputError
            The model is not a classifier with probabilities, or an input column is missing.
        loopml.errors.DataContractError
            A value does not read as its column's kind.
        """
        if self.task != "classification" or not hasattr(self.pipeline, "predict_proba"):
            raise PredictionInputError(f"model {self.describe()} gives no class probabilities")
        return np.asarray(self.pipeline.predict_proba(self.conform(frame)))

    def explainer(self) -> Explainer:
        """The model's explainer, prepared on first use and kept (see ``core.explain``).

        Returns
        -------
        loopml.core.explain.Explainer

        Raises
        ------
        loopml.errors.NotExplainableError
            Naming the model kind and the fix.
        """
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
        input columns: the function every entry point (serving, batch, CLI) calls.

        Parameters
        ----------
        frame : pandas.DataFrame, shape (n_rows, n_columns)
            Rows with at least the model's input columns.

        Returns
        -------
        loopml.core.explain.Explanations
            Contributions of shape (n_rows, n_input_columns).

        Raises
        ------
        loopml.errors.NotExplainableError
            The model has no explainer (see ``explainer``).
        loopml.errors.PredictionInputError
            An input column is missing.
        loopml.errors.DataContractError
            A value does not read as its column's kind.
        """
        return self.explainer().explain(self.conform(frame))

    def describe(self) -> str:
        """The model for messages: ``"name vVERSION"``, else its URI, else ``"model"``.

        Returns
        -------
        str
        """
        if self.name and self.version:
            return f"{self.name} v{self.version}"
        return self.uri or "model"

    def conform(self, frame: pd.DataFrame, *, source: str = "", first_row: int = 1) -> pd.DataFrame:
        """The feature columns in training order, read through the data contract.

        ``frame`` is rows as written (a file's text cells) or typed; extra columns are
        ignored.

        Parameters
        ----------
        frame : pandas.DataFrame, shape (n_rows, n_columns)
        source : str, default ""
            The file the rows come from, for error messages.
        first_row : int, default 1
            The file row number of ``frame``'s first row, for error messages.

        Returns
        -------
        pandas.DataFrame, shape (n_rows, n_input_columns)

        Raises
        ------
        loopml.errors.PredictionInputError
            A column the model needs is missing (the first ten are named).
        loopml.errors.DataContractError
            A value does not read as its column's kind; the message names the row, column and
            value.
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

        Parameters
        ----------
        frame : pandas.DataFrame, shape (n_rows, n_columns)
            Rows with at least the model's input columns.

        Returns
        -------
        pandas.DataFrame, shape (n_rows, 1 + n_classes [+ 1])
            ``prediction``; for a classifier with probabilities, ``proba_<class>`` per class;
            with a threshold, ``abstained``. Indexed like ``frame``.

        Raises
        ------
        loopml.errors.PredictionInputError
            An input column is missing.
        loopml.errors.DataContractError
            A value does not read as its column's kind.
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
    """The contract of a model logged without one: numbers, dates (ISO 8601) and strings.

    Parameters
    ----------
    columns : list of ColumnSpec
        Numeric columns read as numbers, dates as datetimes, the rest as strings.
    target : str
    id_columns : list of str
        Read as strings, with role "id".

    Returns
    -------
    loopml.core.data.contract.DataContract
    """
    kinds = {"numeric": "number", "datetime": "datetime"}
    rules = [ColumnRule(c.name, kinds.get(c.role, "string"), role=c.role) for c in columns]  # type: ignore[arg-type]
    rules += [ColumnRule(name, "string", role="id") for name in id_columns]
    return DataContract(target=target, columns=tuple(rules))
