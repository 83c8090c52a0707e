"""Slices: declared pandas expressions, automatic slices, weak flags and Simpson's paradox."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.core.data.roles import ColumnRoles
from loopml.core.evaluation import metrics, slices
from loopml.errors import ConfigError

ACCURACY = metrics.METRICS["accuracy"]
FRAME = pd.DataFrame(
    {
        "age": [70, 20, 30, 80, 45, 66, 25, np.nan],
        "title": [
            "a short one",
            "a much longer title here",
            "x",
            "tiny",
            "medium size",
            "y",
            "z",
            "w",
        ],
        "port": ["S", "S", "C", "C", "S", "Q", "S", "C"],
    }
)


def test_declared_slices_are_pandas_expressions() -> None:
    found = slices.declared(FRAME, {"seniors": "age >= 65", "short": "title.str.len() < 5"})

    assert [s.name for s in found] == ["seniors", "short"]
    assert list(found[0].mask) == [True, False, False, True, False, True, False, False]
    assert found[1].rows == 5  # x, tiny, y, z, w


def test_a_bad_slice_expression_names_the_slice_and_the_expression() -> None:
    with pytest.raises(ConfigError) as info:
        slices.declared(FRAME, {"seniors": "agee >= 65"})

    message = str(info.value)
    assert message.startswith("evaluation.slices.seniors: cannot evaluate 'agee >= 65'")
    assert "\n" not in message


def test_a_slice_expression_that_is_not_true_false_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"evaluation.slices.ages: 'age \+ 1' does not give"):
        slices.declared(FRAME, {"ages": "age + 1"})


def test_automatic_slices_cover_categories_bins_text_length_and_missing() -> None:
    roles = ColumnRoles(numeric=("age",), categorical=("port",), text=("title",))

    found = {s.name: s for s in slices.automatic(FRAME, roles, min_rows=1)}

    assert found["port = S"].rows == 4
    assert "age is missing" in found
    assert any(n.startswith("age in (") for n in found)
    assert any(n.startswith("len(title) in (") for n in found)
    assert {s.kind for s in found.values()} == {"category", "numeric bin", "text length", "missing"}


def test_small_automatic_slices_are_left_out() -> None:
    roles = ColumnRoles(categorical=("port",))

    found = slices.automatic(FRAME, roles, min_rows=3)

    assert sorted(s.name for s in found) == ["port = C", "port = S"]


def test_weak_slices_are_flagged_worst_first() -> None:
    y = np.array(["a"] * 8)
    predicted = np.array(["a", "a", "b", "b", "a", "a", "a", "b"])
    masks = [
        slices.Slice("good", "declared", None, np.array([1, 1, 0, 0, 1, 1, 1, 0], dtype=bool)),
        slices.Slice("bad", "declared", None, np.array([0, 0, 1, 1, 0, 0, 0, 1], dtype=bool)),
        slices.Slice("half", "declared", None, np.array([1, 0, 1, 0, 0, 0, 0, 0], dtype=bool)),
    ]

    scores = slices.score(masks, ACCURACY, y, predicted, None, ["a", "b"])
    weak = slices.flag_weak(scores, overall=5 / 8, metric=ACCURACY, margin=0.05)

    assert [s.value for s in scores] == [1.0, 0.0, 0.5]
    assert [s.name for s in weak] == ["bad", "half"]
    assert not scores[0].weak


def test_simpson_warning_when_winning_overall_but_losing_most_slices() -> None:
    scores = [
        slices.SliceScore("s1", "declared", 50, value=0.80, champion=0.82),
        slices.SliceScore("s2", "declared", 50, value=0.70, champion=0.75),
        slices.SliceScore("s3", "declared", 50, value=0.90, champion=0.60),
    ]

    warning = slices.simpson_warning(scores, overall=0.85, champion_overall=0.80, metric=ACCURACY)

    assert warning.startswith("Simpson's paradox")
    assert "loses on 2 of 3 slices" in warning
    assert slices.simpson_warning(scores, 0.79, 0.80, ACCURACY) == ""  # loses overall too
    scores[1].champion = 0.60
    assert slices.simpson_warning(scores, 0.85, 0.80, ACCURACY) == ""  # wins most slices


def test_a_relative_margin_flags_regression_slices_by_share_of_the_error() -> None:
    mae = metrics.METRICS["mae"]
    scores = [
        slices.SliceScore("close", "numeric bin", 30, value=45.0),
        slices.SliceScore("far", "numeric bin", 30, value=60.0),
    ]

    weak = slices.flag_weak(scores, overall=40.0, metric=mae, margin=0.25, relative=True)

    assert [s.name for s in weak] == ["far"]  # 45 is 12.5% above 40; 60 is 50% above


def test_numeric_codes_are_sliced_by_value_and_a_slice_of_every_row_is_left_out() -> None:
    frame = pd.DataFrame({"pclass": [1, 2, 3, 1, 2, 3, 1, 1], "same": [5.0] * 8})
    roles = ColumnRoles(numeric=("pclass", "same"))

    names = [s.name for s in slices.automatic(frame, roles, min_rows=1)]

    assert names == ["pclass = 1", "pclass = 2", "pclass = 3"]
