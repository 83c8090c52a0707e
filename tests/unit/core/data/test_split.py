"""Train / validation / test splits: sizes, seeds, stratification and time order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.config import SplitConfig
from loopml.core.data import split
from loopml.errors import DataValidationError


def labelled(n: int = 1000, shares: tuple[float, ...] = (0.7, 0.2, 0.1)) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    counts = [round(n * s) for s in shares]
    labels = np.concatenate([[f"c{i}"] * c for i, c in enumerate(counts)])
    rng.shuffle(labels)
    return pd.DataFrame({"row": np.arange(n), "x": rng.normal(size=n), "y": labels})


def test_sizes_match_the_fractions() -> None:
    parts = split.make(labelled(), SplitConfig(test=0.2, validation=0.15), "y", "classification")

    assert parts.sizes() == {"train": 650, "validation": 150, "test": 200}


def test_no_row_is_lost_or_duplicated() -> None:
    frame = labelled()
    parts = split.make(frame, SplitConfig(), "y", "classification")
    rows = pd.concat([parts.train, parts.validation, parts.test])["row"]

    assert len(rows) == len(frame)
    assert sorted(rows) == list(range(len(frame)))


def test_parts_have_a_fresh_index() -> None:
    parts = split.make(labelled(100), SplitConfig(), "y", "classification")

    for part in (parts.train, parts.validation, parts.test):
        assert list(part.index) == list(range(len(part)))


def test_same_seed_same_split_and_other_seed_other_split() -> None:
    frame = labelled()
    first = split.make(frame, SplitConfig(seed=3), "y", "classification")
    again = split.make(frame, SplitConfig(seed=3), "y", "classification")
    other = split.make(frame, SplitConfig(seed=4), "y", "classification")

    pd.testing.assert_frame_equal(first.test, again.test)
    pd.testing.assert_frame_equal(first.train, again.train)
    assert set(first.test["row"]) != set(other.test["row"])


def test_stratified_split_keeps_class_shares() -> None:
    frame = labelled(1000, (0.7, 0.2, 0.1))
    parts = split.make(frame, SplitConfig(), "y", "classification")
    overall = frame["y"].value_counts(normalize=True)

    assert parts.how == "stratified"
    for part in (parts.train, parts.validation, parts.test):
        shares = part["y"].value_counts(normalize=True).reindex(overall.index, fill_value=0)
        assert (shares - overall).abs().max() <= 0.01


def test_regression_split_is_random() -> None:
    frame = pd.DataFrame({"x": range(50), "y": np.linspace(0, 1, 50)})
    parts = split.make(frame, SplitConfig(), "y", "regression")

    assert parts.how == "random"
    assert parts.sizes() == {"train": 30, "validation": 10, "test": 10}


def test_stratify_off_gives_random_split() -> None:
    parts = split.make(labelled(), SplitConfig(stratify=False), "y", "classification")

    assert parts.how == "random"


def test_with_one_class_left_to_stratify_the_split_is_random_and_says_so() -> None:
    frame = pd.DataFrame({"x": range(40), "y": ["a"] * 38 + ["b"] * 2})
    parts = split.make(frame, SplitConfig(), "y", "classification")

    assert parts.how == "random"
    assert sum(parts.sizes().values()) == 40
    assert len(parts.notes) == 1 and "the split is random, not stratified" in parts.notes[0]
    assert parts.params(SplitConfig())["stratify"] is False


def test_a_class_too_rare_to_stratify_is_named_kept_in_training_and_logged() -> None:
    frame = pd.DataFrame({"x": range(301), "y": ["cat", "dog"] * 150 + ["ferret"]})
    cfg = SplitConfig()

    parts = split.make(frame, cfg, "y", "classification")

    assert parts.notes == (
        "class 'ferret' has 1 row: too few to stratify (needs 3, one for each of train, "
        "validation and test); it is kept in training only (never validated or tested) and "
        "the split is stratified on the other classes",
    )
    assert "ferret" in set(parts.train["y"])
    assert "ferret" not in set(parts.validation["y"]) | set(parts.test["y"])
    assert sorted(pd.concat([parts.train, parts.validation, parts.test])["x"]) == list(range(301))
    assert parts.sizes() == {"train": 181, "validation": 60, "test": 60}
    for part in (parts.validation, parts.test):
        assert part["y"].value_counts().to_dict() == {"cat": 30, "dog": 30}
    assert parts.how == "stratified except 'ferret'"
    logged = parts.params(cfg)
    assert logged["stratify"] is True and logged["training_only"] == ["ferret"]
    assert logged["how"] == "stratified except 'ferret'" and logged["seed"] == cfg.seed


def test_more_classes_than_validation_rows_does_not_crash() -> None:
    frame = pd.DataFrame({"x": range(30), "y": [c for c in "abcde" for _ in range(6)]})
    parts = split.make(frame, SplitConfig(test=0.2, validation=0.1), "y", "classification")

    assert parts.sizes() == {"train": 21, "validation": 3, "test": 6}


def test_time_split_puts_oldest_in_train_and_newest_in_test() -> None:
    rng = np.random.default_rng(2)
    days = pd.date_range("2022-01-01", periods=100, freq="D")
    frame = pd.DataFrame(
        {
            "when": rng.permutation(days.strftime("%Y-%m-%d")),
            "y": rng.integers(0, 2, 100),
        }
    )
    parts = split.make(frame, SplitConfig(time_column="when"), "y", "classification")

    train, val, test = (
        pd.to_datetime(p["when"]) for p in (parts.train, parts.validation, parts.test)
    )
    assert parts.sizes() == {"train": 60, "validation": 20, "test": 20}
    assert train.max() <= val.min()
    assert val.max() <= test.min()
    assert parts.how == "time-based on 'when'"


def test_time_column_with_non_dates_is_rejected() -> None:
    frame = pd.DataFrame({"when": ["2022-01-01"] * 9 + ["soon"], "y": [0, 1] * 5})
    with pytest.raises(DataValidationError, match=r"'when'.*'soon'"):
        split.make(frame, SplitConfig(time_column="when"), "y", "classification")


@pytest.mark.parametrize(("n_rows", "share"), [(1, 0.2), (2, 0.2), (4, 0.1), (9, 0.05)])
def test_too_few_rows_are_rejected(n_rows: int, share: float) -> None:
    frame = pd.DataFrame({"x": range(n_rows), "y": np.arange(n_rows) % 2})
    cfg = SplitConfig(test=share, validation=share)
    with pytest.raises(DataValidationError, match=f"{n_rows} rows are too few"):
        split.make(frame, cfg, "y", "regression")


def test_one_row_per_part_is_enough() -> None:
    frame = pd.DataFrame({"x": range(3), "y": [0.1, 0.2, 0.3]})
    parts = split.make(frame, SplitConfig(), "y", "regression")

    assert parts.sizes() == {"train": 1, "validation": 1, "test": 1}


# Splitting rows one at a time, for data that is never whole in one place (train.distributed).


def test_a_row_draws_the_same_in_any_block_and_its_share_of_rows_is_the_configured_one() -> None:
    frame = labelled(20_000)
    cfg = SplitConfig(test=0.2, validation=0.1, seed=7)
    whole, _ = split.draws(frame, cfg.seed)
    blocks = [split.draws(frame.iloc[i : i + 777], cfg.seed)[0] for i in range(0, 20_000, 777)]

    assert np.array_equal(whole, np.concatenate(blocks))
    places = pd.Series(split.place(whole, cfg))
    shares = places.value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.7, abs=0.015)
    assert shares["validation"] == pytest.approx(0.1, abs=0.015)
    assert shares["test"] == pytest.approx(0.2, abs=0.015)


def test_the_seed_changes_the_draws_and_the_two_draws_are_independent() -> None:
    frame = labelled(5_000)
    first, sampling = split.draws(frame, 1)
    other, _ = split.draws(frame, 2)

    assert (first != other).mean() > 0.99
    assert abs(np.corrcoef(first, sampling)[0, 1]) < 0.05
    assert first.min() >= 0 and first.max() < split.DRAW_RANGE


def test_places_of_a_sample_are_the_places_of_the_same_rows_in_the_whole() -> None:
    frame = labelled(3_000)
    cfg = SplitConfig(seed=3)
    places = split.place(split.draws(frame, cfg.seed)[0], cfg)
    sample = frame.sample(500, random_state=0)
    sample_places = split.place(split.draws(sample, cfg.seed)[0], cfg)

    assert list(sample_places) == list(places[sample.index])
    parts = split.from_places(sample, sample_places, "hashed")
    assert sum(parts.sizes().values()) == 500
    assert set(parts.test["row"]) <= set(frame.loc[places == "test", "row"])


def test_time_cutoffs_put_older_rows_first_in_any_block() -> None:
    days = pd.Series(pd.date_range("2024-01-01", periods=1000, freq="D")).sample(
        frac=1, random_state=1
    )
    cfg = SplitConfig(test=0.2, validation=0.2)
    cutoffs = split.time_cutoffs(days, cfg)
    places = pd.Series(split.place_by_time(days, cutoffs), index=days.index)

    assert places.value_counts().to_dict() == {"train": 600, "validation": 200, "test": 200}
    assert days[places == "train"].max() < days[places == "validation"].min()
    assert days[places == "validation"].max() < days[places == "test"].min()
    block = days.iloc[:100]
    assert list(split.place_by_time(block, cutoffs)) == list(places.iloc[:100])


def test_an_empty_part_of_a_sample_names_the_part_and_the_setting() -> None:
    frame = labelled(10)
    places = np.array(["train"] * 9 + ["test"], dtype=object)

    with pytest.raises(DataValidationError, match=r"validation split .* train.sample_rows"):
        split.from_places(frame, places, "hashed")
