"""Rule baselines (``models.rules``): a heuristic in one pandas expression, as an estimator.

``RuleClassifier`` and ``RuleRegressor`` follow scikit-learn's estimator contract (``clone``,
``cross_validate`` and pipelines work): ``fit`` learns nothing but the classes and the
feature names, ``predict`` gives ``then`` where ``when`` holds and ``else_`` elsewhere. A
rule is certain, so ``predict_proba`` is 1 for the rule's label and 0 for the others: log
loss and calibration say little about a rule, accuracy and F1 say what it is worth.

Expressions are evaluated by ``loopml.core.expressions`` (``DataFrame.eval`` syntax) on the
feature columns only, the columns a served model receives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from loopml.config import RuleConfig, Task
from loopml.core import expressions
from loopml.errors import ConfigError

Value = str | int | float | bool


class _Rule(BaseEstimator):
    """Where ``when`` holds, ``then``; elsewhere ``else_`` (YAML: ``else``)."""

    def __init__(
        self, name: str = "rule", when: str = "", then: Value = 0, else_: Value = 0
    ) -> None:
        self.name = name
        self.when = when
        self.then = then
        self.else_ = else_

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "feature_names_in_")

    def _frame(self, X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X
        names = getattr(self, "feature_names_in_", None)
        return pd.DataFrame(X, columns=None if names is None else list(names))

    def _where(self) -> str:
        return f"models.rules.{self.name}"

    def fires(self, X: Any) -> np.ndarray:
        """Boolean array of shape (n_samples,): where ``when`` holds (missing -> false)."""
        return expressions.mask(self._frame(X), self.when, f"{self._where()}.when")

    def _remember_columns(self, X: Any) -> None:
        frame = self._frame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]


class RuleClassifier(ClassifierMixin, _Rule):
    """A labelling rule: ``then`` and ``else_`` are class labels of the target.

    Parameters
    ----------
    name : str, default "rule"
        The rule's name under ``models.rules`` (used in error messages).
    when : str, default ""
        A pandas expression over the feature columns (``DataFrame.eval`` syntax).
    then : str, int, float or bool, default 0
        The label where ``when`` holds (matched to a class as written or as text).
    else_ : str, int, float or bool, default 0
        The label elsewhere (YAML: ``else``).
    """

    def fit(self, X: Any, y: Any) -> RuleClassifier:
        """Learn the classes of ``y`` (shape (n_samples,)); ConfigError if a label is not one.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n_samples, n_features)
            Feature columns; their names are kept as ``feature_names_in_``.
        y : array-like, shape (n_samples,)

        Returns
        -------
        RuleClassifier
            ``self``.

        Raises
        ------
        loopml.errors.ConfigError
            ``then`` or ``else_`` is not a class of ``y``, or ``when`` does not evaluate to
            true/false per row.
        """
        self._remember_columns(X)
        self.classes_ = np.unique(np.asarray(y))
        self.then_label_ = self._label("then", self.then)
        self.else_label_ = self._label("else", self.else_)
        self.fires(X)  # a bad expression fails at fit, naming the rule
        return self

    def _label(self, key: str, value: Value) -> Any:
        found = [c for c in self.classes_ if str(c) == str(value)]
        if not found:
            shown = ", ".join(repr(c) for c in self.classes_[:10])
            raise ConfigError(
                f"{self._where()}.{key}: {value!r} is not a class of the target; "
                f"the classes are {shown}"
            )
        return found[0]

    def predict(self, X: Any) -> np.ndarray:
        """Labels, shape (n_samples,).

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray, shape (n_samples,)
            ``then_label_`` where ``when`` holds (missing counts as false), else ``else_label_``.

        Raises
        ------
        loopml.errors.ConfigError
            ``when`` does not evaluate on ``X``.
        """
        fires = self.fires(X)
        out = np.empty(len(fires), dtype=self.classes_.dtype)
        out[fires], out[~fires] = self.then_label_, self.else_label_
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Shape (n_samples, n_classes) in ``classes_`` order: 1 for the rule's label.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of float64, shape (n_samples, n_classes)
            One-hot: 1.0 for the predicted label, 0.0 elsewhere.

        Raises
        ------
        loopml.errors.ConfigError
            ``when`` does not evaluate on ``X``.
        """
        predicted = self.predict(X)
        return (predicted[:, None] == self.classes_[None, :]).astype(np.float64)


class RuleRegressor(RegressorMixin, _Rule):
    """A value rule: ``then`` and ``else_`` are numbers or expressions (``"fare * 1.1"``).

    Parameters
    ----------
    name : str, default "rule"
        The rule's name under ``models.rules``.
    when : str, default ""
        A pandas expression over the feature columns.
    then, else_ : str, int, float or bool, default 0
        The value where ``when`` holds and elsewhere: a number, or an expression over
        numeric columns.
    """

    def fit(self, X: Any, y: Any = None) -> RuleRegressor:
        """Nothing to learn: checks the expressions on ``X``; ConfigError naming a bad one.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        RuleRegressor
            ``self``.

        Raises
        ------
        loopml.errors.ConfigError
            An expression that does not evaluate, or a ``then``/``else`` expression that gives
            no number on any row.
        """
        self._remember_columns(X)
        self.predict(X)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Values, shape (n_samples,), float64.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of float64, shape (n_samples,)
            NaN where an expression gives no number for the row.

        Raises
        ------
        loopml.errors.ConfigError
            As ``fit``.
        """
        frame = self._frame(X)
        fires = self.fires(frame)
        then = self._values("then", self.then, frame)
        otherwise = self._values("else", self.else_, frame)
        return np.where(fires, then, otherwise).astype(np.float64)

    def _values(self, key: str, value: Value, frame: pd.DataFrame) -> np.ndarray:
        if isinstance(value, bool) or not isinstance(value, str):
            return np.full(len(frame), float(value))
        result = expressions.evaluate(frame, value, f"{self._where()}.{key}")
        numbers = pd.to_numeric(pd.Series(result, index=frame.index), errors="coerce")
        if len(numbers) and numbers.isna().all():
            raise ConfigError(
                f"{self._where()}.{key}: {value!r} gives no number; for regression write a "
                'number or an expression over numeric columns, e.g. "fare * 1.1"'
            )
        return numbers.to_numpy(dtype=np.float64)


def make(name: str, rule: RuleConfig, task: Task) -> RuleClassifier | RuleRegressor:
    """The estimator of one ``models.rules`` entry, unfitted.

    Parameters
    ----------
    name : str
        The rule's name.
    rule : loopml.config.RuleConfig
        ``when``, ``then``, ``else_``.
    task : {"classification", "regression"}

    Returns
    -------
    RuleClassifier or RuleRegressor
    """
    cls = RuleClassifier if task == "classification" else RuleRegressor
    return cls(name=name, when=rule.when, then=rule.then, else_=rule.else_)


def is_rule(model: Any) -> bool:
    """Whether ``model`` is a rule baseline (``RuleClassifier`` or ``RuleRegressor``).

    Parameters
    ----------
    model : Any

    Returns
    -------
    bool
    """
    return isinstance(model, _Rule)


def params(rule: RuleConfig) -> dict[str, Any]:
    """The rule as written in YAML (``when``, ``then``, ``else``), for tables and MLflow.

    Parameters
    ----------
    rule : loopml.config.RuleConfig

    Returns
    -------
    dict of str to Any
    """
    return {"when": rule.when, "then": rule.then, "else": rule.else_}


def check(
    rules: Mapping[str, RuleConfig],
    frame: pd.DataFrame,
    features: list[str],
    target: str,
    task: Task,
) -> None:
    """Fit every rule on ``frame``'s feature columns before any training.

    Parameters
    ----------
    rules : mapping of str to loopml.config.RuleConfig
        ``models.rules``.
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The data, with ``features`` and ``target``.
    features : list of str
        The feature columns (what a served model receives).
    target : str
    task : {"classification", "regression"}

    Raises
    ------
    loopml.errors.ConfigError
        Naming the rule, the expression and the column for an expression that does not
        evaluate, a column that is not a feature (the target, an id or ignored column:
        served rows do not carry it), or a label that is not a class of ``target``.
    """
    unavailable = {
        str(c): (
            "is the target: a rule cannot read the answer"
            if c == target
            else "is not a feature (an id or ignored column); a rule reads feature columns only"
        )
        for c in frame.columns
        if c not in features
    }
    X, y = frame[features], frame[target]
    for name, rule in rules.items():
        where = f"models.rules.{name}"
        expressions.mask(X, rule.when, f"{where}.when", unavailable=unavailable)
        for key, value in (("then", rule.then), ("else", rule.else_)):
            if task == "regression" and isinstance(value, str):
                expressions.evaluate(X, value, f"{where}.{key}", unavailable=unavailable)
        make(name, rule, task).fit(X, y)
