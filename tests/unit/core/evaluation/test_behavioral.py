"""Behavioral tests on real fitted pipelines: invariance, directional, perturbation, examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter
from sklearn.linear_model import LinearRegression, LogisticRegression

from loopml.config import BehavioralTest
from loopml.core.data.roles import ColumnRoles
from loopml.core.evaluation import behavioral
from loopml.core.evaluation.assess import behave, predictor
from loopml.core.models import build_pipeline
from loopml.core.scoring import ScoringModel, column_specs
from loopml.errors import ConfigError

NAMES = ["Ana", "John", "Wei", "Olu"]


def declare(**fields: object) -> BehavioralTest:
    return TypeAdapter(BehavioralTest).validate_python(fields)


def loan_data(seed: int = 0, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"income": rng.normal(50, 15, n), "name": rng.choice(NAMES, n)})
    biased = frame["income"] + np.where(frame["name"] == "Ana", 25, 0)  # the label used the name
    frame["approved"] = np.where(biased + rng.normal(0, 5, n) > 55, "yes", "no")
    return frame


def classifier(roles: ColumnRoles, frame: pd.DataFrame) -> ScoringModel:
    pipeline = build_pipeline(roles, LogisticRegression(max_iter=1000)).fit(
        frame[list(roles.features)], frame["approved"]
    )
    return ScoringModel(
        pipeline, "classification", "approved", column_specs(roles), list(pipeline.classes_)
    )


@pytest.fixture(scope="module")
def uses_name() -> ScoringModel:
    return classifier(ColumnRoles(numeric=("income",), categorical=("name",)), loan_data())


@pytest.fixture(scope="module")
def ignores_name() -> ScoringModel:
    return classifier(ColumnRoles(numeric=("income",), ignore=("name",)), loan_data())


def run(
    test: BehavioralTest, model: ScoringModel, rows: pd.DataFrame
) -> behavioral.BehavioralResult:
    return behavioral.run_one(test, rows, predictor(model), model.classes, seed=1)


def test_invariance_fails_on_a_model_that_uses_the_column(uses_name: ScoringModel) -> None:
    test = declare(kind="invariance", column="name", values=["Ana", "Wei"])

    result = run(test, uses_name, loan_data(seed=5))

    assert not result.passed
    assert result.agreement < 0.95
    assert "predictions change when name is set to ['Ana', 'Wei']" in result.detail
    assert result.failures and set(result.failures[0]) == {"row", "original", "value", "prediction"}


def test_invariance_passes_on_a_model_that_does_not(ignores_name: ScoringModel) -> None:
    test = declare(kind="invariance", column="name", values=["Ana", "Wei"])

    result = behave(ignores_name, test, loan_data(seed=5))

    assert result.passed and result.agreement == 1.0 and result.failures == []
    assert result.detail.endswith("(the model does not use name: nothing can change)")


def test_directional_probability_of_a_class_rises_with_income(ignores_name: ScoringModel) -> None:
    up = declare(kind="directional", column="income", change="+20%", expect="increase", label="yes")
    down = declare(
        kind="directional", column="income", change="+20%", expect="decrease", label="yes"
    )

    assert run(up, ignores_name, loan_data(seed=6)).passed
    failed = run(down, ignores_name, loan_data(seed=6))
    assert not failed.passed and failed.agreement < 0.1
    assert "moves the wrong way in" in failed.detail


def test_directional_on_a_regression_prediction() -> None:
    roles = ColumnRoles(numeric=("sqft",))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"sqft": rng.uniform(40, 200, 200)})
    frame["price"] = 3000 * frame["sqft"] + rng.normal(0, 1000, 200)
    pipeline = build_pipeline(roles, LinearRegression()).fit(frame[["sqft"]], frame["price"])
    model = ScoringModel(pipeline, "regression", "price", column_specs(roles))

    result = run(
        declare(kind="directional", column="sqft", change="+10%", expect="increase"), model, frame
    )

    assert result.passed and "moves as expected in 200" in result.detail


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("+10%", [110.0, -90.0]),
        ("-50%", [50.0, -150.0]),
        ("+3", [103.0, -97.0]),
        ("*2", [200.0, -200.0]),
    ],
)
def test_changes_are_applied_to_numbers(change: str, expected: list[float]) -> None:
    assert list(behavioral.apply_change(pd.Series([100.0, -100.0]), change)) == expected


def test_typos_change_some_words_and_keep_the_rest() -> None:
    rng = np.random.default_rng(0)
    text = "transformers for named entity recognition in clinical notes"

    noisy = behavioral.add_typos(text, 1.0, rng)

    assert noisy != text
    assert len(noisy.split(" ")) == len(text.split(" "))
    assert behavioral.add_typos(text, 0.0, rng) == text
    assert behavioral.add_typos(None, 1.0, rng) is None


def test_numeric_noise_perturbation_measures_agreement(ignores_name: ScoringModel) -> None:
    small = declare(kind="perturbation", columns=["income"], noise="numeric", scale=0.01)
    large = declare(
        kind="perturbation", columns=["income"], noise="numeric", scale=3.0, min_agreement=0.95
    )

    assert run(small, ignores_name, loan_data(seed=7)).agreement > 0.95
    assert not run(large, ignores_name, loan_data(seed=7)).passed


def test_examples_check_each_row_against_its_expectation(ignores_name: ScoringModel) -> None:
    test = declare(
        kind="examples",
        rows=[{"income": 120, "name": "Wei", "expect": "yes"}, {"income": 5, "expect": "yes"}],
    )

    result = run(test, ignores_name, loan_data(seed=8))

    assert result.agreement == 0.5 and not result.passed
    assert result.failures == [{"row": 1, "expect": "yes", "prediction": "no", "income": 5}]


def test_check_names_the_test_and_suggests_a_column() -> None:
    frame = loan_data()
    with pytest.raises(ConfigError) as info:
        behavioral.check(
            [declare(kind="invariance", column="nmae", values=["x"])],
            frame,
            "classification",
            ["no", "yes"],
        )
    assert str(info.value) == (
        "behavioral[0] (invariance of nmae): column 'nmae' is not in the data; did you mean 'name'?"
    )


def test_check_requires_a_class_for_classification_directional_tests() -> None:
    test = declare(kind="directional", column="income", change="+5%", expect="increase")
    with pytest.raises(ConfigError, match=r"add label: <class>.*classes are no, yes"):
        behavioral.check([test], loan_data(), "classification", ["no", "yes"])
    with pytest.raises(ConfigError, match="column 'name' is not numeric"):
        behavioral.check(
            [
                declare(
                    kind="directional", column="name", change="+5%", expect="increase", label="yes"
                )
            ],
            loan_data(),
            "classification",
            ["no", "yes"],
        )
