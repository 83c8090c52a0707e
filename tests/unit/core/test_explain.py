"""Attributions: base + contributions == the model's own output, for every catalog kind,
with one-hot, missing-indicator and TF-IDF features summed back to their input column.

Real data, few rows: titanic (numbers with missing values, categories, a text column) and
Made-With-ML (two text columns, four classes).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import Pipeline
from tests.conftest import shared_file

from loopml.core.boosters import BoosterModel
from loopml.core.compile import compile_features, feature_difference
from loopml.core.data.roles import ColumnRoles
from loopml.core.explain import Explainer, background_sample, explain_rows
from loopml.core.features import Categoricals
from loopml.core.models import CATALOG, build_pipeline, make_estimator
from loopml.core.scoring import column_specs
from loopml.errors import NotExplainableError

TITANIC = ColumnRoles(
    numeric=("Age", "Fare", "SibSp", "Parch"),
    categorical=("Sex", "Embarked", "Pclass"),
    text=("Name",),
)
MWML = ColumnRoles(text=("title", "description"))
EXACT = {
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "random_forest": "tree",
    "extra_trees": "tree",
    "gradient_boosting": "tree",
    "logistic_regression": "linear",
    "linear_regression": "linear",
    "ridge": "linear",
}


@pytest.fixture(scope="module")
def titanic() -> pd.DataFrame:
    return pd.read_csv(shared_file("titanic_train.csv")).head(240)


@pytest.fixture(scope="module")
def mwml() -> pd.DataFrame:
    return pd.read_csv(shared_file("madewithml_dataset.csv")).head(200)


def _small(name: str, task: str) -> dict[str, object]:
    """Fewer trees than the catalog's defaults: the method is the same, the test faster."""
    if name in ("random_forest", "extra_trees"):
        return {"n_estimators": 30}
    if name in ("lightgbm", "xgboost", "gradient_boosting"):
        return {"n_estimators": 40}
    if name == "catboost":
        return {"iterations": 40}
    return {}


def _fit(
    name: str,
    roles: ColumnRoles,
    frame: pd.DataFrame,
    target: str,
    task: str,
    categoricals: Categoricals | None = None,
) -> Pipeline:
    estimator = make_estimator(name, _small(name, task), task, 0)  # type: ignore[arg-type]
    pipeline = build_pipeline(roles, estimator, categoricals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipeline.fit(frame[list(roles.features)], frame[target])


def _in_text(term: str, text: object) -> bool:
    """A top term is in the row's text: a word (a bigram's first word) as it is, a quoted
    character n-gram inside the text's words, each between two spaces."""
    padded = f" {' '.join(str(text).lower().split())} "
    if term.startswith('"'):
        return str(json.loads(term)) in padded.replace(" ", "  ")
    return term.split()[0] in padded


def _own_output(pipeline: Pipeline, rows: pd.DataFrame, space: str, picked: list) -> np.ndarray:
    """The model's output in ``space``, computed by the library itself, not the explainer."""
    encoded = pipeline[:-1].transform(rows)
    model = pipeline[-1]
    dense = encoded.toarray() if hasattr(encoded, "toarray") else np.asarray(encoded)
    if space == "value":
        return np.asarray(pipeline.predict(rows), dtype=float)
    if space == "probability":
        proba = pipeline.predict_proba(rows)
    elif hasattr(model, "booster_"):
        proba = model.predict(dense, raw_score=True)
    elif hasattr(model, "get_booster"):  # XGBoost's own predict (loopml's decodes labels)
        import xgboost

        # on the rows as the pipeline gives them: sparse cells absent are missing to XGBoost
        proba = xgboost.XGBClassifier.predict(model, encoded, output_margin=True)
    else:
        proba = model.decision_function(encoded)
    proba = np.asarray(proba, dtype=float)
    if proba.ndim == 1:
        return proba
    index = [list(model.classes_).index(c) for c in picked]
    return proba[np.arange(len(rows)), index]


CLASSIFIERS = [n for n, (tasks, _) in CATALOG.items() if "classification" in tasks]
REGRESSORS = [n for n, (tasks, _) in CATALOG.items() if "regression" in tasks]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_catalog_classifier_adds_up_on_titanic(name: str, titanic: pd.DataFrame) -> None:
    if name == "xgboost":
        pytest.importorskip("xgboost")
    # ComplementNB takes no negative values: not the scaled numbers (the catalog: for text)
    roles = ColumnRoles(categorical=TITANIC.categorical, text=("Name",))
    roles = roles if name == "naive_bayes" else TITANIC
    features = titanic[list(roles.features)]
    pipeline = _fit(name, roles, titanic, "Survived", "classification")
    rows = features.iloc[200:203]
    found = explain_rows(
        pipeline, rows, task="classification", background=background_sample(features.head(200), 40)
    )
    assert found.columns == roles.features
    assert found.contributions.shape == (3, len(roles.features))
    assert found.exact == (name in EXACT)
    sums = found.base_values + found.contributions.sum(axis=1)
    # XGBoost computes its margin and contributions in float32: within its rounding
    rtol = 1e-6 if name == "xgboost" else 0
    np.testing.assert_allclose(sums, found.outputs, atol=1e-6, rtol=rtol)
    own = _own_output(pipeline, rows, found.space, found.classes or [])
    np.testing.assert_allclose(found.outputs, own, atol=1e-6, rtol=rtol)
    assert found.classes == [1, 1, 1]  # binary: the positive class, in log-odds or probability
    served = pipeline.predict_proba(rows)[:, 1]  # the output is the served probability's
    if found.space == "log_odds":
        np.testing.assert_allclose(1 / (1 + np.exp(-found.outputs)), served, atol=1e-5)
    elif found.space == "probability":
        np.testing.assert_allclose(found.outputs, served, atol=1e-9)
    if name in EXACT:  # the words of the name, present in it, with their share
        words = found.words["Name"][0]
        assert words and all(_in_text(w, rows["Name"].iloc[0]) for w in words)


@pytest.mark.parametrize("name", REGRESSORS)
def test_every_catalog_regressor_adds_up_on_titanic_fares(name: str, titanic: pd.DataFrame) -> None:
    if name == "xgboost":
        pytest.importorskip("xgboost")
    roles = ColumnRoles(
        numeric=("Age", "SibSp", "Parch"), categorical=("Sex", "Pclass", "Embarked")
    )
    pipeline = _fit(name, roles, titanic, "Fare", "regression")
    features = titanic[list(roles.features)]
    rows = features.iloc[200:203]
    found = explain_rows(
        pipeline, rows, task="regression", background=background_sample(features.head(200), 40)
    )
    assert found.space == "value" and found.classes is None
    rtol = 1e-6 if name == "xgboost" else 0  # float32 fares near 60: within its rounding
    np.testing.assert_allclose(
        found.base_values + found.contributions.sum(axis=1), found.outputs, atol=1e-6, rtol=rtol
    )
    np.testing.assert_allclose(found.outputs, pipeline.predict(rows), atol=1e-6, rtol=rtol)


def test_one_hot_categories_and_missing_indicators_sum_to_their_column(
    titanic: pd.DataFrame,
) -> None:
    features = titanic[list(TITANIC.features)]
    pipeline = _fit("lightgbm", TITANIC, titanic, "Survived", "classification", "one_hot")
    rows = features[features["Age"].isna()].head(3)  # Age's missing indicator is a feature
    found = explain_rows(pipeline, rows, task="classification")
    encoded = pipeline[:-1].transform(rows)
    contrib = pipeline[-1].predict(encoded.toarray(), pred_contrib=True)[:, :-1]
    features_step = pipeline.named_steps["features"]
    where = features_step.output_indices_
    branches = {name: branch for name, branch, _ in features_step.transformers_}
    numeric = list(branches["numeric"][0].get_feature_names_out(list(TITANIC.numeric)))
    one_hot = list(branches["categorical"][-1].get_feature_names_out(list(TITANIC.categorical)))
    expected = {
        "Age": [where["numeric"].start + numeric.index(n) for n in ("Age", "missingindicator_Age")],
        "Sex": [where["categorical"].start + i for i, n in enumerate(one_hot) if "Sex_" in n],
        "Name": list(range(where["text_Name"].start, where["text_Name"].stop)),
    }
    assert len(expected["Sex"]) == 2 and len(expected["Name"]) > 10
    for column, indices in expected.items():
        np.testing.assert_allclose(
            found.contributions[:, found.columns.index(column)],
            contrib[:, indices].sum(axis=1),
            atol=1e-12,
        )


def test_a_native_category_code_is_its_columns_whole_contribution(titanic: pd.DataFrame) -> None:
    """LightGBM asked for native categories: one code per column, first in the features, and
    its contribution is the column's (an unseen category and a missing one included)."""
    pipeline = _fit("lightgbm", TITANIC, titanic, "Survived", "classification", "native")
    assert pipeline[-1].get_params()["categorical_column"] == [0, 1, 2]
    rows = titanic[list(TITANIC.features)].iloc[200:204].copy()
    rows.loc[rows.index[0], "Embarked"] = "X"  # a port no training row has
    rows.loc[rows.index[1], "Embarked"] = None
    found = explain_rows(pipeline, rows, task="classification")
    encoded = pipeline[:-1].transform(rows)
    dense = encoded.toarray() if hasattr(encoded, "toarray") else np.asarray(encoded)
    assert dense[0, 1] == -1  # Embarked's code: unknown
    contrib = pipeline[-1].predict(dense, pred_contrib=True)[:, :-1]
    for position, column in enumerate(TITANIC.categorical):
        np.testing.assert_allclose(
            found.contributions[:, found.columns.index(column)], contrib[:, position], atol=1e-12
        )
    np.testing.assert_allclose(
        found.base_values + found.contributions.sum(axis=1), found.outputs, atol=1e-9
    )


@pytest.mark.parametrize("name", ["lightgbm", "logistic_regression", "naive_bayes"])
def test_multiclass_text_explains_the_class_ranked_first(name: str, mwml: pd.DataFrame) -> None:
    pipeline = _fit(name, MWML, mwml, "tag", "classification")
    features = mwml[list(MWML.features)]
    rows = features.iloc[150:153]
    found = explain_rows(
        pipeline, rows, task="classification", background=background_sample(features.head(150), 30)
    )
    assert found.classes == list(pipeline.predict(rows))
    np.testing.assert_allclose(
        found.base_values + found.contributions.sum(axis=1), found.outputs, atol=1e-6, rtol=0
    )
    own = _own_output(pipeline, rows, found.space, found.classes)
    np.testing.assert_allclose(found.outputs, own, atol=1e-9)
    if name != "naive_bayes":
        assert found.space == "margin"
        assert set(found.words) == {"title", "description"}
        for row, words in enumerate(found.words["title"]):
            assert all(_in_text(w, rows["title"].iloc[row]) for w in words)


def test_a_calibrated_booster_is_explained_before_calibration(titanic: pd.DataFrame) -> None:
    features = titanic[list(TITANIC.features)]
    pipeline = _fit("lightgbm", TITANIC, titanic.head(160), "Survived", "classification")
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid")
    calibrated.fit(features.iloc[160:220], titanic["Survived"].iloc[160:220])
    rows = features.iloc[220:224]
    found = explain_rows(calibrated, rows, task="classification")
    assert found.exact and found.space == "log_odds"
    assert "before sigmoid calibration" in found.note
    own = pipeline[-1].predict(pipeline[:-1].transform(rows).toarray(), raw_score=True)
    np.testing.assert_allclose(found.outputs, own, atol=1e-12)


def test_a_distributed_booster_uses_its_library_contributions(titanic: pd.DataFrame) -> None:
    features = titanic[list(TITANIC.features)]
    booster = BoosterModel("lightgbm", "classification", {"num_leaves": 7}, rounds=20, seed=0)
    pipeline = build_pipeline(TITANIC, booster).fit(features, titanic["Survived"])
    found = explain_rows(pipeline, features.head(4), task="classification")
    assert found.method.startswith("LightGBM") and found.space == "log_odds"
    margin = booster.booster().predict(
        pipeline[:-1].transform(features.head(4)).toarray(), raw_score=True
    )
    np.testing.assert_allclose(found.base_values + found.contributions.sum(axis=1), margin)


def test_soft_voting_is_explained_approximately_and_rows_do_not_depend_on_their_batch(
    titanic: pd.DataFrame,
) -> None:
    features = titanic[list(TITANIC.features)]
    members = [
        (n, _fit(n, TITANIC, titanic.head(200), "Survived", "classification"))
        for n in ("logistic_regression", "knn")
    ]
    voting = Pipeline([("model", VotingClassifier(members, voting="soft"))])
    voting.fit(features.head(200), titanic["Survived"].head(200))
    explainer = Explainer(voting, "classification", list(TITANIC.features), features.head(30))
    together = explainer.explain(features.iloc[200:203])
    alone = explainer.explain(features.iloc[201:202])
    assert not together.exact and together.space == "probability"
    assert "approximate" in together.note
    np.testing.assert_allclose(
        together.base_values + together.contributions.sum(axis=1), together.outputs, atol=1e-9
    )
    np.testing.assert_allclose(alone.contributions[0], together.contributions[1], atol=1e-12)


def test_a_model_with_labels_only_or_no_background_is_refused_by_kind(
    titanic: pd.DataFrame,
) -> None:
    features = titanic[list(TITANIC.features)]
    members = [
        ("ridge", _fit_import("sklearn.linear_model.RidgeClassifier", titanic)),
        ("lr", _fit("logistic_regression", TITANIC, titanic, "Survived", "classification")),
    ]
    hard = Pipeline([("model", VotingClassifier(members, voting="hard"))])
    hard.fit(features, titanic["Survived"])
    with pytest.raises(NotExplainableError, match="model kind VotingClassifier gives class labels"):
        Explainer(hard, "classification", list(TITANIC.features), features.head(20))
    knn = _fit("knn", TITANIC, titanic, "Survived", "classification")
    with pytest.raises(NotExplainableError, match=r"model kind KNeighborsClassifier .* retrain"):
        Explainer(knn, "classification", list(TITANIC.features), None)


def _fit_import(path: str, titanic: pd.DataFrame) -> Pipeline:
    estimator = make_estimator(path, {}, "classification", 0)
    assert isinstance(estimator, RidgeClassifier)
    return build_pipeline(TITANIC, estimator).fit(
        titanic[list(TITANIC.features)], titanic["Survived"]
    )


def test_records_and_frame_rank_by_absolute_contribution(titanic: pd.DataFrame) -> None:
    features = titanic[list(TITANIC.features)]
    pipeline = _fit("lightgbm", TITANIC, titanic, "Survived", "classification")
    found = explain_rows(pipeline, features.head(2), task="classification")
    record = found.records(top_k=3)[0]
    assert list(record) == ["base_value", "output", "space", "class", "contributions", "words"]
    sizes = [abs(v) for v in record["contributions"].values()]
    assert len(sizes) == 3 and sizes == sorted(sizes, reverse=True)
    assert max(sizes) == pytest.approx(np.abs(found.contributions[0]).max())
    table = found.frame(top_k=2)
    assert list(table.columns)[:3] == ["explained_class", "base_value", "explained_output"]
    assert table["top1_column"].iloc[0] == next(iter(record["contributions"]))
    full = found.frame()
    assert [c for c in full.columns if c.startswith("contribution_")] == [
        f"contribution_{c}" for c in TITANIC.features
    ]


BIKES = ColumnRoles(
    numeric=("temp", "hum", "windspeed"), categorical=("season", "weathersit"), datetime=("dteday",)
)


@pytest.mark.parametrize(
    ("name", "data", "roles", "target", "task"),
    [
        ("lightgbm", "titanic", TITANIC, "Survived", "classification"),
        ("xgboost", "titanic", TITANIC, "Survived", "classification"),
        ("random_forest", "titanic", TITANIC, "Survived", "classification"),
        ("logistic_regression", "titanic", TITANIC, "Survived", "classification"),
        ("lightgbm", "mwml", MWML, "tag", "classification"),
        ("lightgbm", "bikes", BIKES, "cnt", "regression"),
    ],
)
def test_the_onnx_feature_graph_gives_the_same_explanations_as_scikit_learn(
    name: str,
    data: str,
    roles: ColumnRoles,
    target: str,
    task: str,
    titanic: pd.DataFrame,
    mwml: pd.DataFrame,
) -> None:
    """What /explain computes (preprocessing on ONNX Runtime) equals what batch and the
    Python API compute (preprocessing by scikit-learn): numbers with missing values,
    one-hot categories, TF-IDF words and calendar parts of a date."""
    if name == "xgboost":
        pytest.importorskip("xgboost")
    if data == "bikes":
        frame = pd.read_csv(shared_file("bike_sharing_hour.csv")).sample(300, random_state=0)
        frame["dteday"] = pd.to_datetime(frame["dteday"])
        frame[["season", "weathersit"]] = frame[["season", "weathersit"]].astype(str)
    else:
        frame = {"titanic": titanic, "mwml": mwml}[data]
    pipeline = _fit(name, roles, frame, target, task)
    features = frame[list(roles.features)].reset_index(drop=True)
    background = background_sample(features.head(150), 40)
    graph, note = compile_features(pipeline[:-1], column_specs(roles), background)
    assert graph is not None, note
    assert "equals scikit-learn" in note
    rows = features.iloc[150:170]
    explainer = Explainer(pipeline, task, list(roles.features), background)  # type: ignore[arg-type]
    served = explainer.explain_encoded(graph.run({c: rows[c].to_numpy() for c in rows}))
    batch = explainer.explain(rows)
    np.testing.assert_allclose(served.contributions, batch.contributions, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(served.outputs, batch.outputs, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(served.base_values, batch.base_values, rtol=1e-9, atol=1e-12)
    assert served.classes == batch.classes
    assert served.words.keys() == batch.words.keys()
    for column in served.words:
        for mine, theirs in zip(served.words[column], batch.words[column], strict=True):
            assert mine.keys() == theirs.keys()


def test_a_feature_graph_that_differs_from_scikit_learn_is_refused(titanic: pd.DataFrame) -> None:
    native = np.array([[1.0, np.nan, 3.0], [0.5, 2.0, 1e6]])
    assert feature_difference(native.copy(), native) == ""
    close = native + np.array([[1e-10, 0, 0], [0, 0, 1e-4]])  # 1e-10 relative to 1e6
    assert feature_difference(close, native) == ""
    off = native + np.array([[1e-7, 0, 0], [0, 0, 0]])
    assert (
        feature_difference(off, native) == "differs from scikit-learn by up to 1.0e-07 (relative)"
    )
    holes = native.copy()
    holes[0, 0] = np.nan
    assert "missing values" in feature_difference(holes, native)
    assert "shape (2, 2)" in feature_difference(native[:, :2], native)
    pipeline = _fit("lightgbm", TITANIC, titanic, "Survived", "classification")
    features = titanic[list(TITANIC.features)]
    empty, reason = compile_features(pipeline[:-1], column_specs(TITANIC), features.head(0))
    assert empty is None and reason == "no rows to check the feature graph on"
    with pytest.raises(ValueError, match="3 features given; the preprocessing makes"):
        Explainer(pipeline, "classification", list(TITANIC.features)).explain_encoded(
            np.zeros((1, 3))
        )


@pytest.mark.parametrize(
    ("name", "objective"), [("xgboost", "reg:tweedie"), ("lightgbm", "tweedie")]
)
def test_a_log_link_regressor_is_explained_in_raw_score(
    name: str, objective: str, titanic: pd.DataFrame
) -> None:
    pytest.importorskip(name)
    roles = ColumnRoles(numeric=("Age", "SibSp", "Parch"), categorical=("Sex", "Pclass"))
    estimator = make_estimator(name, {"n_estimators": 20, "objective": objective}, "regression", 0)
    frame = titanic[titanic["Fare"] > 0]
    pipeline = build_pipeline(roles, estimator).fit(frame[list(roles.features)], frame["Fare"])
    rows = frame[list(roles.features)].head(3)
    found = explain_rows(pipeline, rows, task="regression")
    assert found.space == "raw_score"  # the log of the prediction
    np.testing.assert_allclose(np.exp(found.outputs), pipeline.predict(rows), rtol=1e-5)


def test_a_time_budget_cuts_the_attribution_sample_to_the_rows_that_fit(
    titanic: pd.DataFrame,
) -> None:
    from loopml.core import reference

    pipeline = _fit("random_forest", TITANIC, titanic, "Survived", "classification")
    features = titanic[list(TITANIC.features)]
    explainer = Explainer(pipeline, "classification", list(TITANIC.features), features.head(50))
    assert explainer.kind == "tree"
    whole, _ = reference.explain_sample(explainer, features)
    assert len(whole) == reference.PROFILE_ROWS["tree"]  # no budget: the usual sample
    least, explained = reference.explain_sample(explainer, features, seconds=0.0)
    assert len(least) == reference.MIN_PROFILE_ROWS == len(explained)  # never fewer
    roomy, _ = reference.explain_sample(explainer, features, seconds=600.0)
    assert len(roomy) == reference.PROFILE_ROWS["tree"]  # never more than without one
    summary = reference.attribution_profile(explainer, features, seconds=0.0)
    assert summary.rows == reference.MIN_PROFILE_ROWS
