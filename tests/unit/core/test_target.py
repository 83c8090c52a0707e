"""The log1p target transform: the skew rule, its config errors, the wrapped estimator saved
with skops, compiled to ONNX with parity, and explained on the scale it learned."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import skops.io
from scipy import stats
from sklearn.compose import TransformedTargetRegressor

from loopml.core import target
from loopml.core.compile import compile_pipeline
from loopml.core.data.roles import ColumnRoles
from loopml.core.explain import Explainer, background_sample
from loopml.core.models import build_pipeline, is_trusted, make_estimator, trusted_types
from loopml.core.scoring import column_specs
from loopml.errors import ConfigError

ROLES = ColumnRoles(numeric=("x", "z"), categorical=("colour",))


def _frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A right-skewed positive target: log-normal in x and the colour."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    noise = rng.normal(scale=0.3, size=n)
    y = np.exp(2 + frame["x"] + 0.7 * (frame["colour"] == "red") + noise)
    return frame, pd.Series(y, name="price")


# --- the rule ---


def test_a_lognormal_target_is_offered_log1p_with_its_skewness_and_the_key() -> None:
    _, y = _frame()
    shape = target.shape("price", y, y)
    assert shape.skewness == pytest.approx(stats.skew(y, bias=False))
    assert shape.skewness > 1 and shape.minimum > 0 and shape.offered
    line = shape.line()
    assert line is not None
    assert f"skewness {shape.skewness:.2f}" in line and "'price'" in line
    assert "models.candidates.<name>.target_transform" in line


def test_a_symmetric_target_is_not_offered_and_nothing_is_said() -> None:
    y = pd.Series(np.random.default_rng(1).normal(100, 10, 500))
    shape = target.shape("y", y, y)
    assert abs(shape.skewness) < 1 and not shape.offered and shape.line() is None


def test_a_skewed_target_with_negative_values_is_not_offered_and_says_why() -> None:
    _, y = _frame()
    shifted = y - 5  # still skewed, now with values below 0
    shape = target.shape("price", shifted, shifted)
    assert shape.skewness > 1 and not shape.offered
    line = shape.line()
    assert line is not None and "below 0" in line and "not tried" in line


def test_zeros_are_allowed_for_log1p() -> None:
    counts = pd.Series(np.random.default_rng(2).poisson(0.5, 400).astype(float) ** 2)
    shape = target.shape("cnt", counts, counts)
    assert shape.minimum == 0 and shape.skewness > 1 and shape.offered


def test_the_minimum_covers_the_validation_rows_and_the_skewness_only_the_training_rows() -> None:
    _, y = _frame()
    both = pd.concat([y, pd.Series([-3.0])])
    shape = target.shape("price", y, both)
    assert shape.skewness == pytest.approx(stats.skew(y, bias=False))
    assert shape.minimum == -3.0 and not shape.offered


def test_a_constant_or_tiny_target_has_no_skewness() -> None:
    assert math.isnan(target.shape("y", pd.Series([3.0] * 10), pd.Series([3.0])).skewness)
    assert math.isnan(target.shape("y", pd.Series([1.0, 2.0]), pd.Series([1.0])).skewness)


# --- config errors ---


def test_log1p_on_a_target_at_or_below_minus_one_names_the_key_the_column_and_the_value() -> None:
    shape = target.TargetShape("fare", 2.0, -1.5)
    key = "models.candidates.lightgbm.target_transform"
    with pytest.raises(ConfigError) as caught:
        target.check(key, ("none", "log1p"), "regression", shape)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(key) and "'fare'" in message and "-1.5" in message
    assert "target_transform: none" in message
    target.check(key, ("none",), "regression", shape)  # none always applies


@pytest.mark.parametrize(
    ("values", "task", "says"),
    [
        (
            ("sqrt",),
            "regression",
            r"unknown transform 'sqrt'; write none, log1p or \[none, log1p\]",
        ),
        (("log1p",), "classification", "regression only"),
    ],
)
def test_a_transform_that_cannot_apply_is_one_line(
    values: tuple[str, ...], task: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        target.check("k", values, task, None)  # type: ignore[arg-type]


def test_make_estimator_wraps_on_log1p_and_refuses_a_classifier_or_an_unknown_value() -> None:
    plain = make_estimator("ridge", {"alpha": 2.0, "target_transform": "none"}, "regression", 0)
    assert not isinstance(plain, TransformedTargetRegressor) and plain.alpha == 2.0
    wrapped = make_estimator("ridge", {"alpha": 2.0, "target_transform": "log1p"}, "regression", 0)
    assert isinstance(wrapped, TransformedTargetRegressor)
    assert wrapped.regressor.alpha == 2.0
    assert wrapped.func is np.log1p and wrapped.inverse_func is np.expm1
    with pytest.raises(ConfigError, match=r"lightgbm\.target_transform: a target transform"):
        make_estimator("lightgbm", {"target_transform": "log1p"}, "classification", 0)
    with pytest.raises(ConfigError, match=r"ridge\.target_transform: unknown transform"):
        make_estimator("ridge", {"target_transform": "log"}, "regression", 0)


# --- the fitted model: original scale, skops, ONNX, explanations ---


@pytest.fixture(scope="module")
def fitted() -> dict[str, object]:
    frame, y = _frame()
    out: dict[str, object] = {"frame": frame, "y": y}
    for name, params in (
        ("ridge", {}),
        ("lightgbm", {"n_estimators": 30}),
        ("random_forest", {"n_estimators": 20}),
    ):
        estimator = make_estimator(name, {**params, "target_transform": "log1p"}, "regression", 0)
        out[name] = build_pipeline(ROLES, estimator).fit(frame, y)
    return out


def test_predictions_are_on_the_original_scale(fitted: dict[str, object]) -> None:
    frame, y = fitted["frame"], fitted["y"]
    assert isinstance(y, pd.Series)
    pipeline = fitted["ridge"]
    predicted = pipeline.predict(frame)  # type: ignore[attr-defined]
    inner = pipeline[:-1].transform(frame)  # type: ignore[index]
    logged = pipeline[-1].regressor_.predict(inner)  # type: ignore[index]
    np.testing.assert_allclose(predicted, np.expm1(logged))
    assert 0.3 < np.median(predicted) / y.median() < 3  # the order of y, not of log1p(y)


@pytest.mark.parametrize("name", ["ridge", "lightgbm", "random_forest"])
def test_saves_and_loads_through_skops_with_the_catalogs_allow_list(
    fitted: dict[str, object], name: str
) -> None:
    pipeline, frame = fitted[name], fitted["frame"]
    blob = skops.io.dumps(pipeline)
    untrusted = skops.io.get_untrusted_types(data=blob)
    assert [t for t in untrusted if not is_trusted(t, trusted_types())] == []
    restored = skops.io.loads(blob, trusted=untrusted)
    assert restored[-1].func is np.log1p and restored[-1].inverse_func is np.expm1
    np.testing.assert_array_equal(restored.predict(frame), pipeline.predict(frame))  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["ridge", "lightgbm", "random_forest"])
def test_compiles_with_parity_on_the_original_scale(fitted: dict[str, object], name: str) -> None:
    pipeline, frame = fitted[name], fitted["frame"]
    assert isinstance(frame, pd.DataFrame)
    compiled, report = compile_pipeline(pipeline, column_specs(ROLES), "regression", [], frame)
    assert report.ok, report.reason
    assert compiled is not None and report.max_value_diff is not None
    native = np.asarray(pipeline.predict(frame))  # type: ignore[attr-defined]
    assert report.max_value_diff <= 1e-4 * float(np.max(np.abs(native)))


def test_another_target_transform_is_not_compiled() -> None:
    frame, y = _frame()
    model = TransformedTargetRegressor(
        make_estimator("ridge", {}, "regression", 0), func=np.sqrt, inverse_func=np.square
    )
    pipeline = build_pipeline(ROLES, model).fit(frame, y)
    compiled, report = compile_pipeline(pipeline, column_specs(ROLES), "regression", [], frame)
    assert compiled is None and "other than log1p" in report.reason


@pytest.mark.parametrize(("name", "method"), [("lightgbm", "LightGBM"), ("ridge", "Linear")])
def test_explained_exactly_on_the_log1p_scale_and_the_note_says_so(
    fitted: dict[str, object], name: str, method: str
) -> None:
    pipeline, frame = fitted[name], fitted["frame"]
    assert isinstance(frame, pd.DataFrame)
    columns = list(ROLES.features)
    explainer = Explainer(pipeline, "regression", columns, background_sample(frame[columns]))
    found = explainer.explain(frame.head(5))
    assert found.exact and method in found.method and found.space == "log1p_value"
    served = pipeline.predict(frame.head(5))  # type: ignore[attr-defined]
    np.testing.assert_allclose(np.expm1(found.outputs), served, rtol=1e-9)
    total = found.base_values + found.contributions.sum(axis=1)
    np.testing.assert_allclose(total, found.outputs, atol=1e-6)
    assert "log1p of the prediction" in found.note and "expm1" in found.note


def test_a_native_categories_model_under_log1p_still_gets_its_category_codes() -> None:
    """CatBoost wrapped by the target transform is still told which columns hold category
    codes (the wrapper's regressor is marked), not silently fed one-hot columns."""
    pytest.importorskip("catboost")
    from loopml.core import models
    from loopml.core.data.roles import ColumnRoles

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "c": rng.choice(list("xyz"), 120)})
    y = np.exp(X["a"] + (X["c"] == "x") * 2)
    roles = ColumnRoles(numeric=("a",), categorical=("c",))
    est = models.make_estimator(
        "catboost", {"target_transform": "log1p", "iterations": 20}, "regression", 0
    )
    pipeline = models.build_pipeline(roles, est).fit(X, y)
    assert pipeline.named_steps["model"].regressor_.get_params()["cat_features"] == [0]
    assert pipeline.predict(X).min() > 0  # expm1 of the log scale: the price's own scale
