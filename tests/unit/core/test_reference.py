"""The reference profile: bins, categories, text statistics, and a compact JSON round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd

from loopml.core.data.roles import ColumnRoles
from loopml.core.reference import (
    NUMERIC_BINS,
    ReferenceProfile,
    build_profile,
    summarize_categorical,
    summarize_numeric,
    summarize_text,
)


def test_few_distinct_values_get_one_bin_each_and_new_values_their_own() -> None:
    summary = summarize_numeric(pd.Series([0, 0, 1, 1, 1, 3, np.nan]))
    assert summary.discrete
    assert summary.missing == 1
    counts, missing = summary.bin_counts(pd.Series([0, 1, 1, 2, 3, 4, 7, None]))
    # bins: <0, =0, (0,1), =1, (1,3), =3, >3
    assert counts.tolist() == [0, 1, 0, 2, 1, 1, 2]
    assert missing == 1
    assert sum(summary.counts) == 6


def test_continuous_values_get_quantile_bins_of_equal_mass() -> None:
    values = np.random.default_rng(0).normal(size=20_000)
    summary = summarize_numeric(values)
    assert not summary.discrete
    assert len(summary.counts) == len(summary.edges) + 1 <= NUMERIC_BINS + 1
    shares = np.asarray(summary.counts) / len(values)
    assert shares.max() < 0.02  # about 1% each
    assert abs(summary.quantiles["p50"]) < 0.05


def test_categories_keep_the_most_frequent_and_count_the_rest() -> None:
    values = pd.Series(["a"] * 5 + ["b"] * 3 + [None] + [f"rare{i}" for i in range(60)])
    summary = summarize_categorical(values)
    assert summary.categories[:2] == ["a", "b"]
    assert len(summary.categories) == 50
    assert summary.other == 12  # 60 rare values, 48 kept
    known, other, missing = summary.category_counts(pd.Series(["a", "b", "zzz", None, 1]))
    assert known[:2].tolist() == [1, 1]
    assert (other, missing) == (2, 1)


def test_numbers_and_their_string_spelling_are_one_category() -> None:
    summary = summarize_categorical(pd.Series([1, 2, 2, 1.0]))
    known, other, _ = summary.category_counts(pd.Series(["1", 2.0, 1]))
    assert dict(zip(summary.categories, known.tolist(), strict=True)) == {"1": 2, "2": 1}
    assert other == 0


def test_text_profile_has_lengths_and_out_of_vocabulary_shares() -> None:
    train = pd.Series(["the cat sat", "the dog ran", "a cat ran", None])
    summary = summarize_text(train)
    assert set(summary.vocabulary) == {"the", "cat", "sat", "dog", "ran", "a"}
    assert summary.oov_rate == 0.0
    length, oov = summary.parts(pd.Series(["the zebra", "", "cat cat cat cat"]))
    assert length.tolist() == [2, 0, 4]
    assert oov[0] == 0.5 and np.isnan(oov[1]) and oov[2] == 0.0


def test_profile_round_trips_through_json_and_stays_small() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=5000),
            "n": rng.integers(0, 5, 5000),
            "c": rng.choice(["u", "v", "w"], 5000),
            "t": rng.choice(["good film", "bad plot twist", "fine"], 5000),
            "d": pd.date_range("2024-01-01", periods=5000, freq="h").astype(str),
        }
    )
    roles = ColumnRoles(numeric=("x", "n"), categorical=("c",), text=("t",), datetime=("d",))
    profile = build_profile(
        frame,
        roles,
        task="classification",
        target="y",
        predictions=rng.choice(["yes", "no"], 400),
        classes=["no", "yes"],
        metric="f1_macro",
        test_score=0.8,
        time_column="d",
    )
    text = profile.model_dump_json()
    assert len(text) < 30_000
    again = ReferenceProfile.model_validate_json(text)
    assert again == profile
    assert again.data_end is not None and again.data_end.startswith("2024-07-27")
    assert again.prediction is not None and again.prediction.kind == "categorical"
    assert set(again.features) == {"x", "n", "c", "t", "d"}
