"""Column roles and task inference: declared roles win, the rest is guessed and explained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.config import ColumnsConfig
from loopml.core.data.roles import infer_roles, infer_task

N = 30


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, N).round(1),
            "fare": rng.integers(5, 40, N),
            "color": ["red", "blue", "green"] * (N // 3),
            "review": [
                "this is a great product",
                "not very good at all",
                "would buy this again",
            ]
            * (N // 3),
            "when": pd.date_range("2020-01-01", periods=N).strftime("%Y-%m-%d"),
            "passenger_id": np.arange(100, 100 + N),
            "const": ["x"] * N,
            "survived": [0, 1] * (N // 2),
        }
    )


def test_each_kind_of_column_gets_its_role(frame: pd.DataFrame) -> None:
    roles = infer_roles(frame, "survived", ColumnsConfig())

    assert roles.numeric == ("age", "fare")
    assert roles.categorical == ("color",)
    assert roles.text == ("review",)
    assert roles.datetime == ("when",)
    assert roles.id == ("passenger_id",)
    assert roles.ignore == ("const",)
    assert roles.features == ("age", "fare", "color", "review", "when")


def test_target_gets_no_role(frame: pd.DataFrame) -> None:
    roles = infer_roles(frame, "survived", ColumnsConfig())

    assert roles.role_of("survived") is None
    assert "survived" not in roles.inferred
    assert "survived" not in roles.features


def test_inferred_explains_every_inferred_column(frame: pd.DataFrame) -> None:
    roles = infer_roles(frame, "survived", ColumnsConfig())

    assert set(roles.inferred) == set(frame.columns) - {"survived"}
    assert roles.inferred["age"] == "numeric (numbers)"
    assert roles.inferred["color"] == "categorical (3 distinct values)"
    assert roles.inferred["review"].startswith("text (")
    assert "words on average" in roles.inferred["review"]
    assert roles.inferred["when"] == "datetime (parses as dates)"
    assert roles.inferred["passenger_id"].startswith("id (")
    assert roles.inferred["const"] == "ignore (one constant value)"


def test_declared_roles_win_and_are_not_listed_as_inferred(frame: pd.DataFrame) -> None:
    declared = ColumnsConfig(categorical=["fare"], text=["color"], ignore=["age"], id=["when"])
    roles = infer_roles(frame, "survived", declared)

    assert roles.role_of("fare") == "categorical"
    assert roles.role_of("color") == "text"
    assert roles.role_of("age") == "ignore"
    assert roles.role_of("when") == "id"
    assert not {"fare", "color", "age", "when"} & set(roles.inferred)
    assert roles.role_of("review") == "text"
    assert "review" in roles.inferred


def test_all_missing_column_is_ignored() -> None:
    data = pd.DataFrame({"empty": [np.nan] * 6, "y": [0, 1] * 3})
    roles = infer_roles(data, "y", ColumnsConfig())

    assert roles.ignore == ("empty",)
    assert roles.inferred["empty"] == "ignore (no values)"


def test_booleans_are_categorical() -> None:
    data = pd.DataFrame({"alone": [True, False] * 5, "y": range(10)})
    roles = infer_roles(data, "y", ColumnsConfig())

    assert roles.categorical == ("alone",)


def test_unique_strings_without_id_name_are_ids() -> None:
    data = pd.DataFrame({"ticket": [f"T{i}" for i in range(10)], "y": [0, 1] * 5})
    roles = infer_roles(data, "y", ColumnsConfig())

    assert roles.id == ("ticket",)


def test_unique_numbers_not_named_like_an_id_stay_numeric() -> None:
    data = pd.DataFrame({"height": np.linspace(1.5, 2.0, 10), "y": [0, 1] * 5})
    roles = infer_roles(data, "y", ColumnsConfig())

    assert roles.numeric == ("height",)


def test_unique_numbers_ending_in_letters_id_stay_numeric() -> None:
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"amount_paid": rng.normal(size=20), "y": [0, 1] * 10})
    roles = infer_roles(data, "y", ColumnsConfig())

    assert roles.numeric == ("amount_paid",)


def test_datetime_dtype_is_datetime() -> None:
    data = pd.DataFrame({"at": pd.date_range("2021-05-01", periods=6, freq="h"), "y": [0, 1] * 3})
    roles = infer_roles(data, "y", ColumnsConfig())

    assert roles.datetime == ("at",)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["yes", "no", "yes", "no"], "classification"),
        ([0, 1, 2, 1, 0, 2], "classification"),
        ([1.0, 2.0, 1.0, 2.0], "classification"),
        ([True, False, True, False], "classification"),
        ([0.5, 1.25, 3.75, 2.0], "regression"),
        (list(range(100)), "regression"),
    ],
)
def test_infer_task_from_target_values(values: list[object], expected: str) -> None:
    assert infer_task(pd.Series(values), "auto") == expected


def test_infer_task_ignores_missing_labels() -> None:
    assert infer_task(pd.Series([0.0, 1.0, np.nan, 1.0]), "auto") == "classification"


@pytest.mark.parametrize(
    ("values", "declared"),
    [([0.5, 1.25, 3.75], "classification"), (["a", "b", "a"], "regression")],
)
def test_declared_task_wins(values: list[object], declared: str) -> None:
    assert infer_task(pd.Series(values), declared) == declared
