"""ONNX compilation of loopml pipelines: parity on small frames, and honest failures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from loopml.core import models
from loopml.core.compile import MISSING_CATEGORY, InputSpec, compile_pipeline, prepare_column
from loopml.core.data.roles import ColumnRoles
from loopml.core.scoring import column_specs


def _frame(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    size = rng.normal(50, 10, n)
    size[::17] = np.nan
    shares = [0.4, 0.3, 0.26, 0.02, 0.02]
    colour = rng.choice(["red", "green", "blue", "rare1", "rare2"], n, p=shares)
    colour = colour.astype(object)
    colour[::13] = None
    words = ["fast", "slow", "model", "data", "Über", "naïve", "café"]
    text = [" ".join(rng.choice(words, 4)) + (" model model" if i % 3 else "") for i in range(n)]
    when = pd.date_range("2020-01-01", periods=n, freq="37h").astype(str).to_numpy(dtype=object)
    frame = pd.DataFrame({"size": size, "colour": colour, "note": text, "when": when})
    label = np.where((np.nan_to_num(size, nan=50) > 50) ^ (np.arange(n) % 3 == 0), "yes", "no")
    return frame, pd.Series(label)


ROLES = ColumnRoles(numeric=("size",), categorical=("colour",), text=("note",), datetime=("when",))


def _fitted_and_compiled(
    frame: pd.DataFrame, label: pd.Series, roles: ColumnRoles, estimator: str
) -> tuple[Any, Any, Any]:
    """The pipeline fitted on the first 160 rows, compiled with parity on the rest, and its
    OnnxPredictor."""
    from loopml.core.compile import OnnxPredictor

    params = {"n_estimators": 20} if estimator != "logistic_regression" else {}
    model = models.make_estimator(estimator, params, "classification", 0)
    pipeline = models.build_pipeline(roles, model).fit(frame.iloc[:160], label.iloc[:160])
    compiled, report = compile_pipeline(
        pipeline, column_specs(roles), "classification", list(pipeline.classes_), frame.iloc[160:]
    )
    assert compiled is not None, report.reason
    predictor = OnnxPredictor(compiled.onnx, compiled.inputs, "classification", ["no", "yes"])
    return pipeline, compiled, predictor


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest", "lightgbm"])
def test_every_role_converts_with_parity(estimator: str) -> None:
    frame, label = _frame()
    params = {"n_estimators": 20} if estimator != "logistic_regression" else {}
    model = models.make_estimator(estimator, params, "classification", 0)
    pipeline = models.build_pipeline(ROLES, model).fit(frame.iloc[:160], label.iloc[:160])
    compiled, report = compile_pipeline(
        pipeline, column_specs(ROLES), "classification", list(pipeline.classes_), frame.iloc[160:]
    )
    assert report.ok, report.reason
    assert compiled is not None and report.rows == 80
    assert report.label_agreement == 1.0 and report.max_proba_diff < 1e-6
    assert [s.name for s in compiled.inputs] == ["size", "colour", "note", "when"]
    assert len(compiled.inputs[3].feeds) == 5  # a date is fed as its calendar parts


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_early_stopped_lightgbm_compiles_with_parity(task: str) -> None:
    """The catalog's lightgbm, told to stop on a holdout, keeps only the rounds it found: the
    graph holds those trees, and answers as the native model does."""
    frame, label = _frame(400)
    target = label if task == "classification" else frame["size"].fillna(50) * 2.0
    on = {"early_stopping_rounds": 50, "n_estimators": 2000}  # opt-in
    model = models.make_estimator("lightgbm", on, task, 0)  # type: ignore[arg-type]
    pipeline = models.build_pipeline(ROLES, model).fit(frame.iloc[:300], target.iloc[:300])
    rounds = pipeline.steps[-1][1].best_iteration_
    assert rounds < model.n_estimators  # it stopped
    classes = list(pipeline.classes_) if task == "classification" else []
    compiled, report = compile_pipeline(
        pipeline,
        column_specs(ROLES),
        task,
        classes,
        frame.iloc[300:],  # type: ignore[arg-type]
    )
    assert compiled is not None and report.ok, report.reason
    if task == "classification":
        assert report.label_agreement == 1.0 and report.max_proba_diff < 1e-6
    else:
        assert report.max_value_diff is not None and report.max_value_diff < 1e-4


def test_regression_parity_on_values() -> None:
    frame, _ = _frame()
    target = frame["size"].fillna(0) * 2 + 1
    roles = ColumnRoles(numeric=("size",), categorical=("colour",))
    model = models.make_estimator("ridge", {}, "regression", 0)
    pipeline = models.build_pipeline(roles, model).fit(frame, target)
    _, report = compile_pipeline(pipeline, column_specs(roles), "regression", [], frame)
    assert report.ok and report.max_value_diff is not None and report.max_value_diff < 1e-9


class Opaque(BaseEstimator, ClassifierMixin):
    """An estimator no converter knows."""

    def fit(self, X: object, y: pd.Series) -> Opaque:
        self.classes_ = np.unique(y)
        return self

    def predict(self, X: object) -> np.ndarray:
        return np.full(len(X), self.classes_[0])  # type: ignore[arg-type]

    def predict_proba(self, X: object) -> np.ndarray:
        return np.tile([1.0, 0.0], (len(X), 1))  # type: ignore[arg-type]


def test_unconvertible_model_gives_a_reason_not_an_error() -> None:
    frame, label = _frame()
    roles = ColumnRoles(numeric=("size",))
    pipeline = models.build_pipeline(roles, Opaque()).fit(frame, label)
    compiled, report = compile_pipeline(
        pipeline, column_specs(roles), "classification", list(pipeline.classes_), frame
    )
    assert compiled is None and not report.ok
    assert report.reason.startswith("conversion failed:") and "Opaque" in report.reason


def test_values_are_prepared_as_the_native_pipeline_sees_them() -> None:
    category = InputSpec("c", "categorical", feeds=("c",))
    keys = prepare_column(np.array([1.0, "a", None, True, np.nan], dtype=object), category)
    assert keys.ravel().tolist() == ["1", "a", MISSING_CATEGORY, "True", MISSING_CATEGORY]
    text = InputSpec("t", "text", lower=True, feeds=("t",))
    assert prepare_column(np.array(["ÜBER Café", None], dtype=object), text).ravel().tolist() == [
        "über café",
        "",
    ]


@pytest.mark.parametrize("estimator", ["logistic_regression", "lightgbm"])
def test_a_row_scores_the_same_alone_as_in_a_batch_natively_and_compiled(estimator: str) -> None:
    """Missing categories arrive as None from the data contract. A row scored alone (a
    served request) has a column that is missing in *every* row of its batch: beside
    another category column, pandas kept that None, the imputer did not count it as
    missing, and the row was scored as an unknown category instead of "(missing)"."""

    frame, label = _frame()
    frame["shape"] = np.where(np.arange(len(frame)) % 2 == 0, "round", "square")
    roles = ColumnRoles(
        numeric=("size",), categorical=("colour", "shape"), text=("note",), datetime=("when",)
    )
    pipeline, _, predictor = _fitted_and_compiled(frame, label, roles, estimator)
    later = frame.iloc[160:].copy()
    for column in ("colour", "shape"):  # as the data contract gives them: object, None
        values = later[column].to_numpy(dtype=object)
        values[pd.isna(values)] = None
        later[column] = pd.Series(values, index=later.index, dtype=object)
    gaps = later["colour"].isna().to_numpy()
    rows, in_batch = later[gaps].head(4), pipeline.predict_proba(later)[gaps][:4]
    assert len(rows) == 4
    for i in range(len(rows)):
        alone = rows.iloc[[i]]
        native = pipeline.predict_proba(alone)[0]
        np.testing.assert_allclose(native, in_batch[i], atol=1e-12)
        _, graph = predictor.run_frame(alone)
        assert graph is not None
        np.testing.assert_allclose(graph[0], native, atol=1e-6)


def _cities(n: int = 700) -> tuple[pd.DataFrame, pd.Series]:
    """A category that decides the label, with rare values (one sorts first) and gaps."""
    rng = np.random.default_rng(1)
    names = ["aaa", "kyiv", "lima", "oslo", "pune", "rome", "zzz"]
    city = rng.choice(names, n, p=[0.005, 0.2, 0.2, 0.25, 0.14, 0.2, 0.005]).astype(object)
    city[::11] = None
    size = rng.normal(size=n)
    positive = np.isin(city, ["rome", "kyiv"]) ^ (size > 1.2)
    return pd.DataFrame({"size": size, "city": city}), pd.Series(np.where(positive, "yes", "no"))


CITIES = ColumnRoles(numeric=("size",), categorical=("city",))


def _served(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows as the data contract gives them: an unseen city, missing ones as None."""
    rows = frame.copy()
    rows.loc[rows.index[0], "city"] = "atlantis"
    values = rows["city"].to_numpy(dtype=object)
    values[pd.isna(values)] = None
    rows["city"] = pd.Series(values, index=rows.index, dtype=object)
    return rows


def test_native_categories_score_the_same_alone_in_a_batch_and_compiled() -> None:
    """LightGBM splits on the category codes themselves (not one-hot columns); an unseen
    city (code -1, missing to LightGBM), a missing one ("(missing)", a category of its
    own) and a rare one (the infrequent code) score alike alone, in a batch and in ONNX."""
    import json

    from loopml.core.compile import OnnxPredictor

    frame, label = _cities()
    model = models.make_estimator("lightgbm", {"n_estimators": 30}, "classification", 0)
    pipeline = models.build_pipeline(CITIES, model, "native")
    pipeline.fit(frame.iloc[:600], label.iloc[:600])
    assert pipeline[-1].get_params()["categorical_column"] == [0]
    trees = json.dumps(pipeline[-1].booster_.dump_model()["tree_info"])
    assert '"decision_type": "=="' in trees  # a split on categories, which parity must cover
    encoder = pipeline[0].named_transformers_["categorical"][-1]
    assert list(encoder.infrequent_categories_[0]) == ["aaa", "zzz"]
    rows = _served(frame.iloc[600:])
    codes = pipeline[0].transform(rows)[:, 0]
    assert codes[0] == -1 and rows["city"].isna().any()
    compiled, report = compile_pipeline(
        pipeline, column_specs(CITIES), "classification", list(pipeline.classes_), rows
    )
    assert compiled is not None, report.reason
    predictor = OnnxPredictor(compiled.onnx, compiled.inputs, "classification", ["no", "yes"])
    batch = pipeline.predict_proba(rows)
    rare = frame[frame["city"].isin(["aaa", "zzz"])].head(2)
    picked = pd.concat([rows.head(1), rows[rows["city"].isna()].head(2), rare])
    assert len(picked) == 5
    for i in range(len(picked)):
        alone = picked.iloc[[i]]
        native = pipeline.predict_proba(alone)[0]
        if i < 3:  # rows of the batch
            np.testing.assert_allclose(native, batch[rows.index.get_loc(alone.index[0])])
        _, graph = predictor.run_frame(alone)
        assert graph is not None
        np.testing.assert_allclose(graph[0], native, atol=1e-6)


def test_catboost_scores_rows_alone_as_in_a_batch_and_says_why_it_is_not_compiled() -> None:
    pytest.importorskip("catboost")
    frame, label = _cities()
    model = models.make_estimator("catboost", {"iterations": 30}, "classification", 0)
    pipeline = models.build_pipeline(CITIES, model).fit(frame.iloc[:600], label.iloc[:600])
    assert pipeline[-1].get_params()["cat_features"] == [0]
    rows = _served(frame.iloc[600:])
    batch = pipeline.predict_proba(rows)
    for i in [0, *np.flatnonzero(rows["city"].isna().to_numpy())[:2]]:
        np.testing.assert_allclose(pipeline.predict_proba(rows.iloc[[i]])[0], batch[i])
    assert set(pipeline.predict(rows)) <= {"no", "yes"}  # the original labels
    compiled, report = compile_pipeline(
        pipeline, column_specs(CITIES), "classification", list(pipeline.classes_), rows
    )
    assert compiled is None and not report.ok
    assert report.reason.startswith("not compiled: CatBoost's ONNX export")
    assert "natively" in report.reason


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest", "lightgbm"])
def test_numeric_columns_fed_as_one_matrix_answer_as_the_stored_graph(estimator: str) -> None:
    """OnnxPredictor feeds every numeric column as one matrix, split back in the graph by
    one Split node (``numbers_as_one_input``): the same probabilities as the graph as it
    was compiled and stored, fed one input per column (within float32 rounding: LightGBM's
    graph sums in float32), on rows alone and in a batch, gaps included; a model with one
    numeric column is left as it is."""
    import onnxruntime as ort

    from loopml.core.compile import NUMBERS_FEED, OnnxPredictor, column_feeds

    frame, label = _frame()
    rng = np.random.default_rng(3)
    frame["weight"] = rng.normal(0, 1e6, len(frame))
    frame["count"] = rng.integers(0, 9, len(frame)).astype(float)
    frame.loc[frame.index[::5], "count"] = np.nan
    roles = ColumnRoles(
        numeric=("size", "weight", "count"), categorical=("colour",), text=("note",),
        datetime=("when",),
    )  # fmt: skip
    _, compiled, predictor = _fitted_and_compiled(frame, label, roles, estimator)
    stored = ort.InferenceSession(compiled.onnx, providers=["CPUExecutionProvider"])
    assert predictor.session.get_inputs()[0].name == NUMBERS_FEED
    assert len(predictor.session.get_inputs()) == len(stored.get_inputs()) - 2  # 3 -> 1
    later = frame.iloc[160:]
    columns = {spec.name: later[spec.name].to_numpy() for spec in compiled.inputs}
    (expected,) = stored.run(["probabilities"], column_feeds(columns, compiled.inputs))
    _, batch = predictor.run(predictor.feeds(columns))
    assert batch is not None
    np.testing.assert_allclose(batch, expected, rtol=0, atol=1e-6)  # float32 rounding
    assert (batch.argmax(axis=1) == expected.argmax(axis=1)).all()
    for i in (0, 5, 10, 27):  # gaps: count at 0 and 5 (rows 160, 165), size at 10 and 27
        alone = {name: values[i : i + 1] for name, values in columns.items()}
        _, row = predictor.run(predictor.feeds(alone))
        assert row is not None
        np.testing.assert_allclose(row[0], expected[i], rtol=0, atol=1e-6)
    _, framed = predictor.run_frame(later)
    assert framed is not None
    np.testing.assert_array_equal(framed, batch)

    one = ColumnRoles(numeric=("size",), categorical=("colour",))
    small = models.build_pipeline(
        one, models.make_estimator("logistic_regression", {}, "classification", 0)
    )
    small.fit(frame.iloc[:160], label.iloc[:160])
    kept, _ = compile_pipeline(
        small, column_specs(one), "classification", list(small.classes_), frame.iloc[160:]
    )
    assert kept is not None
    alone = OnnxPredictor(kept.onnx, kept.inputs, "classification", ["no", "yes"])
    assert NUMBERS_FEED not in [i.name for i in alone.session.get_inputs()]

    # A column already called loopml_numbers: the graph is fed one input per column.
    named = frame.rename(columns={"weight": NUMBERS_FEED})
    clash = ColumnRoles(numeric=("size", NUMBERS_FEED, "count"), categorical=("colour",))
    _, taken, fed = _fitted_and_compiled(named, label, clash, "logistic_regression")
    assert [i.name for i in fed.session.get_inputs()] == [
        i.name for i in ort.InferenceSession(taken.onnx).get_inputs()
    ]
    assert fed.run_frame(named.iloc[160:])[1] is not None
