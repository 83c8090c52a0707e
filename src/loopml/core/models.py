"""The model catalog: baselines, default candidates per task, and estimators by import path."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from loopml.config import Task
from loopml.core.data.roles import ColumnRoles
from loopml.core.features import build_preprocessor
from loopml.errors import ConfigError

BASELINE = "baseline"


def _lightgbm(task: Task, seed: int) -> BaseEstimator:
    import lightgbm

    cls = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
    return cls(n_estimators=300, learning_rate=0.05, random_state=seed, n_jobs=1, verbose=-1)


def _random_forest(task: Task, seed: int) -> BaseEstimator:
    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    return cls(n_estimators=200, random_state=seed, n_jobs=1)


def _logistic(task: Task, seed: int) -> BaseEstimator:
    return LogisticRegression(max_iter=2000, random_state=seed)


CATALOG: dict[str, tuple[tuple[Task, ...], Callable[[Task, int], BaseEstimator]]] = {
    "logistic_regression": (("classification",), _logistic),
    "linear_regression": (("regression",), lambda task, seed: LinearRegression()),
    "ridge": (("regression",), lambda task, seed: Ridge(alpha=1.0)),
    "random_forest": (("classification", "regression"), _random_forest),
    "lightgbm": (("classification", "regression"), _lightgbm),
}

DEFAULT_CANDIDATES: dict[Task, tuple[str, ...]] = {
    "classification": ("logistic_regression", "random_forest", "lightgbm"),
    "regression": ("ridge", "random_forest", "lightgbm"),
}


def baseline(task: Task) -> BaseEstimator:
    """Most-frequent class or the mean: the score any model must beat."""
    if task == "classification":
        return DummyClassifier(strategy="most_frequent")
    return DummyRegressor(strategy="mean")


def candidate_names(
    configured: dict[str, dict[str, Any]] | None, task: Task
) -> dict[str, dict[str, Any]]:
    """The configured candidates, or the catalog's defaults for the task."""
    if configured:
        return configured
    return {name: {} for name in DEFAULT_CANDIDATES[task]}


def make_estimator(name: str, params: dict[str, Any], task: Task, seed: int) -> BaseEstimator:
    """A catalog model by name, or any scikit-learn-compatible class by import path."""
    if name in CATALOG:
        tasks, factory = CATALOG[name]
        if task not in tasks:
            fits = [n for n, (t, _) in CATALOG.items() if task in t]
            raise ConfigError(
                f"models.candidates.{name}: not a {task} model; use one of {', '.join(fits)}"
            )
        estimator = factory(task, seed)
    elif "." in name:
        estimator = _import_estimator(name)
    else:
        raise ConfigError(
            f"models.candidates.{name}: unknown model; use one of {', '.join(CATALOG)} "
            "or an import path like sklearn.svm.SVC"
        )
    return _with_params(estimator, params, name)


def _import_estimator(path: str) -> BaseEstimator:
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"models.candidates.{path}: cannot import ({exc}); check the path"
        ) from None
    if not (isinstance(cls, type) and hasattr(cls, "fit") and hasattr(cls, "predict")):
        raise ConfigError(f"models.candidates.{path}: not an estimator class with fit and predict")
    try:
        return cls()
    except TypeError as exc:
        raise ConfigError(
            f"models.candidates.{path}: cannot be created without arguments ({exc}); "
            "wrap it in a class whose __init__ has defaults for every parameter"
        ) from None


def _with_params(estimator: BaseEstimator, params: dict[str, Any], name: str) -> BaseEstimator:
    known = estimator.get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(
            f"models.candidates.{name}.{unknown[0]}: not a parameter of "
            f"{type(estimator).__name__}; known: {', '.join(sorted(known))}"
        )
    return estimator.set_params(**params)


def build_pipeline(roles: ColumnRoles, estimator: BaseEstimator) -> Pipeline:
    """Preprocessing and model in one scikit-learn pipeline."""
    return Pipeline([("features", build_preprocessor(roles)), ("model", estimator)])
