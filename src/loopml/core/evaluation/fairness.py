"""Group fairness on the test rows, computed by Fairlearn (``fairlearn.metrics``).

For each column of ``evaluation.sensitive`` the test rows are grouped by its value (a
numeric column with more than ``MAX_GROUPS`` distinct values is cut into ``BINS`` quantile
bins, and a note says so; missing values form the group ``(missing)``). Classifiers:

- per group, by ``fairlearn.metrics.MetricFrame``: ``count``, ``selection_rate`` (share of
  rows predicted the positive class), ``true_positive_rate`` and ``false_positive_rate``
  (one-vs-rest for the positive class), and ``accuracy`` (on the labels themselves);
- per column: ``demographic_parity_difference`` (largest minus smallest selection rate
  between groups, ``fairlearn.metrics.demographic_parity_difference``) and
  ``equalized_odds_difference`` (the larger of the TPR and FPR differences between groups,
  ``fairlearn.metrics.equalized_odds_difference``). Both are in [0, 1]; 0 is parity.

The positive class is ``evaluation.pos_label``, by default the second of the sorted classes
of a binary target; a multiclass target needs it set (one-vs-rest for that class).
Predictions are the model's most probable class, before any confidence threshold, as for
the other test metrics. Regressors get, per group, ``count``, ``mean_prediction``,
``mean_actual`` and ``mae``; the two differences are defined for classifiers only.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from fairlearn import metrics as flm
from sklearn.metrics import accuracy_score, mean_absolute_error

from loopml.config import ColumnsConfig, EvaluationConfig, Task
from loopml.errors import ConfigError

NAMES = ("demographic_parity_difference", "equalized_odds_difference")
MAX_GROUPS = 20  # more distinct values than this: numbers are binned, other values refused
BINS = 4
MISSING = "(missing)"
_RATE_OF = {
    "demographic_parity_difference": ("selection_rate",),
    "equalized_odds_difference": ("true_positive_rate", "false_positive_rate"),
}


@dataclass(frozen=True)
class ColumnFairness:
    """One sensitive column: a row per group (index: the group as text) and the differences.

    Parameters
    ----------
    column : str
        The sensitive column.
    by_group : pandas.DataFrame, shape (n_groups, n_rates)
        Index "group"; classifiers: ``count``, ``selection_rate``, ``true_positive_rate``,
        ``false_positive_rate``, ``accuracy`` (rates in [0, 1]); regressors: ``count``,
        ``mean_prediction``, ``mean_actual``, ``mae`` (target units).
    differences : dict of str to float, default {}
        ``demographic_parity_difference`` and ``equalized_odds_difference``, in [0, 1]
        (classifiers only).
    notes : tuple of str, default ()
        Binning of a numeric column, groups with undefined rates.
    """

    column: str
    by_group: pd.DataFrame
    differences: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def spread(self, rate: str) -> tuple[float, str]:
        """Largest minus smallest ``rate`` between groups, and the two groups with values.

        Parameters
        ----------
        rate : str
            A column of ``by_group``, e.g. "selection_rate".

        Returns
        -------
        spread : float
            NaN when no group has the rate.
        detail : str
            E.g. "selection rate: male 0.1826, female 0.7368"; "" when NaN.
        """
        values = self.by_group[rate].dropna()
        if values.empty:
            return math.nan, ""
        low, high = values.idxmin(), values.idxmax()
        smallest, largest = float(values.min()), float(values.max())
        words = rate.replace("_", " ")
        return largest - smallest, f"{words}: {low} {smallest:.4f}, {high} {largest:.4f}"

    def explain(self, name: str) -> str:
        """The groups behind a difference, e.g. 'selection rate: male 0.1826, female 0.7368'.

        For ``equalized_odds_difference``, the larger of the TPR and FPR spreads.

        Parameters
        ----------
        name : str
            One of ``NAMES``.

        Returns
        -------
        str

        Raises
        ------
        KeyError
            ``name`` is not in ``NAMES``.
        """
        spreads = [self.spread(rate) for rate in _RATE_OF[name]]
        return max(spreads, key=lambda s: -1.0 if math.isnan(s[0]) else s[0])[1]

    def as_dict(self) -> dict[str, Any]:
        """The audit of the column as JSON-ready values (NaN as None).

        Returns
        -------
        dict of str to Any
            ``column``, ``groups`` (one record per group, with ``group``), ``differences``,
            ``notes``.
        """
        table = self.by_group.reset_index().rename(columns={self.by_group.index.name: "group"})
        return {
            "column": self.column,
            "groups": [{k: _plain(v) for k, v in row.items()} for row in table.to_dict("records")],
            "differences": {k: _plain(v) for k, v in self.differences.items()},
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Fairness:
    """Every sensitive column's audit, and one line saying what was computed.

    Parameters
    ----------
    scope : str
        From ``scope``.
    columns : list of ColumnFairness
        One per sensitive column, in ``evaluation.sensitive`` order.
    notes : tuple of str, default ()
    """

    scope: str
    columns: list[ColumnFairness]
    notes: tuple[str, ...] = ()

    def worst(self, name: str) -> ColumnFairness | None:
        """The column with the largest ``name`` difference (None when none computed it).

        Parameters
        ----------
        name : str
            One of ``NAMES``.

        Returns
        -------
        ColumnFairness or None
        """
        found = [c for c in self.columns if not math.isnan(c.differences.get(name, math.nan))]
        return max(found, key=lambda c: c.differences[name], default=None)

    def worst_values(self) -> dict[str, float]:
        """Each difference over the worst column: what ``gate.max`` compares.

        Returns
        -------
        dict of str to float
            For each name of ``NAMES`` computed on some column, its largest value.
        """
        worst = {name: self.worst(name) for name in NAMES}
        return {name: c.differences[name] for name, c in worst.items() if c is not None}

    def as_dict(self) -> dict[str, Any]:
        """The audit as JSON-ready values, with the worst differences (``worst_values``).

        Returns
        -------
        dict of str to Any
        """
        return {
            "scope": self.scope,
            "columns": [c.as_dict() for c in self.columns],
            "worst": self.worst_values(),
            "notes": list(self.notes),
        }


# --- checks, before anything is fitted ---


def check(
    settings: EvaluationConfig,
    frame: pd.DataFrame,
    target: str,
    task: Task,
    classes: Sequence[Any],
) -> None:
    """A one-line ConfigError for a sensitive column the audit cannot use, or a bad pos_label.

    Parameters
    ----------
    settings : loopml.config.EvaluationConfig
        ``evaluation.sensitive`` and ``evaluation.pos_label``.
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The data as read (every row).
    target : str
    task : {"classification", "regression"}
    classes : sequence
        The target's classes.

    Raises
    ------
    loopml.errors.ConfigError
        A sensitive column that is the target or missing (``check_columns``); a
        non-numeric one with more than ``MAX_GROUPS`` distinct values; a ``pos_label`` on a
        regression target; a classification ``pos_label`` that is not a class, or none for
        a multiclass target that has sensitive columns (``positive_class``).
    """
    check_columns(settings.sensitive, frame.columns, target)
    for name in settings.sensitive:
        series = frame[name]
        distinct = int(series.nunique(dropna=True))
        if not _is_number(series) and distinct > MAX_GROUPS:
            raise ConfigError(
                f"evaluation.sensitive: column '{name}' has {distinct} distinct values, too many "
                f"groups to compare (at most {MAX_GROUPS}); add a column of groups to the data "
                "(e.g. age_group) and name that one (a numeric column is cut into quartiles)"
            )
    if task == "regression":
        if settings.pos_label is not None:
            raise ConfigError("evaluation.pos_label: a regression target has no classes; remove it")
        return
    if settings.sensitive or settings.pos_label is not None:
        positive_class(classes, settings.pos_label)


def check_columns(sensitive: Iterable[str], columns: Iterable[Any], target: str) -> None:
    """Each sensitive column must be in the data and not be the target (ConfigError).

    Parameters
    ----------
    sensitive : iterable of str
        ``evaluation.sensitive``.
    columns : iterable
        The data's columns (compared as text).
    target : str

    Raises
    ------
    loopml.errors.ConfigError
        Naming the column, with a close match when there is one.
    """
    names = [str(c) for c in columns]
    for name in sensitive:
        if name == target:
            raise ConfigError(
                f"evaluation.sensitive: '{name}' is the target (data.target); name a column "
                "describing people, e.g. sex or age_group"
            )
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                f"evaluation.sensitive: '{name}' is not a column of the data; {hint}"
                f"columns are: {', '.join(n for n in names if n != target)}"
            )


def declared_roles(columns: ColumnsConfig, settings: EvaluationConfig) -> ColumnsConfig:
    """``data.columns`` with the sensitive columns ignored when they are not features.

    An ignored column stays in the data contract (role ``ignore``): served rows and scored
    files may hold it, and it is neither required nor read.

    Parameters
    ----------
    columns : loopml.config.ColumnsConfig
        The ``data.columns`` section.
    settings : loopml.config.EvaluationConfig
        Its ``sensitive_excluded()`` names the columns kept out of the features.

    Returns
    -------
    loopml.config.ColumnsConfig
        A copy with the undeclared excluded columns added to ``ignore``; ``columns``
        itself when nothing is excluded.

    Raises
    ------
    loopml.errors.ConfigError
        ``data.columns`` declares such a column a feature.
    """
    excluded = settings.sensitive_excluded()
    if not excluded:
        return columns
    declared = columns.declared()
    for name in excluded:
        role = declared.get(name)
        if role not in (None, "id", "ignore"):
            raise ConfigError(
                f"data.columns.{role}: '{name}' is declared a feature, but it is in "
                "evaluation.sensitive with sensitive_is_feature: false; remove it from "
                f"data.columns.{role} or set evaluation.sensitive_is_feature: true"
            )
    extra = [n for n in excluded if declared.get(n) is None]
    return columns.model_copy(update={"ignore": [*columns.ignore, *extra]})


def positive_class(classes: Sequence[Any], pos_label: Any) -> Any:
    """The class whose rates are compared: ``pos_label`` (matched as written or as text),
    else the second of two sorted classes. ConfigError for a multiclass target without it.

    Parameters
    ----------
    classes : sequence
        The target's classes, sorted.
    pos_label : Any
        ``evaluation.pos_label`` or None.

    Returns
    -------
    Any
        The matching element of ``classes``.

    Raises
    ------
    loopml.errors.ConfigError
        ``pos_label`` is None with other than two classes, or matches no class.
    """
    shown = ", ".join(repr(c) for c in classes)
    if pos_label is None:
        if len(classes) == 2:
            return classes[1]
        raise ConfigError(
            f"evaluation.pos_label: the target has {len(classes)} classes; fairness rates are "
            f"one-vs-rest for one favourable class: set evaluation.pos_label to one of {shown}"
        )
    for label in classes:
        if str(label) == str(pos_label):
            return label
    plain = [c for c in classes if not isinstance(c, bool) and not isinstance(pos_label, bool)]
    for label in plain:
        if label == pos_label:  # 1 for the class 1.0
            return label
    raise ConfigError(f"evaluation.pos_label: {pos_label!r} is not a class; use one of {shown}")


def scope(task: Task, classes: Sequence[Any], pos_label: Any) -> str:
    """One line saying what the audit computes.

    Parameters
    ----------
    task : {"classification", "regression"}
    classes : sequence
    pos_label : Any

    Returns
    -------
    str

    Raises
    ------
    loopml.errors.ConfigError
        As ``positive_class``, for a classifier.
    """
    if task == "regression":
        return (
            "regression: per group count, mean prediction, mean actual value and MAE; the "
            "demographic-parity and equalized-odds differences are defined for classifiers"
        )
    positive = positive_class(classes, pos_label)
    how = (
        "evaluation.pos_label"
        if pos_label is not None
        else "the second of the sorted classes; evaluation.pos_label sets it"
    )
    kind = "binary" if len(classes) == 2 else f"{len(classes)} classes, one-vs-rest"
    return (
        f"{kind}: positive class {positive!r} ({how}); selection rate = share of rows "
        f"predicted {positive!r}, TPR and FPR of that prediction; predictions before any "
        "confidence threshold"
    )


# --- the audit ---


def audit(
    test: pd.DataFrame,
    sensitive: Sequence[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    task: Task,
    classes: Sequence[Any],
    pos_label: Any = None,
) -> Fairness:
    """Per-group metrics and differences of each sensitive column on the test rows.

    Computed with ``fairlearn.metrics.MetricFrame``,
    ``fairlearn.metrics.demographic_parity_difference`` and
    ``fairlearn.metrics.equalized_odds_difference`` on one-vs-rest labels of the positive
    class (see the module docstring).

    Parameters
    ----------
    test : pandas.DataFrame, shape (n_rows, n_columns)
        Holds the sensitive columns; rows align with ``y_true`` by position.
    sensitive : sequence of str
    y_true, y_pred : numpy.ndarray, shape (n_rows,)
        Labels (classifiers, before any confidence threshold) or values (regressors).
    task : {"classification", "regression"}
    classes : sequence
    pos_label : Any, optional

    Returns
    -------
    Fairness

    Raises
    ------
    loopml.errors.ConfigError
        A sensitive column missing from ``test``, or a bad ``pos_label`` (as ``check``).
    """
    check_columns(sensitive, test.columns, "")
    if task == "classification":
        positive = positive_class(classes, pos_label)
        truth = (np.asarray(y_true) == positive).astype(int)
        chosen = (np.asarray(y_pred) == positive).astype(int)
        found = [
            _classification(name, test[name], truth, chosen, y_true, y_pred) for name in sensitive
        ]
    else:
        found = [_regression(name, test[name], y_true, y_pred) for name in sensitive]
    return Fairness(scope(task, classes, pos_label), found)


def groups(series: pd.Series) -> tuple[pd.Series, list[str], str]:
    """Each row's group as text, the groups in order, and a note when numbers were binned.

    A numeric column with more than ``MAX_GROUPS`` distinct values is cut into ``BINS``
    quantile bins (``pandas.qcut``, duplicate edges dropped); missing values form the
    group ``MISSING``.

    Parameters
    ----------
    series : pandas.Series, shape (n_rows,)

    Returns
    -------
    labels : pandas.Series of str, shape (n_rows,)
        Positional index.
    order : list of str
        The groups present: bins in order, or values sorted (numbers first), then
        ``MISSING``.
    note : str
        "" unless the column was binned.
    """
    name = str(series.name)
    distinct = int(series.nunique(dropna=True))
    if _is_number(series) and distinct > MAX_GROUPS:
        binned = pd.qcut(series.astype(float), BINS, duplicates="drop", precision=3)
        order = [str(b) for b in binned.cat.categories]
        labels = binned.astype(str).where(binned.notna(), MISSING)
        note = (
            f"'{name}' has {distinct} distinct numbers: audited in {len(order)} quantile bins "
            f"of the test rows ({', '.join(order)}); to choose the groups, add a column of "
            "groups to the data (e.g. age_group) and name it in evaluation.sensitive"
        )
    else:
        order = [str(v) for v in sorted(series.dropna().unique().tolist(), key=_sort_key)]
        labels = series.map(str).where(series.notna(), MISSING)
        note = ""
    if (labels == MISSING).any():
        order.append(MISSING)
    labels = pd.Series(labels.to_numpy(dtype=object), name=name)
    return labels, [g for g in order if (labels == g).any()], note


def _classification(
    name: str,
    series: pd.Series,
    truth: np.ndarray,
    chosen: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
) -> ColumnFairness:
    labels, order, binned = groups(series)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined rates are said in the notes below
        rates = flm.MetricFrame(
            metrics={
                "count": flm.count,
                "selection_rate": flm.selection_rate,
                "true_positive_rate": flm.true_positive_rate,
                "false_positive_rate": flm.false_positive_rate,
            },
            y_true=truth,
            y_pred=chosen,
            sensitive_features=labels,
        )
        accuracy = flm.MetricFrame(
            metrics={"accuracy": accuracy_score},
            y_true=np.asarray(y_true, dtype=object),
            y_pred=np.asarray(y_pred, dtype=object),
            sensitive_features=labels,
        )
        differences = {
            "demographic_parity_difference": float(
                flm.demographic_parity_difference(truth, chosen, sensitive_features=labels)
            ),
            "equalized_odds_difference": float(
                flm.equalized_odds_difference(truth, chosen, sensitive_features=labels)
            ),
        }
    table = _ordered(rates.by_group.join(accuracy.by_group), order)
    notes = [binned] if binned else []
    positives = pd.Series(truth).groupby(labels.to_numpy()).agg(["sum", "count"])
    for which, rate, lacking in (
        ("positive", "true", positives["sum"] == 0),
        ("negative", "false", positives["sum"] == positives["count"]),
    ):
        if lacking.any():
            listed = ", ".join(f"'{g}'" for g in positives.index[lacking])
            notes.append(
                f"'{name}': group(s) {listed} have no {which} test rows: their {rate} positive "
                "rate is undefined and Fairlearn counts it as 0 in equalized_odds_difference"
            )
    return ColumnFairness(name, table, differences, tuple(notes))


def _regression(
    name: str, series: pd.Series, y_true: np.ndarray, y_pred: np.ndarray
) -> ColumnFairness:
    labels, order, binned = groups(series)
    frame = flm.MetricFrame(
        metrics={
            "count": flm.count,
            "mean_prediction": flm.mean_prediction,
            "mean_actual": _mean_actual,
            "mae": mean_absolute_error,
        },
        y_true=np.asarray(y_true, dtype=float),
        y_pred=np.asarray(y_pred, dtype=float),
        sensitive_features=labels,
    )
    return ColumnFairness(name, _ordered(frame.by_group, order), {}, (binned,) if binned else ())


def _mean_actual(y_true: Any, y_pred: Any) -> float:
    return float(np.mean(y_true))


def _ordered(table: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    table = table.reindex(order)
    table.index.name = "group"
    table["count"] = table["count"].astype(int)
    return table.astype({c: float for c in table.columns if c != "count"})


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value
