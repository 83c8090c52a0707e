"""The model catalog: baselines, default candidates and search spaces, estimators by import path.

A default space uses the YAML syntax of ``models.candidates``: a list is a choice,
``{low, high, log}`` a range. Ranges stay where the model is cheap and the parameter
matters most, so a small budget still finds a good region.

Adding a model is one ``CatalogModel`` record in ``MODELS``: its tasks, factory, default
space, pip name and the types its fitted model loads from a skops file. The serving
allow-list (``trusted_types``, read by ``tracking.models``) is derived from the records.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.compose import TransformedTargetRegressor
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
from loopml.core import target
from loopml.core.data.roles import ColumnRoles
from loopml.core.features import Categoricals, build_preprocessor, categorical_positions
from loopml.errors import ConfigError

BASELINE = "baseline"


def _lightgbm(task: Task, seed: int) -> BaseEstimator:
    from loopml.core import early_stopping as es

    cls = (
        es.EarlyStoppingLGBMClassifier
        if task == "classification"
        else es.EarlyStoppingLGBMRegressor
    )
    # Early stopping is off by default (benchmarks/bench_boosting.py: not better, slower);
    # models.candidates.lightgbm: {early_stopping_rounds: 50, n_estimators: 2000} turns it on.
    return cls(
        n_estimators=300,
        early_stopping_rounds=None,
        validation_fraction=es.VALIDATION_FRACTION,
        learning_rate=0.05,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )


def _catboost(task: Task, seed: int) -> BaseEstimator:
    from loopml.core.catboost_model import CatBoostLabelClassifier, CatBoostValueRegressor

    cls = CatBoostLabelClassifier if task == "classification" else CatBoostValueRegressor
    return cls(random_state=seed, thread_count=1)


def _lightgbm_categories(estimator: BaseEstimator, positions: list[int]) -> BaseEstimator:
    # "categorical_column": LightGBM's alias of categorical_feature as a parameter (the
    # Python package warns about the main name when it comes as a parameter, not to fit)
    return estimator.set_params(categorical_column=positions)


def _catboost_categories(estimator: BaseEstimator, positions: list[int]) -> BaseEstimator:
    return estimator.set_params(cat_features=positions)


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
    return cls(random_state=seed)  # n_iter_no_change (scikit-learn's early stopping): opt-in


def _xgboost(task: Task, seed: int) -> BaseEstimator:
    try:
        from loopml.core.xgb import EarlyStoppingXGBClassifier, EarlyStoppingXGBRegressor
    except ImportError:
        raise ConfigError(
            "models.candidates.xgboost: XGBoost is not installed; pip install xgboost "
            "(or xgboost-cpu), or choose lightgbm"
        ) from None
    from loopml.core import early_stopping as es

    cls = EarlyStoppingXGBClassifier if task == "classification" else EarlyStoppingXGBRegressor
    # Early stopping off by default, as for lightgbm: early_stopping_rounds turns it on.
    return cls(
        n_estimators=300,
        early_stopping_rounds=None,
        validation_fraction=es.VALIDATION_FRACTION,
        learning_rate=0.05,
        random_state=seed,
        n_jobs=1,
        verbosity=0,
    )


def _svm(task: Task, seed: int) -> BaseEstimator:
    if task == "classification":
        return SVC(probability=True, random_state=seed)  # probabilities: roc_auc, soft voting
    return SVR()


def _knn(task: Task, seed: int) -> BaseEstimator:
    return KNeighborsClassifier() if task == "classification" else KNeighborsRegressor()


Factory = Callable[[Task, int], BaseEstimator]
# (estimator, positions of the category-code columns) -> the estimator, told which they are
MarkCategories = Callable[[BaseEstimator, list[int]], BaseEstimator]
BOTH: tuple[Task, ...] = ("classification", "regression")

# What every loopml pipeline loads besides its model: scikit-learn's pipeline and
# preprocessors, loopml's own transformers and wrappers, and the containers they hold.
PIPELINE_TYPES: tuple[str, ...] = (
    "sklearn.",
    "numpy.",
    "scipy.",
    "loopml.core.",
    "collections.",
    "builtins.",
)


@dataclass(frozen=True)
class CatalogModel:
    """One model of the catalog: everything loopml needs to build, tune, save and load it.

    Parameters
    ----------
    name : str
        The name under ``models.candidates`` in loopml.yaml.
    tasks : tuple of {"classification", "regression"}
        The tasks it can learn.
    factory : callable
        ``factory(task, seed)``: a fresh, unfitted estimator with loopml's defaults.
    space : dict
        The default search space, in the YAML syntax of ``models.candidates`` (a list is
        a choice, ``{low, high, log}`` a range); empty for fixed defaults.
    trusts : tuple of str
        The types a fitted model may load from a skops file besides ``PIPELINE_TYPES``:
        module-qualified names (``"lightgbm.sklearn.LGBMClassifier"``) or prefixes ending
        with a dot (``"lightgbm."``). The serving allow-list is derived from these.
    pip : str or None
        The distribution to ``pip install`` when the library is missing; None for
        scikit-learn models (always installed).
    portfolio : tuple of dict, default ()
        Warm starts: configurations known to do well across datasets, inside ``space``,
        tried before the sampler explores (``tuning.portfolio``; see
        ``loopml.core.tuning.warm_starts``). Each names its source beside it.
    categoricals : {"one_hot", "native"}, default "one_hot"
        How category columns reach it by default (``features.build_preprocessor``):
        one-hot columns, or one integer code per column that the model splits on itself.
    mark_categories : callable or None
        A model that can take categories natively: ``mark_categories(estimator,
        positions)`` tells a fresh estimator which input columns hold category codes
        (LightGBM's ``categorical_feature``, CatBoost's ``cat_features``).
    char_ngrams : bool, default True
        Whether its text columns get character n-grams beside their words
        (``features.build_preprocessor``). False for the boosters, whose fit time grows
        with the non-zero values: the n-grams multiply those by 17 on Made-With-ML, and a
        LightGBM fit took 19x as long (0.8 s to 14.7 s), XGBoost's over 20x (3.2 s to more
        than a minute), CatBoost densifies them.

    Raises
    ------
    ValueError
        When ``trusts`` is empty: a model whose types nobody declared would be refused
        when served, so it is refused here, when the catalog is built. When
        ``categoricals`` is "native" without ``mark_categories``.
    """

    name: str
    tasks: tuple[Task, ...]
    factory: Factory
    space: dict[str, Any]
    trusts: tuple[str, ...]
    pip: str | None = None
    portfolio: tuple[dict[str, Any], ...] = ()
    categoricals: Categoricals = "one_hot"
    mark_categories: MarkCategories | None = None
    char_ngrams: bool = True

    def __post_init__(self) -> None:
        if not self.trusts:
            raise ValueError(
                f"catalog model {self.name!r} declares no types its fitted model loads; "
                'set trusts=(...) (module-qualified names, or a prefix like "sklearn.")'
            )
        if self.categoricals == "native" and self.mark_categories is None:
            raise ValueError(
                f"catalog model {self.name!r} takes categories natively but has no "
                "mark_categories(estimator, positions) to tell it which columns they are"
            )


# Up to 150 trees: on 3,859 taxi rows the 50-400 range made random forest's search most
# of the run (issue 18: 773 of 886 s; 340 trees took 305 s and scored CV R² 0.8674,
# 154 trees 132 s and 0.8673): a forest's score flattens long before 400 trees.
_FOREST_SPACE: dict[str, Any] = {
    "n_estimators": {"low": 50, "high": 150, "log": True},
    "max_features": ["sqrt", 0.5, 1.0],
    "min_samples_leaf": {"low": 1, "high": 20, "log": True},
}
# CatBoost for small budgets: AutoGluon's CatBoost space (learning_rate 0.005-0.1 log,
# depth 4-8, l2_leaf_reg 1-5) and FLAML's (learning_rate 0.005-0.2 log), but a bounded
# number of trees instead of thousands with early stopping: a CatBoost fit costs a few
# times a LightGBM one, so the rounds stay where a small budget still runs many trials.
_CATBOOST_SPACE: dict[str, Any] = {
    "iterations": {"low": 100, "high": 500, "log": True},
    "learning_rate": {"low": 0.01, "high": 0.2, "log": True},
    "depth": {"low": 4, "high": 8},
    "l2_leaf_reg": {"low": 1.0, "high": 10.0, "log": True},
}
_SKLEARN = ("sklearn.",)
MODELS: dict[str, CatalogModel] = {
    m.name: m
    for m in (
        CatalogModel(
            "logistic_regression",
            ("classification",),
            _logistic,
            {"C": {"low": 1e-3, "high": 100.0, "log": True}},
            _SKLEARN,
        ),
        CatalogModel(
            "linear_regression",
            ("regression",),
            lambda task, seed: LinearRegression(),
            {},
            _SKLEARN,
        ),
        CatalogModel(
            "ridge",
            ("regression",),
            lambda task, seed: Ridge(alpha=1.0),
            {"alpha": {"low": 1e-3, "high": 1000.0, "log": True}},
            _SKLEARN,
        ),
        # The forests keep word TF-IDF only: on Made-With-ML (title + description, one
        # split, default parameters) the n-grams took a forest's fit from 0.58 to 1.03 s
        # and its validation macro F1 from 0.746 to 0.736 (extra trees 0.762 to 0.771),
        # and the default run's forest search from about 40 to 122 s.
        CatalogModel(
            "random_forest", BOTH, _random_forest, _FOREST_SPACE, _SKLEARN, char_ngrams=False
        ),
        CatalogModel("extra_trees", BOTH, _extra_trees, _FOREST_SPACE, _SKLEARN, char_ngrams=False),
        CatalogModel(
            "gradient_boosting",
            BOTH,
            _gradient_boosting,
            {
                "n_estimators": {"low": 50, "high": 400, "log": True},
                "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
                "max_depth": {"low": 2, "high": 6},
                "subsample": {"low": 0.6, "high": 1.0},
            },
            _SKLEARN,
            portfolio=(
                # scikit-learn's own defaults
                {"learning_rate": 0.1, "max_depth": 3, "subsample": 1.0},
            ),
            char_ngrams=False,  # a booster, as lightgbm: its fit grows with non-zero values
        ),
        CatalogModel(
            "lightgbm",
            BOTH,
            _lightgbm,
            {
                "n_estimators": {"low": 50, "high": 600, "log": True},
                "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
                "num_leaves": {"low": 7, "high": 127, "log": True},
                "min_child_samples": {"low": 3, "high": 60, "log": True},
                "colsample_bytree": {"low": 0.5, "high": 1.0},
                "reg_lambda": {"low": 1e-3, "high": 10.0, "log": True},
            },
            (
                "lightgbm.",
                # the catalog's LightGBM (core.early_stopping): named, so that
                # categoricals_for finds this record for it
                "loopml.core.early_stopping.EarlyStoppingLGBMClassifier",
                "loopml.core.early_stopping.EarlyStoppingLGBMRegressor",
            ),
            pip="lightgbm",
            portfolio=(
                # AutoGluon's "GBM" preset {}: LightGBM's own defaults, stopped early
                # (autogluon/tabular/models/lgb/hyperparameters/parameters.py); reg_lambda
                # at the space's floor stands for LightGBM's 0.
                {
                    "learning_rate": 0.1,
                    "num_leaves": 31,
                    "min_child_samples": 20,
                    "colsample_bytree": 1.0,
                    "reg_lambda": 1e-3,
                },
                # AutoGluon's "GBMLarge" (autogluon/tabular/configs/hyperparameter_configs.py:
                # learning_rate 0.03, num_leaves 128, feature_fraction 0.9,
                # min_data_in_leaf 3); 127 leaves, the space's top.
                {
                    "learning_rate": 0.03,
                    "num_leaves": 127,
                    "min_child_samples": 3,
                    "colsample_bytree": 0.9,
                    "reg_lambda": 1e-3,
                },
            ),
            # one-hot by default: native categories did not score better at equal trials
            # (benchmarks/bench_categoricals.py: titanic, taxis; bike has no categories)
            mark_categories=_lightgbm_categories,
            char_ngrams=False,
        ),
        CatalogModel(
            "catboost",
            BOTH,
            _catboost,
            _CATBOOST_SPACE,
            (
                "loopml.core.catboost_model.CatBoostLabelClassifier",
                "loopml.core.catboost_model.CatBoostValueRegressor",
            ),
            pip="catboost",
            categoricals="native",
            mark_categories=_catboost_categories,
            char_ngrams=False,
        ),
        CatalogModel(
            "xgboost",
            BOTH,
            _xgboost,
            {
                "n_estimators": {"low": 50, "high": 600, "log": True},
                "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
                "max_depth": {"low": 2, "high": 10},
                "subsample": {"low": 0.6, "high": 1.0},
                "colsample_bytree": {"low": 0.5, "high": 1.0},
            },
            ("xgboost.", "loopml.core.xgb."),
            pip="xgboost",
            char_ngrams=False,
            portfolio=(
                # XGBoost's defaults (AutoGluon's "XGB" preset keeps them, at rate 0.1)
                {"learning_rate": 0.1, "max_depth": 6, "subsample": 1.0, "colsample_bytree": 1.0},
                # FLAML's zero-shot portfolio, xgb_limitdepth/regression.json (from
                # connect-4): max_depth 11 is 10 here, the space's top.
                {
                    "learning_rate": 0.039,
                    "max_depth": 10,
                    "subsample": 0.78,
                    "colsample_bytree": 1.0,
                },
            ),
        ),
        CatalogModel(
            "svm",
            BOTH,
            _svm,
            {"C": {"low": 1e-2, "high": 100.0, "log": True}, "kernel": ["rbf", "linear"]},
            _SKLEARN,
            # word TF-IDF only: with the n-grams a fit on Made-With-ML took 10x as long
            # (0.55 to 5.8 s) and scored lower (validation macro F1 0.682 to 0.655)
            char_ngrams=False,
        ),
        CatalogModel(
            "knn",
            BOTH,
            _knn,
            {
                "n_neighbors": {"low": 3, "high": 50, "log": True},
                "weights": ["uniform", "distance"],
            },
            _SKLEARN,
        ),
        CatalogModel(  # text (tf-idf)
            "naive_bayes",
            ("classification",),
            lambda task, seed: ComplementNB(),
            {"alpha": {"low": 1e-3, "high": 10.0, "log": True}},
            _SKLEARN,
        ),
    )
}
# Views of MODELS, as earlier code and tests read them.
CATALOG: dict[str, tuple[tuple[Task, ...], Factory]] = {
    name: (m.tasks, m.factory) for name, m in MODELS.items()
}
DEFAULT_SPACES: dict[str, dict[str, Any]] = {name: m.space for name, m in MODELS.items()}


def trusted_types(models: Iterable[CatalogModel] | None = None) -> tuple[str, ...]:
    """The skops allow-list: ``PIPELINE_TYPES`` plus what every catalog model declares.

    Parameters
    ----------
    models : iterable of CatalogModel, optional
        The records to trust; the whole catalog (``MODELS``) by default.

    Returns
    -------
    tuple of str
        Type names and dot-ended prefixes, without repeats, in declaration order.
    """
    found = list(PIPELINE_TYPES)
    for model in MODELS.values() if models is None else models:
        found += [t for t in model.trusts if t not in found]
    return tuple(found)


def is_trusted(type_name: str, trusted: Iterable[str]) -> bool:
    """Whether a module-qualified type name is in ``trusted`` (exactly, or by a prefix).

    Parameters
    ----------
    type_name : str
        As skops reports it, e.g. ``"sklearn.pipeline.Pipeline"``.
    trusted : iterable of str
        Exact names, and prefixes ending with a dot.

    Returns
    -------
    bool
    """
    return any(type_name == t or (t.endswith(".") and type_name.startswith(t)) for t in trusted)


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
    """A catalog model by name, or any scikit-learn-compatible class by import path.

    ``params`` are the estimator's own, plus optionally ``target_transform`` (``none`` or
    ``log1p``; regression only): with ``log1p`` the estimator is wrapped to fit on the
    log1p of the target and predict on the original scale (``loopml.core.target.wrap``).

    Raises
    ------
    loopml.errors.ConfigError
        An unknown model or parameter, a model of the other task, a missing library, or a
        ``target_transform`` that does not apply.
    """
    params = dict(params)
    transform = params.pop(target.KEY, target.NONE)
    key = f"models.candidates.{name}.{target.KEY}"
    if transform != target.NONE:
        target.check(key, (transform,), task, None)
    if name in MODELS:
        record = MODELS[name]
        if task not in record.tasks:
            fits = [n for n, m in MODELS.items() if task in m.tasks]
            raise ConfigError(
                f"models.candidates.{name}: not a {task} model; use one of {', '.join(fits)}"
            )
        try:
            estimator = record.factory(task, seed)
        except ImportError as exc:
            if record.pip is None:
                raise
            raise ConfigError(
                f"models.candidates.{name}: {record.pip} is not installed ({exc}); "
                f"pip install {record.pip}"
            ) from None
    elif "." in name:
        estimator = _import_estimator(name)
    else:
        raise ConfigError(
            f"models.candidates.{name}: unknown model; use one of {', '.join(MODELS)} "
            "or an import path like sklearn.svm.SVC"
        )
    return target.wrap(_with_params(estimator, params, name), transform, key)


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


def categoricals_for(estimator: BaseEstimator) -> CatalogModel | None:
    """The catalog record that can take ``estimator``'s categories natively, if one does.

    Parameters
    ----------
    estimator : sklearn.base.BaseEstimator
        A catalog model, or any estimator (by import path).

    Returns
    -------
    CatalogModel or None
        The record with ``mark_categories`` whose ``trusts`` cover the estimator's type
        (so ``lightgbm.LGBMRegressor`` named by its import path counts as well); None
        when its categories can only go one-hot.
    """
    native = [r for r in _covering(estimator) if r.mark_categories is not None]
    return native[0] if native else None


def char_ngrams_for(estimator: BaseEstimator) -> bool:
    """Whether text columns get character n-grams for ``estimator`` (any estimator, by
    import path too).

    The record whose factory makes this very type decides (scikit-learn's forests and
    its logistic regression share the ``sklearn.`` trust prefix, so the prefix cannot);
    another estimator gets them unless a record whose ``trusts`` cover its type has
    ``char_ngrams=False`` (``lightgbm.LGBMClassifier`` by its import path, say).

    Parameters
    ----------
    estimator : sklearn.base.BaseEstimator

    Returns
    -------
    bool
    """
    record = _records_by_type().get(type(estimator))
    if record is not None:
        return record.char_ngrams
    return all(record.char_ngrams for record in _covering(estimator))


@functools.cache
def _records_by_type() -> dict[type, CatalogModel]:
    """The type each record's factory makes, per task (records whose library is absent
    are left out)."""
    found: dict[type, CatalogModel] = {}
    for record in MODELS.values():
        for task in record.tasks:
            try:
                found.setdefault(type(record.factory(task, 0)), record)
            except (ImportError, ConfigError):  # its library is not installed (xgboost, …)
                continue
    return found


def _covering(estimator: BaseEstimator) -> list[CatalogModel]:
    """The catalog records whose ``trusts`` cover ``estimator``'s type."""
    name = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    return [record for record in MODELS.values() if is_trusted(name, record.trusts)]


def build_pipeline(
    roles: ColumnRoles, estimator: BaseEstimator, categoricals: Categoricals | None = None
) -> Pipeline:
    """Preprocessing and model in one scikit-learn pipeline.

    Parameters
    ----------
    roles : loopml.core.data.roles.ColumnRoles
    estimator : sklearn.base.BaseEstimator
        Unfitted; a model that takes categories natively (``categoricals_for``) is told
        which of its input columns hold the codes, in place (``set_params``).
    categoricals : {"one_hot", "native"} or None, default None
        None: what the estimator's catalog record declares (one-hot for an estimator no
        record can take natively). "native" asks for codes (one-hot still, when no
        record can take them); "one_hot" forces one-hot columns (for a resampler that
        interpolates rows, say).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps "features" (``features.build_preprocessor``, character n-grams of text
        unless ``char_ngrams_for`` says no) and "model".
    """
    # a target transform (core.target.wrap) holds the model as its regressor
    inner = estimator.regressor if isinstance(estimator, TransformedTargetRegressor) else estimator
    record = categoricals_for(inner)
    mode = categoricals or (record.categoricals if record is not None else "one_hot")
    native = record is not None and mode == "native"
    if native and record is not None and record.mark_categories and roles.categorical:
        marked = record.mark_categories(inner, categorical_positions(roles))
        if inner is estimator:
            estimator = marked
        else:
            estimator.set_params(regressor=marked)
    features = build_preprocessor(
        roles, "native" if native else "one_hot", char_ngrams=char_ngrams_for(inner)
    )
    return Pipeline([("features", features), ("model", estimator)])
