"""The data profile's numbers: missing values, duplicates, correlations, words, drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.config import SplitConfig
from loopml.core.data import profile, split
from loopml.core.data.roles import ColumnRoles

ROLES = ColumnRoles(numeric=("x", "twin"), categorical=("color",), text=("title",))


def frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    label = rng.choice(["cv", "nlp"], n)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "twin": 2 * x + 1,
            "color": rng.choice(["red", "blue"], n),
            "title": np.where(
                label == "nlp", "language model text tokens", "image pixels convolution"
            ),
            "tag": label,
        }
    )


def build(data: pd.DataFrame, splits: split.Splits | None = None) -> profile.DataProfile:
    splits = splits or split.make(data, SplitConfig(), "tag", "classification")
    return profile.build(data, "tag", "classification", ROLES, splits, ["a warning"])


def test_labels_missing_values_and_correlations() -> None:
    data = frame()
    data.loc[:9, "x"] = np.nan

    found = build(data)

    assert found.labels is not None and found.labels.sum() == 200
    assert found.missing == [{"column": "x", "missing": 10, "share": 0.05}]
    assert found.top_pairs[0]["r"] == pytest.approx(1.0)
    assert {found.top_pairs[0]["a"], found.top_pairs[0]["b"]} == {"x", "twin"}


def test_duplicates_and_rows_that_no_model_can_tell_apart() -> None:
    data = frame(50)
    copies = data.iloc[:3].copy()
    flipped = data.iloc[3:5].copy()
    flipped["tag"] = np.where(flipped["tag"] == "cv", "nlp", "cv")

    found = build(pd.concat([data, copies, flipped], ignore_index=True))

    assert found.duplicates == 3
    assert found.conflicting == 4  # the two originals and their flipped twins


def test_frequent_words_per_class() -> None:
    found = build(frame())

    assert set(found.words) == {"cv", "nlp"}
    assert "pixels" in found.words["cv"] and "pixels" not in found.words["nlp"]
    assert found.text_lengths["title"]["group"].nunique() == 2


def test_a_shifted_column_is_flagged_between_train_and_test() -> None:
    data = frame(400)
    splits = split.make(data, SplitConfig(), "tag", "classification")
    test = splits.test.assign(x=splits.test["x"] + 3)

    found = build(data, split.Splits(splits.train, splits.validation, test, "random"))

    drift = {d["column"]: d for d in found.drift}
    assert drift["x"]["flagged"] and drift["x"]["statistic"] > 0.8
    assert not drift["twin"]["flagged"] and not drift["color"]["flagged"]
    assert found.highlights()["train/test drift"] == "x"
