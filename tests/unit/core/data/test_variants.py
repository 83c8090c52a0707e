"""Data variants change training and validation rows only; the test rows stay as they are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.config import SplitConfig
from loopml.core.data import split
from loopml.core.data.variants import apply_variant


def _frame(n: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.choice(["a", "b"], n)})
    return frame.drop(index=[5, 17])  # rows without a label, dropped: numbers stay the file's


def test_the_split_numbers_its_rows_by_the_frame_index() -> None:
    frame = _frame()
    found = split.make(frame, SplitConfig(), "y", "classification")
    assert sorted(np.concatenate(found.rows)) == sorted(frame.index)
    assert 5 not in np.concatenate(found.rows)
    for part, rows in zip((found.train, found.validation, found.test), found.rows, strict=True):
        assert part["x"].tolist() == frame.loc[rows, "x"].tolist()
        assert list(part.index) == list(range(len(part)))


def test_excluded_and_relabelled_rows_change_training_and_validation_only() -> None:
    frame = _frame()
    splits = split.make(frame, SplitConfig(), "y", "classification")
    train_rows, validation_rows, test_rows = splits.rows
    exclude = {int(train_rows[0]), int(validation_rows[0]), int(test_rows[0])}
    relabel = {int(train_rows[1]): "b", int(test_rows[1]): "b"}
    varied, change = apply_variant(splits, "y", "clean", exclude, relabel)
    assert (change.removed, change.relabelled, change.test_rows_unchanged) == (2, 1, 2)
    pd.testing.assert_frame_equal(varied.test, splits.test)
    assert np.array_equal(varied.rows[2], test_rows)
    assert len(varied.train) == len(splits.train) - 1
    assert int(train_rows[0]) not in varied.rows[0]
    assert varied.train.loc[list(varied.rows[0]).index(train_rows[1]), "y"] == "b"
    assert "2 listed rows are test rows and stay as they are" in change.describe()
    again = apply_variant(splits, "y", "clean", exclude, relabel)[1]
    assert again.fingerprint == change.fingerprint
    other = apply_variant(splits, "y", "clean", exclude, {int(train_rows[1]): "a"})[1]
    assert other.fingerprint != change.fingerprint


def test_splits_without_row_numbers_are_refused() -> None:
    frame = _frame()
    places = split.place(split.draws(frame, 0)[0], SplitConfig())
    unnumbered = split.from_places(frame, places, "hash")
    with pytest.raises(ValueError, match="do not number their rows"):
        apply_variant(unnumbered, "y", "v", {1}, {})
