"""Looking inside a model's results: worst errors, permutation importance, learning curve,
and global attributions (mean |contribution| per column, direction of effect)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.model_selection import PredefinedSplit, learning_curve

from loopml.config import Task
from loopml.core import training
from loopml.core.evaluation import metrics
from loopml.core.explain import Explanations
from loopml.core.reference import AttributionSummary, summarize_attributions

TEXT_PREVIEW = 120
LEARNING_SIZES = (0.1, 0.25, 0.5, 0.75, 1.0)


def worst_errors(
    frame: pd.DataFrame,
    columns: list[str],
    y: Any,
    predicted: np.ndarray,
    proba: np.ndarray | None,
    task: Task,
    n: int,
) -> pd.DataFrame:
    """Most confident wrong predictions (classification) or largest residuals (regression).

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The evaluated rows; aligned with ``y`` by position.
    columns : list of str
        Columns shown (text longer than ``TEXT_PREVIEW`` characters is cut).
    y : array-like, shape (n_rows,)
        True labels or values.
    predicted : numpy.ndarray, shape (n_rows,)
    proba : numpy.ndarray, shape (n_rows, n_classes), or None
        Class probabilities in [0, 1]; confidence is NaN without them.
    task : {"classification", "regression"}
    n : int
        Rows to return, at most.

    Returns
    -------
    pandas.DataFrame, up to n rows
        ``columns`` plus ``actual``, ``predicted`` and ``confidence`` (highest class
        probability; wrong rows only, most confident first) or ``residual`` (actual -
        predicted, largest |residual| first). Indexed by row position.
    """
    y = np.asarray(y)
    shown = frame[columns].reset_index(drop=True).map(_preview)
    if task == "classification":
        confidence = proba.max(axis=1) if proba is not None else np.full(len(y), np.nan)
        out = shown.assign(actual=y, predicted=predicted, confidence=confidence)
        wrong = out[np.asarray(predicted) != y]
        return wrong.sort_values("confidence", ascending=False, kind="stable").head(n)
    residual = y.astype(float) - np.asarray(predicted, dtype=float)
    out = shown.assign(actual=y, predicted=predicted, residual=residual)
    order = np.argsort(-np.abs(residual), kind="stable")[:n]
    return out.iloc[order]


def _preview(value: Any) -> Any:
    if isinstance(value, str) and len(value) > TEXT_PREVIEW:
        return value[: TEXT_PREVIEW - 1] + "…"
    return value


def scorer(metric: metrics.Metric, task: Task, classes: Any) -> Callable[..., float]:
    """A scikit-learn scorer (higher is better) for ``metric`` on raw input columns.

    Parameters
    ----------
    metric : loopml.core.evaluation.metrics.Metric
    task : {"classification", "regression"}
    classes : array-like, shape (n_classes,)

    Returns
    -------
    callable (estimator, features, y) -> float
        The metric (``metrics.score_safely``: NaN where undefined), negated when lower is
        better.
    """
    sign = 1.0 if metric.higher_is_better else -1.0

    def score(estimator: Any, features: pd.DataFrame, y: Any) -> float:
        if task == "classification" and hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(features)  # one pass: the label is its argmax
            predicted = np.asarray(estimator.classes_)[np.argmax(proba, axis=1)]
        else:
            predicted, proba = training.predict(estimator, features, task)
        return sign * metrics.score_safely(metric, y, predicted, proba, classes)

    return score


@dataclass(frozen=True)
class Importance:
    """Permutation importance of one input column.

    Parameters
    ----------
    column : str
    mean : float
        Mean drop in the metric (sign-adjusted so that positive means the column matters)
        when the column is shuffled, over the repeats.
    std : float
        Its standard deviation over the repeats.
    """

    column: str
    mean: float  # drop in the metric when the column is shuffled
    std: float


def importance(
    model: Any,
    features: pd.DataFrame,
    y: Any,
    metric: metrics.Metric,
    task: Task,
    classes: Any,
    *,
    rows: int,
    seed: int = 0,
    repeats: int = 5,
) -> list[Importance]:
    """Permutation importance of each input column on up to ``rows`` test rows.

    ``sklearn.inspection.permutation_importance`` (Breiman 2001) with ``scorer``: each
    input column (not each encoded feature) is shuffled ``repeats`` times.

    Parameters
    ----------
    model : Any
        The fitted pipeline.
    features : pandas.DataFrame, shape (n_rows, n_columns)
        Test rows, input columns.
    y : array-like, shape (n_rows,)
    metric : loopml.core.evaluation.metrics.Metric
    task : {"classification", "regression"}
    classes : array-like, shape (n_classes,)
    rows : int
        Rows sampled (with ``seed``) when there are more.
    seed : int, default 0
    repeats : int, default 5

    Returns
    -------
    list of Importance
        Most important first.
    """
    if len(features) > rows:
        sample = features.sample(n=rows, random_state=seed)
        features, y = sample, pd.Series(np.asarray(y), index=features.index).loc[sample.index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = permutation_importance(
            model,
            features,
            np.asarray(y),
            scoring=scorer(metric, task, classes),
            n_repeats=repeats,
            random_state=seed,
            n_jobs=1,
        )
    listed = [
        Importance(str(c), float(m), float(s))
        for c, m, s in zip(
            features.columns, found.importances_mean, found.importances_std, strict=True
        )
    ]
    return sorted(listed, key=lambda item: -item.mean)


@dataclass(frozen=True)
class LearningCurve:
    """Train and validation score of the model's pipeline at growing training sizes.

    Parameters
    ----------
    metric : str
    rows : list of int
        Training rows used (``LEARNING_SIZES`` shares of the training split).
    train, validation : list of float
        The metric on the rows fitted on and on the validation split, in its own
        direction.
    """

    metric: str
    rows: list[int]
    train: list[float]
    validation: list[float]


def learning(
    model: Any,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    columns: list[str],
    target: str,
    metric: metrics.Metric,
    task: Task,
    classes: Any,
) -> LearningCurve:
    """Refit the model's own pipeline on growing shares of train; score train and validation.

    ``sklearn.model_selection.learning_curve`` with one predefined split (train vs
    validation) and ``train_sizes=LEARNING_SIZES``; a calibrated model's inner pipeline
    is refitted (see ``unwrap``).

    Parameters
    ----------
    model : Any
        The fitted model (cloned, not modified).
    train, validation : pandas.DataFrame
        The splits, with ``columns`` and ``target``.
    columns : list of str
        Input columns.
    target : str
    metric : loopml.core.evaluation.metrics.Metric
    task : {"classification", "regression"}
    classes : array-like, shape (n_classes,)

    Returns
    -------
    LearningCurve
    """
    both = pd.concat([train, validation], ignore_index=True)
    folds = PredefinedSplit(np.r_[np.full(len(train), -1), np.zeros(len(validation))])
    sign = 1.0 if metric.higher_is_better else -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sizes, train_scores, val_scores = learning_curve(
            clone(unwrap(model)),
            both[columns],
            both[target],
            train_sizes=list(LEARNING_SIZES),
            cv=folds,
            scoring=scorer(metric, task, classes),
            n_jobs=1,
        )
    return LearningCurve(
        metric.name,
        [int(s) for s in sizes],
        [sign * float(v) for v in train_scores[:, 0]],
        [sign * float(v) for v in val_scores[:, 0]],
    )


def unwrap(model: Any) -> Any:
    """The trained pipeline inside a calibrated model (a frozen one in CalibratedClassifierCV).

    Parameters
    ----------
    model : Any

    Returns
    -------
    Any
        ``model.estimator.estimator`` for a fitted calibrated model, else ``model``.
    """
    inner = getattr(model, "estimator", None)
    frozen = getattr(inner, "estimator", None)
    return frozen if frozen is not None and hasattr(model, "calibrated_classifiers_") else model


DIRECTION_COLUMNS = 5  # the columns of largest mean |attribution| get a direction of effect
WHY_COLUMNS = 3  # contributions listed per worst-error row
_MONOTONE = 0.1  # |Spearman rho| below this: no single direction
_MIN_GROUP_ROWS = 5  # a category (or word) needs this many rows for its mean contribution


@dataclass(frozen=True)
class Direction:
    """How a column moves the model's output, from its attributions on the test rows:
    ``rho`` is Spearman's rank correlation of a numeric or date column's values with its
    contributions (``scipy.stats.spearmanr``); for a category or text column, ``raises``
    and ``lowers`` are the category (or word) of largest and smallest mean contribution.

    Parameters
    ----------
    column : str
    text : str
        The direction in one sentence (or why there is none).
    rho : float or None, default None
        In [-1, 1]; |rho| < 0.1 reads as no single direction.
    raises, lowers : str or None, default None
        Only values (or words) with at least 5 rows are compared.
    """

    column: str
    text: str
    rho: float | None = None
    raises: str | None = None
    lowers: str | None = None


@dataclass(frozen=True)
class GlobalAttributions:
    """Attributions over test rows: mean |contribution| and share per column (the global
    importance of Lundberg et al., 2020), the direction of effect of the top columns, and
    what is explained (``space``, ``method``, ``note``).

    Parameters
    ----------
    summary : loopml.core.reference.AttributionSummary
    directions : list of Direction
        For the columns of largest mean |contribution|, largest first.
    note : str
        What is explained (``Explanations.note``).
    direction_note : str, default ""
        Why there are no directions, when there are none.
    """

    summary: AttributionSummary
    directions: list[Direction]
    note: str
    direction_note: str = ""  # why there are no directions, when there are none

    def ranked(self) -> list[tuple[str, float]]:
        """(column, mean |contribution|), largest first.

        Returns
        -------
        list of (str, float)
        """
        return sorted(self.summary.mean_abs.items(), key=lambda item: -item[1])

    def as_dict(self) -> dict[str, Any]:
        """The summary's fields with ``note``, ``directions`` and ``direction_note``, as a dict.

        Returns
        -------
        dict of str to Any
        """
        return {
            **self.summary.model_dump(),
            "note": self.note,
            "directions": [d.__dict__ for d in self.directions],
            "direction_note": self.direction_note,
        }


WHY_NAMES = ("why", "why (largest contributions)", "loopml_why")  # the first free one


def global_attributions(
    rows: pd.DataFrame, explained: Explanations, roles: Mapping[str, str] | None = None
) -> GlobalAttributions:
    """Summary and directions of ``explained``, the explanations of ``rows`` (the input
    columns as the data contract read them, one row per explained row). ``roles`` maps a
    column to its role in the model: a ``categorical`` column is compared value by value
    even when its values are numbers (a code, a class number), never ranked.

    Directions are given for the ``DIRECTION_COLUMNS`` columns of largest mean
    |contribution|, and none when rows are explained toward different classes.

    Parameters
    ----------
    rows : pandas.DataFrame, shape (n_rows, n_columns)
    explained : loopml.core.explain.Explanations
        Of ``rows``, contributions of shape (n_rows, n_columns).
    roles : mapping of str to str, optional

    Returns
    -------
    GlobalAttributions

    Raises
    ------
    ValueError
        As ``reference.summarize_attributions``: no rows, a non-finite contribution, or
        all contributions 0.
    """
    roles = roles or {}
    summary = summarize_attributions(explained)
    if explained.classes is not None and len({str(c) for c in explained.classes}) > 1:
        why_not = (
            "no direction of effect: each row is explained for the class the model ranks "
            "first, so contributions of different rows are toward different classes"
        )
        return GlobalAttributions(summary, [], explained.note, why_not)
    top = sorted(summary.mean_abs, key=lambda c: -summary.mean_abs[c])[:DIRECTION_COLUMNS]
    position = {c: i for i, c in enumerate(explained.columns)}
    directions = [
        _direction(
            column,
            rows[column].reset_index(drop=True),
            explained.contributions[:, position[column]],
            explained.words.get(column),
            _what(explained.space),
            roles.get(column) == "categorical",
        )
        for column in top
        if summary.mean_abs[column] > 0
    ]
    return GlobalAttributions(summary, directions, explained.note)


def why(explained: Explanations, top: int = WHY_COLUMNS) -> list[str]:
    """Per row, its ``top`` largest contributions as ``"column +0.12; column -0.05"``.

    Parameters
    ----------
    explained : loopml.core.explain.Explanations
    top : int, default WHY_COLUMNS (3)

    Returns
    -------
    list of str, length n_rows
    """
    return [
        "; ".join(f"{column} {value:+.3g}" for column, value in explained.ranked(row, top))
        for row in range(len(explained))
    ]


def _what(space: str) -> str:
    return {"log_odds": "log-odds", "value": "prediction", "raw_score": "raw score"}.get(
        space, space.replace("_", " ")
    )


def _direction(
    column: str,
    values: pd.Series,
    contributions: np.ndarray,
    words: list[dict[str, float]] | None,
    what: str,
    categorical: bool = False,
) -> Direction:
    if words is not None:
        return _by_group(column, _word_means(words), what, "word")
    ranked = not categorical  # a category is compared value by value, even a number
    if ranked and pd.api.types.is_datetime64_any_dtype(values):
        return _by_rank(column, values.astype("int64").where(values.notna()), contributions, what)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if ranked and numeric:
        return _by_rank(column, values, contributions, what)
    frame = pd.DataFrame({"value": values.astype("string"), "contribution": contributions})
    grouped = frame.dropna().groupby("value")["contribution"].agg(["mean", "size"])
    means = grouped.loc[grouped["size"] >= _MIN_GROUP_ROWS, "mean"]
    return _by_group(column, means, what, "value")


def _by_rank(column: str, values: pd.Series, contributions: np.ndarray, what: str) -> Direction:
    from scipy import stats

    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    present = np.isfinite(numbers)
    if present.sum() < 3 or np.ptp(numbers[present]) == 0:
        return Direction(column, "too few distinct values to tell a direction")
    if np.ptp(contributions[present]) == 0:
        return Direction(column, f"the same contribution for every value ({contributions[0]:+.3g})")
    rho = float(stats.spearmanr(numbers[present], contributions[present]).statistic)
    if not np.isfinite(rho):
        return Direction(column, "no direction: Spearman's rho is undefined for these values")
    if abs(rho) < _MONOTONE:
        text = f"no single direction (Spearman rho {rho:+.2f}): the effect is not monotone"
    else:
        higher = "higher" if rho > 0 else "lower"
        text = f"{higher} values raise the {what} (Spearman rho {rho:+.2f})"
    return Direction(column, text, rho=rho)


def _by_group(column: str, means: pd.Series, what: str, unit: str) -> Direction:
    if len(means) < 2:
        return Direction(column, f"too few {unit}s with {_MIN_GROUP_ROWS}+ rows to compare")
    ordered = means.sort_values(kind="stable")
    high, low = str(ordered.index[-1]), str(ordered.index[0])
    text = (
        f"{unit} {high!r} has the largest mean contribution to the {what} "
        f"({ordered.iloc[-1]:+.3g}), {low!r} the smallest ({ordered.iloc[0]:+.3g})"
    )
    return Direction(column, text, raises=high, lowers=low)


def _word_means(words: list[dict[str, float]]) -> pd.Series:
    pairs = [(word, value) for row in words for word, value in row.items()]
    if not pairs:
        return pd.Series(dtype=float)
    frame = pd.DataFrame(pairs, columns=["word", "contribution"])
    grouped = frame.groupby("word")["contribution"].agg(["mean", "size"])
    return grouped.loc[grouped["size"] >= _MIN_GROUP_ROWS, "mean"]
