"""Search spaces, samplers and cross-validation: one search interface for every method.

Pure: no MLflow, no Ray. A space comes from YAML (a list is a choice, ``{low, high, log}``
a range, anything else a fixed value). Every candidate is scored on the same folds with
the same seed; a trial reports its running mean after each fold, so a pruner (successive
halving or Hyperband) can stop an unpromising trial after a fold or two.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit

from loopml.config import CVConfig, Task
from loopml.core import training
from loopml.core.evaluation import metrics
from loopml.errors import ConfigError

Folds = list[tuple[np.ndarray, np.ndarray]]
_CHOICE_TYPES = (str, int, float, bool, type(None))
_RANGE_KEYS = {"low", "high", "log", "step"}


@dataclass(frozen=True)
class Choice:
    """A searched parameter that takes one of a fixed list of values (a YAML list).

    Parameters
    ----------
    values : tuple
        The candidate values, in the order written; numbers, strings, booleans or None.
    """

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """A searched numeric parameter between two bounds (a YAML ``{low, high, log, step}`` map).

    Parameters
    ----------
    low, high : float
        The bounds, ``low < high``; both are sampled inclusively.
    log : bool, default False
        Sample on a log scale (requires ``low > 0``).
    integer : bool, default False
        Both bounds (and ``step``, if any) were written as integers: sample integers.
    step : float or None, default None
        Spacing of the sampled values (not allowed with ``log``); None samples continuously.
    """

    low: float
    high: float
    log: bool = False
    integer: bool = False
    step: float | None = None

    def points(self, count: int) -> list[Any]:
        """``count`` evenly spaced values (log-spaced for a log range), for grid search.

        Parameters
        ----------
        count : int
            Number of points, bounds included (``numpy.linspace`` / ``numpy.geomspace``).

        Returns
        -------
        list
            Sorted distinct rounded ints for an integer range (may be fewer than ``count``),
            else floats rounded to 6 significant digits. ``step`` is not applied.
        """
        make = np.geomspace if self.log else np.linspace
        values = make(self.low, self.high, count)
        if self.integer:
            return sorted({round(v) for v in values})
        return [float(f"{v:.6g}") for v in values]


@dataclass(frozen=True)
class Fixed:
    """A parameter that is not searched: every trial uses ``value`` (any other YAML scalar).

    Parameters
    ----------
    value : Any
        The value passed to the model unchanged.
    """

    value: Any


Param = Choice | Range | Fixed
Space = dict[str, Param]


def parse_space(name: str, raw: dict[str, Any]) -> Space:
    """Parse one candidate's space from YAML; a bad entry is one ConfigError naming its key.

    Parameters
    ----------
    name : str
        The candidate's name under ``models.candidates`` (used in error messages).
    raw : dict of str to Any
        Parameter name to its YAML value (list, range map or scalar).

    Returns
    -------
    Space
        Parameter name to its ``Choice``, ``Range`` or ``Fixed``.

    Raises
    ------
    loopml.errors.ConfigError
        An empty or non-scalar choice list, or an invalid range (see ``parse_param``).
    """
    return {param: parse_param(f"models.candidates.{name}.{param}", v) for param, v in raw.items()}


def parse_param(key: str, value: Any) -> Param:
    """Parse one parameter's YAML value: a list is a Choice, a map a Range, else Fixed.

    Parameters
    ----------
    key : str
        The parameter's full config key, used in error messages.
    value : Any
        The YAML value.

    Returns
    -------
    Choice, Range or Fixed

    Raises
    ------
    loopml.errors.ConfigError
        An empty list or a choice that is not a number, string, boolean or null; a map with
        keys other than low/high/log/step or without low and high; non-numeric bounds;
        ``low >= high``; a non-boolean ``log``; a log range with ``low <= 0``; a ``step`` that
        is not a positive number or is combined with ``log``.
    """
    if isinstance(value, list):
        return _choice(key, value)
    if isinstance(value, dict):
        return _range(key, value)
    return Fixed(value)


def _choice(key: str, values: list[Any]) -> Choice:
    if not values:
        raise ConfigError(f"{key}: an empty list offers no choice; list at least one value")
    bad = [v for v in values if not isinstance(v, _CHOICE_TYPES)]
    if bad:
        raise ConfigError(
            f"{key}: choices must be numbers, strings, booleans or null (got {bad[0]!r})"
        )
    return Choice(tuple(values))


def _range(key: str, spec: dict[str, Any]) -> Range:
    unknown = sorted(set(spec) - _RANGE_KEYS)
    if unknown or not {"low", "high"} <= set(spec):
        raise ConfigError(
            f"{key}: a range needs low and high (and optionally log, step); got "
            f"{sorted(spec)}; write e.g. {{low: 0.01, high: 1.0, log: true}}"
        )
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    if not all(_is_number(v) for v in (low, high)):
        raise ConfigError(f"{key}: low and high must be numbers (got low={low!r}, high={high!r})")
    if not low < high:
        raise ConfigError(f"{key}: low must be below high (got low={low}, high={high})")
    if not isinstance(log, bool):
        raise ConfigError(f"{key}.log: must be true or false (got {log!r})")
    if log and low <= 0:
        raise ConfigError(
            f"{key}: a log range needs low > 0 (got low={low}); use a positive low or log: false"
        )
    if step is not None and (log or not _is_number(step) or step <= 0):
        raise ConfigError(f"{key}.step: must be a positive number without log (got {step!r})")
    integer = all(isinstance(v, int) for v in (low, high)) and (step is None or step == int(step))
    return Range(float(low), float(high), log, integer, step)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def grid(space: Space, points: int) -> dict[str, list[Any]]:
    """Every searched parameter's values on a grid (ranges take ``points`` values).

    Parameters
    ----------
    space : Space
        Parameter name to Choice / Range / Fixed.
    points : int
        Number of grid points per range (see ``Range.points``).

    Returns
    -------
    dict of str to list
        Searched parameter name to its grid values; Fixed parameters are left out.
    """
    values: dict[str, list[Any]] = {}
    for name, param in space.items():
        if isinstance(param, Choice):
            values[name] = list(param.values)
        elif isinstance(param, Range):
            values[name] = param.points(points)
    return values


def grid_size(space: Space, points: int) -> int:
    """Number of combinations on the grid of ``space`` (1 when nothing is searched).

    Parameters
    ----------
    space : Space
        Parameter name to Choice / Range / Fixed.
    points : int
        Number of grid points per range.

    Returns
    -------
    int
        Product of the number of values of every searched parameter.
    """
    return math.prod(len(v) for v in grid(space, points).values())


def is_finite(space: Space) -> bool:
    """Only choices (or nothing) to search: the grid can be searched exhaustively.

    Parameters
    ----------
    space : Space
        Parameter name to Choice / Range / Fixed.

    Returns
    -------
    bool
        True when ``space`` holds no Range.
    """
    return not any(isinstance(p, Range) for p in space.values())


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """Parameters for one trial, drawn through Optuna's define-by-run ``trial`` API.

    Parameters
    ----------
    trial : optuna.trial.Trial
        The running trial (``suggest_categorical`` / ``suggest_int`` / ``suggest_float``).
    space : Space
        Parameter name to Choice / Range / Fixed.

    Returns
    -------
    dict of str to Any
        One value per parameter; Fixed values are passed through without being suggested.
    """
    params: dict[str, Any] = {}
    for name, param in space.items():
        if isinstance(param, Fixed):
            params[name] = param.value
        elif isinstance(param, Choice):
            params[name] = trial.suggest_categorical(name, list(param.values))
        elif param.integer:
            step = int(param.step or 1)
            params[name] = trial.suggest_int(
                name, int(param.low), int(param.high), step=step, log=param.log
            )
        else:
            params[name] = trial.suggest_float(
                name, param.low, param.high, step=param.step, log=param.log
            )
    return params


def fixed_params(space: Space) -> dict[str, Any]:
    """The parameters of ``space`` that are not searched, with their values.

    Parameters
    ----------
    space : Space
        Parameter name to Choice / Range / Fixed.

    Returns
    -------
    dict of str to Any
        Name to value of every ``Fixed`` parameter.
    """
    return {n: p.value for n, p in space.items() if isinstance(p, Fixed)}


@dataclass(frozen=True)
class Scorer:
    """A CV scoring rule: loopml's metric or a scikit-learn scorer, with its direction.

    Calling it scores a fitted model on ``X`` (n_rows, n_features) and ``y`` (n_rows,):
    a loopml metric (``loopml.core.evaluation.metrics.METRICS``) is computed from the
    model's predictions and probabilities, any other name through
    ``sklearn.metrics.get_scorer``.

    Parameters
    ----------
    name : str
        A loopml metric name or a scikit-learn scorer name.
    task : {"classification", "regression"}
        The task the model solves.
    higher_is_better : bool
        Direction of the score (scikit-learn scorers are always greater-is-better).
    """

    name: str
    task: Task
    higher_is_better: bool

    def __call__(self, model: Any, X: pd.DataFrame, y: pd.Series) -> float:
        if self.name in metrics.METRICS:
            predicted, proba = training.predict(model, X, self.task)
            classes = getattr(model, "classes_", None)
            return metrics.score(metrics.METRICS[self.name], y, predicted, proba, classes)
        return float(get_scorer(self.name)(model, X, y))

    @property
    def direction(self) -> str:
        """The Optuna study direction: ``"maximize"`` or ``"minimize"``."""
        return "maximize" if self.higher_is_better else "minimize"

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` is strictly better than score ``b`` in this scorer's direction.

        Parameters
        ----------
        a, b : float
            Two scores of this scorer.

        Returns
        -------
        bool
        """
        return a > b if self.higher_is_better else a < b


def make_scorer(name: str, task: Task, key: str = "tuning.metric") -> Scorer:
    """Any metric loopml knows or any scikit-learn scorer name; else a ConfigError on ``key``.

    Parameters
    ----------
    name : str
        A key of ``metrics.METRICS`` or a name from ``sklearn.metrics.get_scorer_names()``.
    task : {"classification", "regression"}
        The task; a loopml metric must belong to it.
    key : str, default "tuning.metric"
        The config key named in error messages.

    Returns
    -------
    Scorer

    Raises
    ------
    loopml.errors.ConfigError
        A loopml metric of the other task, or a name neither loopml nor scikit-learn knows.
    """
    if name in metrics.METRICS:
        metric = metrics.METRICS[name]
        if metric.task != task:
            fits = ", ".join(n for n, m in metrics.METRICS.items() if m.task == task)
            raise ConfigError(f"{key}: '{name}' is a {metric.task} metric; for {task} use {fits}")
        return Scorer(name, task, metric.higher_is_better)
    if name in get_scorer_names():
        return Scorer(name, task, True)  # scikit-learn scorers: greater is better (neg_*)
    raise ConfigError(
        f"{key}: unknown metric '{name}'; use one of {', '.join(metrics.METRICS)} "
        "or a scikit-learn scorer name (sklearn.metrics.get_scorer_names())"
    )


def fold_kind(cv: CVConfig, task: Task, time_ordered: bool) -> str:
    """The cross-validation splitter to use, resolving ``cv.kind == "auto"``.

    Parameters
    ----------
    cv : loopml.config.CVConfig
        The ``tuning.cv`` section.
    task : {"classification", "regression"}
    time_ordered : bool
        The data is ordered in time (a time split is configured).

    Returns
    -------
    str
        ``cv.kind`` when it is not "auto"; else "time_series" for time-ordered data,
        "stratified" for classification, "kfold" for regression.
    """
    if cv.kind != "auto":
        return cv.kind
    if time_ordered:
        return "time_series"
    return "stratified" if task == "classification" else "kfold"


def make_folds(
    cv: CVConfig, frame: pd.DataFrame, target: str, task: Task, seed: int, time_ordered: bool
) -> Folds:
    """The folds every candidate is scored on: computed once, from the training split only.

    Parameters
    ----------
    cv : loopml.config.CVConfig
        The ``tuning.cv`` section (kind, number of folds, group column).
    frame : pandas.DataFrame
        The training split, shape (n_rows, n_columns), target included.
    target : str
        Name of the target column.
    task : {"classification", "regression"}
    seed : int
        Shuffle seed of the (stratified) K-fold splitters.
    time_ordered : bool
        Passed to ``fold_kind`` to resolve "auto".

    Returns
    -------
    Folds
        List of ``(train_positions, valid_positions)`` integer arrays, one pair per fold,
        from ``sklearn.model_selection`` StratifiedKFold, KFold, TimeSeriesSplit or
        GroupKFold.

    Raises
    ------
    loopml.errors.ConfigError
        Stratified folds with a class rarer than ``cv.folds``; group folds whose group
        column is missing or has fewer groups than ``cv.folds``.
    """
    kind = fold_kind(cv, task, time_ordered)
    y = frame[target]
    if kind == "stratified":
        smallest = int(y.value_counts().min())
        if smallest < cv.folds:
            raise ConfigError(
                f"tuning.cv.folds: {cv.folds} stratified folds need {cv.folds} rows of every "
                f"class in the training split, but one class has {smallest}; lower the folds"
            )
    if kind in ("stratified", "kfold"):
        splitter: Any = shuffled_splitter(kind, cv.folds, seed)
    elif kind == "time_series":
        splitter = TimeSeriesSplit(cv.folds)
    else:
        return _group_folds(cv, frame, y)
    return [(train, valid) for train, valid in splitter.split(frame, y)]


def shuffled_splitter(kind: str, folds: int, seed: int) -> StratifiedKFold | KFold:
    """The shuffled splitter of ``make_folds`` for a "stratified" or "kfold" ``kind``.

    Given the same training split, target and seed it yields the same folds as
    ``make_folds``; on more rows (train + validation) it splits those rows the same way.

    Parameters
    ----------
    kind : {"stratified", "kfold"}
    folds : int
        Number of folds, at least 2.
    seed : int
        Shuffle seed.

    Returns
    -------
    sklearn.model_selection.StratifiedKFold or sklearn.model_selection.KFold
    """
    if kind == "stratified":
        return StratifiedKFold(folds, shuffle=True, random_state=seed)
    return KFold(folds, shuffle=True, random_state=seed)


def _group_folds(cv: CVConfig, frame: pd.DataFrame, y: pd.Series) -> Folds:
    column = str(cv.group_column)
    if column not in frame.columns:
        raise ConfigError(f"tuning.cv.group_column: no column '{column}' in the data")
    groups = frame[column]
    if groups.nunique() < cv.folds:
        raise ConfigError(
            f"tuning.cv.group_column: '{column}' has {groups.nunique()} groups, fewer than "
            f"tuning.cv.folds={cv.folds}; lower the folds"
        )
    return list(GroupKFold(cv.folds).split(frame, y, groups))


@dataclass
class FoldScores:
    """The scores of one candidate across the CV folds.

    Parameters
    ----------
    scores : list of float
        One score per fold that was run, in fold order.
    fit_seconds : float, default 0.0
        Wall-clock time of fitting and scoring the folds, in seconds.
    stopped : bool, default False
        A pruner stopped the trial before its last fold.
    """

    scores: list[float] = field(default_factory=list)
    fit_seconds: float = 0.0
    stopped: bool = False  # a pruner stopped it before the last fold

    @property
    def mean(self) -> float:
        """Mean of the fold scores (NaN when no fold ran)."""
        return float(np.mean(self.scores)) if self.scores else math.nan

    @property
    def std(self) -> float:
        """Population standard deviation (ddof=0) of the fold scores (NaN when no fold ran)."""
        return float(np.std(self.scores)) if self.scores else math.nan


def cross_validate(
    model: BaseEstimator,
    X: pd.DataFrame,
    y: pd.Series,
    folds: Folds,
    scorer: Scorer,
    on_fold: Callable[[int, float], bool] | None = None,
    n_jobs: int = 1,
) -> FoldScores:
    """Fit and score ``model`` fold by fold; ``on_fold(step, running mean)`` True stops early.

    With ``n_jobs`` > 1, folds are fitted in parallel batches and then reported in order,
    so the scores and the pruning decisions are the same as with one worker.

    Parameters
    ----------
    model : sklearn.base.BaseEstimator
        Unfitted estimator (or pipeline); cloned for every fold.
    X : pandas.DataFrame
        Features, shape (n_rows, n_features).
    y : pandas.Series
        Target, shape (n_rows,).
    folds : Folds
        ``(train_positions, valid_positions)`` pairs, e.g. from ``make_folds``.
    scorer : Scorer
        Scores each fitted clone on its validation rows.
    on_fold : callable (int, float) -> bool, optional
        Called after each fold with its 0-based index and the running mean score;
        returning True stops the remaining folds (Optuna pruning).
    n_jobs : int, default 1
        Folds fitted at once, in threads (joblib).

    Returns
    -------
    FoldScores
    """
    jobs = [
        functools.partial(_fit_score, model, X.iloc[tr], y.iloc[tr], X.iloc[va], y.iloc[va], scorer)
        for tr, va in folds
    ]
    return _run_folds(jobs, on_fold, n_jobs)


@dataclass(frozen=True)
class PreparedFold:
    """One fold with the preprocessing fitted on its training rows and applied to both.

    Parameters
    ----------
    X_train : array-like or sparse matrix
        Transformed training rows, shape (n_train, n_encoded_features).
    y_train : pandas.Series
        Target of the training rows, shape (n_train,).
    X_valid : array-like or sparse matrix
        Transformed validation rows, shape (n_valid, n_encoded_features).
    y_valid : pandas.Series
        Target of the validation rows, shape (n_valid,).
    """

    X_train: Any
    y_train: pd.Series
    X_valid: Any
    y_valid: pd.Series


def prepare_folds(
    features: BaseEstimator, X: pd.DataFrame, y: pd.Series, folds: Folds, n_jobs: int = 1
) -> list[PreparedFold]:
    """Fit the preprocessing once per fold (on its training rows only), for every trial.

    The features step does not depend on a model's hyperparameters, so trials reuse it:
    the same scores as refitting the whole pipeline per trial (a unit test checks it),
    without repeating TF-IDF, one-hot and scaling fits hundreds of times.

    Parameters
    ----------
    features : sklearn.base.BaseEstimator
        Unfitted features transformer; cloned per fold and fitted with ``fit_transform``.
    X : pandas.DataFrame
        Features, shape (n_rows, n_features).
    y : pandas.Series
        Target, shape (n_rows,).
    folds : Folds
        ``(train_positions, valid_positions)`` pairs.
    n_jobs : int, default 1
        Folds prepared at once, in threads (joblib).

    Returns
    -------
    list of PreparedFold
        One per fold, in fold order.
    """

    def one(fold: tuple[np.ndarray, np.ndarray]) -> PreparedFold:
        train, valid = fold
        fitted = clone(features)
        # fit_transform, as Pipeline.fit does: the same floats to the last bit
        X_train = fitted.fit_transform(X.iloc[train], y.iloc[train])
        return PreparedFold(X_train, y.iloc[train], fitted.transform(X.iloc[valid]), y.iloc[valid])

    if n_jobs <= 1:
        return [one(fold) for fold in folds]
    return list(
        Parallel(n_jobs=min(n_jobs, len(folds)), prefer="threads")(
            delayed(one)(fold) for fold in folds
        )
    )


def cross_validate_prepared(
    model: BaseEstimator,
    prepared: list[PreparedFold],
    scorer: Scorer,
    on_fold: Callable[[int, float], bool] | None = None,
    n_jobs: int = 1,
) -> FoldScores:
    """``cross_validate`` for the model part of a pipeline, on prepared folds.

    Parameters
    ----------
    model : sklearn.base.BaseEstimator
        Unfitted model step; cloned for every fold.
    prepared : list of PreparedFold
        Folds from ``prepare_folds``.
    scorer : Scorer
        Scores each fitted clone on its validation rows.
    on_fold : callable (int, float) -> bool, optional
        Called after each fold with its 0-based index and the running mean; True stops.
    n_jobs : int, default 1
        Folds fitted at once, in threads.

    Returns
    -------
    FoldScores
    """
    jobs = [
        functools.partial(_fit_score, model, f.X_train, f.y_train, f.X_valid, f.y_valid, scorer)
        for f in prepared
    ]
    return _run_folds(jobs, on_fold, n_jobs)


def _run_folds(
    jobs: Sequence[Callable[[], float]],
    on_fold: Callable[[int, float], bool] | None,
    n_jobs: int,
) -> FoldScores:
    result = FoldScores()
    started = time.perf_counter()
    batch = max(1, n_jobs)
    for first in range(0, len(jobs), batch):
        chunk = jobs[first : first + batch]
        if len(chunk) == 1:
            scores = [chunk[0]()]
        else:
            scores = list(
                Parallel(n_jobs=len(chunk), prefer="threads")(delayed(j)() for j in chunk)
            )
        for offset, score in enumerate(scores):
            result.scores.append(score)
            if on_fold is not None and on_fold(first + offset, result.mean):
                result.stopped = len(result.scores) < len(jobs)
                result.fit_seconds = time.perf_counter() - started
                return result
    result.fit_seconds = time.perf_counter() - started
    return result


def _fit_score(
    model: BaseEstimator,
    X_train: Any,
    y_train: pd.Series,
    X_valid: Any,
    y_valid: pd.Series,
    scorer: Scorer,
) -> float:
    fitted = clone(model).fit(X_train, y_train)
    return scorer(fitted, X_valid, y_valid)


@dataclass(frozen=True)
class Budget:
    """What every candidate gets: at most ``trials`` trials and/or ``timeout`` of search.

    Parameters
    ----------
    trials : int or None
        None: no trial cap.
    timeout : float or None
        Wall-clock seconds of search (``tuning.budget.timeout``, as Optuna's ``timeout``);
        None: no time limit.
    time_limit : float or None, default None
        Seconds of the whole run (``tuning.budget.time_limit``); None: no limit.
    share : float or None, default None
        Seconds of search each candidate gets from ``time_limit`` (``core.budget.plan``);
        unlike ``timeout`` it also stops a running trial between folds. None: not planned.
    successive_halving : bool, default False
        ``share`` is split in two rungs: half for every candidate, the rest of the search
        for the better half (``core.budget.first_rung``).
    """

    trials: int | None
    timeout: float | None
    time_limit: float | None = None
    share: float | None = None
    successive_halving: bool = False

    @property
    def seconds(self) -> float | None:
        """Search seconds per candidate: the smaller of ``timeout`` and ``share`` (or None)."""
        given = [s for s in (self.timeout, self.share) if s is not None]
        return min(given) if given else None

    def describe(self) -> str:
        """The budget as text, e.g. ``"50 trials / 600 s"`` (empty when neither is set);
        with a time limit, e.g. ``"14 s each of the 60 s time limit"``.

        Returns
        -------
        str
        """
        parts = [f"{self.trials} trials"] if self.trials else []
        parts += [f"{self.timeout:g} s"] if self.timeout else []
        if self.time_limit is not None and self.share is not None:
            parts += [f"{self.share:.1f} s each of the {self.time_limit:g} s time limit"]
            if self.successive_halving:
                parts[-1] = (
                    f"{self.share / 2:.1f} s each of the {self.time_limit:g} s time limit, "
                    "then the rest of the search for the better half (successive halving)"
                )
        return " / ".join(parts)


@dataclass(frozen=True)
class Method:
    """A search method: how trials are proposed and whether weak ones are stopped early.

    Parameters
    ----------
    name : {"grid", "random", "tpe", "halving"}
    pruning : bool
        Prune with Hyperband when there are 3+ folds (halving always prunes, with
        successive halving).
    seed : int
        The sampler's seed.
    grid_points : int, default 5
        Points per range on a grid.
    """

    name: str  # grid | random | tpe | halving
    pruning: bool
    seed: int
    grid_points: int = 5

    def plan(self, space: Space, budget: Budget) -> tuple[str, int | None]:
        """(sampler actually used, trial cap): a finite space the budget covers is searched
        exhaustively (a sampler would only repeat points).

        Parameters
        ----------
        space : Space
            The candidate's search space.
        budget : Budget
            Trial and time budget.

        Returns
        -------
        tuple of (str, int or None)
            ``("grid", 1)`` when nothing is searched; ``("grid", cap)`` for grid search or a
            choice-only space whose grid fits in ``budget.trials`` or has no trial cap
            (cap = grid size, at most ``budget.trials``); else the method's sampler
            ("random" for halving) and ``budget.trials``.
        """
        searched = grid(space, self.grid_points)
        if not searched:
            return "grid", 1
        size = grid_size(space, self.grid_points)
        covered = is_finite(space) and (budget.trials is None or size <= budget.trials)
        if self.name == "grid" or covered:
            cap = size if budget.trials is None else min(size, budget.trials)
            return "grid", cap
        return ("random" if self.name == "halving" else self.name), budget.trials

    def sampler(self, kind: str, space: Space) -> Any:
        """The Optuna sampler for ``kind``, seeded with ``self.seed``.

        Parameters
        ----------
        kind : str
            "grid", "random", or anything else for TPE (the first element of ``plan``).
        space : Space
            The search space (its grid, for the grid sampler).

        Returns
        -------
        optuna.samplers.BaseSampler
            ``GridSampler``, ``RandomSampler`` or a multivariate ``TPESampler`` with 5
            start-up trials.
        """
        import optuna

        if kind == "grid":
            return optuna.samplers.GridSampler(grid(space, self.grid_points), seed=self.seed)
        if kind == "random":
            return optuna.samplers.RandomSampler(seed=self.seed)
        return optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=5, multivariate=True)

    def pruner(self, folds: int) -> Any:
        """The Optuna pruner; a trial's resource is its number of folds scored.

        Parameters
        ----------
        folds : int
            Number of CV folds.

        Returns
        -------
        optuna.pruners.BasePruner
            ``SuccessiveHalvingPruner`` (reduction factor 3) for "halving";
            ``HyperbandPruner`` when pruning is on and there are at least 3 folds;
            else ``NopPruner``.
        """
        import optuna

        if self.name == "halving":
            return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        if self.pruning and folds >= 3:
            return optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=folds, reduction_factor=3
            )
        return optuna.pruners.NopPruner()


def product_of(values: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of a grid, in a stable order.

    Parameters
    ----------
    values : mapping of str to sequence
        Parameter name to its values (e.g. from ``grid``).

    Returns
    -------
    list of dict
        One dict per combination (``itertools.product`` order).
    """
    names = list(values)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values.values())]


@dataclass(frozen=True)
class OutOfFold:
    """One model's out-of-fold predictions on the CV folds.

    Parameters
    ----------
    values : numpy.ndarray
        Class probabilities, shape (n_rows, n_classes), columns in ``classes`` order; or
        predicted values, shape (n_rows,). Rows no fold validated (the first block of
        time-series folds) are NaN.
    classes : numpy.ndarray or None
        The class labels, shape (n_classes,), sorted; None for regression.
    folds : Folds
        The folds the predictions came from, as given.
    """

    values: np.ndarray
    classes: np.ndarray | None
    folds: Folds


def out_of_fold(
    model: BaseEstimator, X: pd.DataFrame, y: pd.Series, folds: Folds, task: Task, n_jobs: int = 1
) -> OutOfFold:
    """Fit a clone per fold and predict its validation rows (``cross_val_predict``'s idea,
    on loopml's shared folds, which need not cover every row).

    Parameters
    ----------
    model : sklearn.base.BaseEstimator
        Unfitted estimator or pipeline; for classification it must have ``predict_proba``.
    X : pandas.DataFrame
        Features, shape (n_rows, n_features).
    y : pandas.Series
        Target, shape (n_rows,).
    folds : Folds
        ``(train_positions, valid_positions)`` pairs.
    task : {"classification", "regression"}
    n_jobs : int, default 1
        Folds fitted at once, in threads (joblib).

    Returns
    -------
    OutOfFold

    Raises
    ------
    Exception
        Whatever fitting or predicting a fold raises.
    """
    classes = np.unique(np.asarray(y)) if task == "classification" else None

    def one(fold: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        train, valid = fold
        fitted = clone(model).fit(X.iloc[train], y.iloc[train])
        if classes is None:
            return np.asarray(fitted.predict(X.iloc[valid]), dtype=float)
        proba = np.zeros((len(valid), len(classes)))
        seen = np.searchsorted(classes, np.asarray(fitted.classes_))
        proba[:, seen] = fitted.predict_proba(X.iloc[valid])
        return proba

    if n_jobs <= 1:
        parts = [one(fold) for fold in folds]
    else:
        parts = list(
            Parallel(n_jobs=min(n_jobs, len(folds)), prefer="threads")(
                delayed(one)(fold) for fold in folds
            )
        )
    shape = (len(X),) if classes is None else (len(X), len(classes))
    values = np.full(shape, np.nan)
    for (_, valid), part in zip(folds, parts, strict=True):
        values[valid] = part
    return OutOfFold(values, classes, folds)


def warm_starts(
    name: str, portfolio: Sequence[Mapping[str, Any]], space: Space
) -> tuple[list[dict[str, Any]], list[str]]:
    """The portfolio's configurations, fitted into ``space``, to try before the sampler.

    As FLAML's zero-shot portfolio (``flaml/default/``) and AutoGluon's hyperparameter
    presets do, a few configurations known to do well across datasets are tried first;
    ``run_study`` enqueues them (``optuna.Study.enqueue_trial``).

    Parameters
    ----------
    name : str
        The candidate's name under ``models.candidates`` (used in the notes).
    portfolio : sequence of mapping
        Parameter name to value, e.g. ``CatalogModel.portfolio``.
    space : Space
        The candidate's search space (the catalog's default or the user's).

    Returns
    -------
    configurations : list of dict
        Only the parameters ``space`` searches: a value outside a range is clipped to its
        bound (rounded to an integer, or onto its step, as the range samples); a value that
        is not one of a choice's values is left to the sampler. Configurations with nothing
        left to set, or equal to an earlier one, are dropped.
    notes : list of str
        One line per value changed or left to the sampler, naming the key.
    """
    configurations: list[dict[str, Any]] = []
    notes: list[str] = []
    for number, entry in enumerate(portfolio, start=1):
        point: dict[str, Any] = {}
        for param, value in entry.items():
            searched = space.get(param)
            key = f"models.candidates.{name}.{param}"
            if isinstance(searched, Range):
                fitted = _into_range(searched, float(value))
                if fitted != value:
                    notes.append(
                        f"{key}: warm start {number} has {value}, outside your range; "
                        f"tried with {fitted}"
                    )
                point[param] = fitted
            elif isinstance(searched, Choice):
                if value in searched.values:
                    point[param] = value
                else:
                    notes.append(
                        f"{key}: warm start {number} has {value!r}, not one of your choices; "
                        "the sampler picks it"
                    )
        if point and point not in configurations:
            configurations.append(point)
    return configurations, notes


def _into_range(param: Range, value: float) -> Any:
    clipped = min(max(value, param.low), param.high)
    if param.step is not None:
        clipped = param.low + round((clipped - param.low) / param.step) * param.step
        clipped = min(clipped, param.high)
    return round(clipped) if param.integer else float(clipped)
