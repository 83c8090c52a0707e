"""ScoringModel: input conforming and scored frames around a small fitted pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from loopml.core.data.roles import ColumnRoles
from loopml.core.models import build_pipeline
from loopml.core.scoring import ColumnSpec, ScoringModel, column_specs
from loopml.errors import PredictionInputError

ROLES = ColumnRoles(numeric=("age", "fare"), categorical=("port",), id=("pid",))


@pytest.fixture(scope="module")
def classifier() -> ScoringModel:
    rng = np.random.default_rng(0)
    n = 90
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 12, n),
            "fare": rng.uniform(5, 80, n),
            "port": rng.choice(["S", "C", "Q"], n),
        }
    )
    label = np.where(frame["fare"] > 55, "first", np.where(frame["fare"] > 30, "second", "third"))
    pipeline = build_pipeline(ROLES, LogisticRegression(max_iter=1000)).fit(frame, label)
    return ScoringModel(
        pipeline=pipeline,
        task="classification",
        target="klass",
        columns=column_specs(ROLES),
        classes=list(pipeline.classes_),
        id_columns=["pid"],
        name="titanic",
        version="3",
    )


def rows(**overrides: object) -> pd.DataFrame:
    base = {"age": [30.0, 50.0, 22.0], "fare": [10.0, 70.0, 40.0], "port": ["S", "C", None]}
    base.update(overrides)  # type: ignore[arg-type]
    return pd.DataFrame(base)


def test_column_specs_follow_feature_roles_only() -> None:
    assert column_specs(ROLES) == [
        ColumnSpec("age", "numeric"),
        ColumnSpec("fare", "numeric"),
        ColumnSpec("port", "categorical"),
    ]


def test_conform_names_missing_columns(classifier: ScoringModel) -> None:
    with pytest.raises(PredictionInputError) as info:
        classifier.conform(rows().drop(columns=["age", "port"]))

    message = str(info.value)
    assert "missing 2 column(s)" in message
    assert "'age'" in message and "'port'" in message
    assert "'fare'" not in message


def test_conform_orders_columns_and_drops_extras(classifier: ScoringModel) -> None:
    frame = rows()[["port", "fare", "age"]].assign(pid=[1, 2, 3], comment="x")

    assert list(classifier.conform(frame).columns) == ["age", "fare", "port"]


def test_numbers_given_as_strings_are_converted(classifier: ScoringModel) -> None:
    frame = rows(age=["30", "50.5", None])
    conformed = classifier.conform(frame)

    assert pd.api.types.is_numeric_dtype(conformed["age"])
    assert conformed["age"].iloc[1] == 50.5
    assert np.isnan(conformed["age"].iloc[2])
    np.testing.assert_array_equal(
        classifier.predict(rows(age=["30", "50", "22"])), classifier.predict(rows())
    )


def test_word_in_a_numeric_column_is_rejected_naming_column_and_value(
    classifier: ScoringModel,
) -> None:
    with pytest.raises(PredictionInputError) as info:
        classifier.conform(rows(fare=["10", "cheap", "40"]))

    message = str(info.value)
    assert "row 2, column 'fare': expected a number" in message
    assert "'cheap'" in message


def test_conform_does_not_change_the_caller_frame(classifier: ScoringModel) -> None:
    frame = rows(age=["30", "50", "22"])
    classifier.conform(frame)

    assert frame["age"].tolist() == ["30", "50", "22"]


def test_score_frame_gives_prediction_and_one_probability_per_class(
    classifier: ScoringModel,
) -> None:
    frame = rows().set_axis([10, 11, 12])
    scored = classifier.score_frame(frame)

    assert list(scored.columns) == ["prediction", "proba_first", "proba_second", "proba_third"]
    assert list(scored.index) == [10, 11, 12]
    assert set(scored["prediction"]) <= {"first", "second", "third"}
    np.testing.assert_allclose(scored.filter(like="proba_").sum(axis=1), 1.0)
    np.testing.assert_array_equal(scored["prediction"], classifier.predict(frame))


def test_most_probable_class_is_the_prediction(classifier: ScoringModel) -> None:
    scored = classifier.score_frame(rows())
    proba = scored[["proba_first", "proba_second", "proba_third"]].to_numpy()
    best = np.array(classifier.classes)[proba.argmax(axis=1)]

    np.testing.assert_array_equal(scored["prediction"], best)
    np.testing.assert_allclose(classifier.predict_proba(rows()), proba)


def test_regression_scores_without_probabilities() -> None:
    roles = ColumnRoles(numeric=("x",))
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    pipeline = build_pipeline(roles, LinearRegression()).fit(frame, [2.0, 4.0, 6.0, 8.0])
    model = ScoringModel(pipeline, "regression", "y", column_specs(roles), uri="runs:/abc/model")

    scored = model.score_frame(pd.DataFrame({"x": ["5"]}))
    assert list(scored.columns) == ["prediction"]
    assert scored["prediction"].iloc[0] == pytest.approx(10.0)
    with pytest.raises(PredictionInputError, match="runs:/abc/model gives no class probabilities"):
        model.predict_proba(frame)


def test_describe_prefers_name_and_version(classifier: ScoringModel) -> None:
    assert classifier.describe() == "titanic v3"
    assert classifier.feature_names == ["age", "fare", "port"]
