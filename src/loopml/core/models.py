"""The model catalog: baselines, default candidates and search spaces, estimators by import path.

A default space uses the YAML syntax of ``models.candidates``: a list is a choice,
``{low, high, log}`` a range. Ranges stay where the model is cheap and the parameter
matters most, so a small budget still finds a good region.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.naive_bayes import ComplementNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC, SVR

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


def _extra_trees(task: Task, seed: int) -> BaseEstimator:
    cls = ExtraTreesClassifier if task == "classification" else ExtraTreesRegressor
    return cls(n_estimators=200, random_state=seed, n_jobs=1)


def _gradient_boosting(task: Task, seed: int) -> BaseEstimator:
    cls = GradientBoostingClassifier if task == "classification" else GradientBoostingRegressor
    return cls(random_state=seed)


def _xgboost(task: Task, seed: int) -> BaseEstimator:
    try:
        import xgboost
    except ImportError:
        raise ConfigError(
            "models.candidates.xgboost: XGBoost is not installed; pip install xgboost "
            "(or xgboost-cpu), or choose lightgbm"
        ) from None
    from loopml.core.xgb import XGBLabelClassifier

    cls = XGBLabelClassifier if task == "classification" else xgboost.XGBRegressor
    return cls(n_estimators=300, learning_rate=0.05, random_state=seed, n_jobs=1, verbosity=0)


def _svm(task: Task, seed: int) -> BaseEstimator:
    if task == "classification":
        return SVC(probability=True, random_state=seed)  # probabilities: roc_auc, soft voting
    return SVR()


def _knn(task: Task, seed: int) -> BaseEstimator:
    return KNeighborsClassifier() if task == "classification" else KNeighborsRegressor()


Factory = Callable[[Task, int], BaseEstimator]
BOTH: tuple[Task, ...] = ("classification", "regression")
CATALOG: dict[str, tuple[tuple[Task, ...], Factory]] = {
    "logistic_regression": (("classification",), _logistic),
    "linear_regression": (("regression",), lambda task, seed: LinearRegression()),
    "ridge": (("regression",), lambda task, seed: Ridge(alpha=1.0)),
    "random_forest": (BOTH, _random_forest),
    "extra_trees": (BOTH, _extra_trees),
    "gradient_boosting": (BOTH, _gradient_boosting),
    "lightgbm": (BOTH, _lightgbm),
    "xgboost": (BOTH, _xgboost),
    "svm": (BOTH, _svm),
    "knn": (BOTH, _knn),
    "naive_bayes": (("classification",), lambda task, seed: ComplementNB()),  # text (tf-idf)
}

# Up to 150 trees: on 3,859 taxi rows the 50-400 range made random forest's search most
# of the run (issue 18: 773 of 886 s; 340 trees took 305 s and scored CV R² 0.8674,
# 154 trees 132 s and 0.8673): a forest's score flattens long before 400 trees.
_FOREST_SPACE: dict[str, Any] = {
    "n_estimators": {"low": 50, "high": 150, "log": True},
    "max_features": ["sqrt", 0.5, 1.0],
    "min_samples_leaf": {"low": 1, "high": 20, "log": True},
}
DEFAULT_SPACES: dict[str, dict[str, Any]] = {
    "logistic_regression": {"C": {"low": 1e-3, "high": 100.0, "log": True}},
    "linear_regression": {},
    "ridge": {"alpha": {"low": 1e-3, "high": 1000.0, "log": True}},
    "random_forest": _FOREST_SPACE,
    "extra_trees": _FOREST_SPACE,
    "gradient_boosting": {
        "n_estimators": {"low": 50, "high": 400, "log": True},
        "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
        "max_depth": {"low": 2, "high": 6},
        "subsample": {"low": 0.6, "high": 1.0},
    },
    "lightgbm": {
        "n_estimators": {"low": 50, "high": 600, "log": True},
        "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
        "num_leaves": {"low": 7, "high": 127, "log": True},
        "min_child_samples": {"low": 3, "high": 60, "log": True},
        "colsample_bytree": {"low": 0.5, "high": 1.0},
        "reg_lambda": {"low": 1e-3, "high": 10.0, "log": True},
    },
    "xgboost": {
        "n_estimators": {"low": 50, "high": 600, "log": True},
        "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
        "max_depth": {"low": 2, "high": 10},
        "subsample": {"low": 0.6, "high": 1.0},
        "colsample_bytree": {"low": 0.5, "high": 1.0},
    },
    "svm": {"C": {"low": 1e-2, "high": 100.0, "log": True}, "kernel": ["rbf", "linear"]},
    "knn": {"n_neighbors": {"low": 3, "high": 50, "log": True}, "weights": ["uniform", "distance"]},
    "naive_bayes": {"alpha": {"low": 1e-3, "high": 10.0, "log": True}},
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


def default_space(name: str) -> dict[str, Any]:
    """The catalog's search space for ``name``; none (fixed defaults) for other estimators."""
    return dict(DEFAULT_SPACES.get(name, {}))


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
