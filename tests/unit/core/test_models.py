"""The model catalog: names per task, import paths and parameter checks."""

from __future__ import annotations

import re

import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.svm import SVC

from loopml.core.data.roles import ColumnRoles
from loopml.core.models import (
    CATALOG,
    DEFAULT_CANDIDATES,
    baseline,
    build_pipeline,
    candidate_names,
    make_estimator,
)
from loopml.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "task", "cls"),
    [
        ("logistic_regression", "classification", LogisticRegression),
        ("random_forest", "classification", RandomForestClassifier),
        ("random_forest", "regression", RandomForestRegressor),
        ("linear_regression", "regression", LinearRegression),
        ("ridge", "regression", Ridge),
    ],
)
def test_catalog_names_give_the_model_for_the_task(name: str, task: str, cls: type) -> None:
    assert type(make_estimator(name, {}, task, seed=0)) is cls  # type: ignore[arg-type]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_lightgbm_follows_the_task(task: str) -> None:
    import lightgbm

    estimator = make_estimator("lightgbm", {}, task, seed=0)  # type: ignore[arg-type]
    expected = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor

    assert isinstance(estimator, expected)


def test_seed_reaches_the_estimator() -> None:
    assert make_estimator("random_forest", {}, "classification", seed=11).random_state == 11


def test_params_are_applied() -> None:
    estimator = make_estimator("ridge", {"alpha": 3.5}, "regression", seed=0)

    assert estimator.alpha == 3.5


def test_classification_model_for_regression_is_rejected_with_alternatives() -> None:
    with pytest.raises(ConfigError) as info:
        make_estimator("logistic_regression", {}, "regression", seed=0)

    message = str(info.value)
    assert "models.candidates.logistic_regression" in message
    assert "not a regression model" in message
    assert "ridge" in message
    assert "logistic_regression, " not in message


def test_regression_model_for_classification_is_rejected() -> None:
    with pytest.raises(ConfigError, match="not a classification model"):
        make_estimator("ridge", {}, "classification", seed=0)


def test_unknown_name_lists_known_models() -> None:
    with pytest.raises(ConfigError) as info:
        make_estimator("xgboostt", {}, "classification", seed=0)

    message = str(info.value)
    assert "models.candidates.xgboostt: unknown model" in message
    for known in CATALOG:
        assert known in message


def test_import_path_gives_that_class_with_params() -> None:
    estimator = make_estimator("sklearn.svm.SVC", {"C": 0.5}, "classification", seed=0)

    assert isinstance(estimator, SVC)
    assert estimator.C == 0.5


@pytest.mark.parametrize("path", ["sklearn.svm.NoSuchModel", "no_such_package.models.Model"])
def test_bad_import_path_is_rejected(path: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"models.candidates.{path}: cannot import")):
        make_estimator(path, {}, "classification", seed=0)


def test_import_path_to_something_not_an_estimator_is_rejected() -> None:
    with pytest.raises(ConfigError, match="not an estimator class"):
        make_estimator("collections.OrderedDict", {}, "classification", seed=0)


def test_import_path_to_class_with_required_arguments_gives_config_error() -> None:
    with pytest.raises(ConfigError, match=r"sklearn\.ensemble\.VotingClassifier"):
        make_estimator("sklearn.ensemble.VotingClassifier", {}, "classification", seed=0)


def test_unknown_parameter_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        make_estimator("ridge", {"alpah": 1.0, "zeta": 2}, "regression", seed=0)

    message = str(info.value)
    assert "models.candidates.ridge.alpah: not a parameter of Ridge" in message
    assert "alpha" in message


def test_baseline_per_task() -> None:
    assert isinstance(baseline("classification"), DummyClassifier)
    assert isinstance(baseline("regression"), DummyRegressor)


def test_candidate_names_default_to_the_catalog_per_task() -> None:
    assert list(candidate_names(None, "regression")) == list(DEFAULT_CANDIDATES["regression"])
    assert list(candidate_names({}, "classification")) == list(DEFAULT_CANDIDATES["classification"])
    assert candidate_names({"ridge": {"alpha": 2}}, "regression") == {"ridge": {"alpha": 2}}


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_default_candidate_builds(task: str) -> None:
    for name in DEFAULT_CANDIDATES[task]:  # type: ignore[index]
        make_estimator(name, {}, task, seed=0)  # type: ignore[arg-type]


def test_xgboost_takes_string_labels_and_gives_them_back() -> None:
    pytest.importorskip("xgboost", reason="XGBoost is optional: pip install xgboost")
    import numpy as np
    import pandas as pd
    from sklearn.base import clone

    estimator = make_estimator("xgboost", {"n_estimators": 5}, "classification", seed=0)
    X = pd.DataFrame({"a": np.arange(40.0)})
    y = np.where(X["a"] > 20, "big", "small")
    fitted = clone(estimator).fit(X, y)
    assert list(fitted.classes_) == ["big", "small"]
    assert set(fitted.predict(X)) == {"big", "small"}
    assert fitted.predict_proba(X).shape == (40, 2)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_catalog_model_of_the_task_has_a_default_space_that_builds(task: str) -> None:
    from loopml.core import tuning
    from loopml.core.models import default_space

    for name, (tasks, _) in CATALOG.items():
        if task in tasks:
            space = tuning.parse_space(name, default_space(name))
            point = {n: v[0] for n, v in tuning.grid(space, 2).items()}
            make_estimator(name, point, task, seed=0)  # type: ignore[arg-type]


def test_a_catboost_parameter_that_does_not_exist_is_one_line_naming_it() -> None:
    pytest.importorskip("catboost")
    with pytest.raises(ConfigError) as info:
        make_estimator("catboost", {"max_depth": 4}, "classification", seed=0)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "models.candidates.catboost.max_depth: not a parameter of CatBoostLabelClassifier"
    )
    assert "depth" in message.split("known:")[1]


def test_native_models_are_told_which_columns_hold_category_codes() -> None:
    pytest.importorskip("catboost")
    roles = ColumnRoles(numeric=("x",), categorical=("a", "b"))
    lightgbm = make_estimator("lightgbm", {}, "regression", seed=0)
    pipeline = build_pipeline(roles, lightgbm, "native")
    assert lightgbm.get_params()["categorical_column"] == [0, 1]
    assert [name for name, _, _ in pipeline[0].transformers] == ["categorical", "numeric"]
    catboost = build_pipeline(roles, make_estimator("catboost", {}, "regression", seed=0))
    assert catboost[-1].get_params()["cat_features"] == [0, 1]  # its record's default
    assert "ordinal" in catboost[0].transformers[0][1].named_steps
    ridge = build_pipeline(roles, make_estimator("ridge", {}, "regression", seed=0))
    assert [name for name, _, _ in ridge[0].transformers] == ["numeric", "categorical"]
    default = make_estimator("lightgbm", {}, "regression", seed=0)
    one_hot = build_pipeline(roles, default)  # LightGBM's default: one-hot (measured)
    assert "categorical_column" not in default.get_params()
    assert "one_hot" in one_hot[0].transformers[1][1].named_steps
