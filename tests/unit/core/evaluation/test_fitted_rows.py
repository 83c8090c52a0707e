"""Fitted-row fingerprints: the same values are the same row, whatever the index or file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.core.evaluation import fitted_rows


def test_unseen_rows_are_those_whose_values_were_not_fitted_on() -> None:
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "c"], "y": [0, 1, 0]})
    test = pd.DataFrame(
        {"y": [1, 0, 0], "x": [2.0, 3.0, 3.0], "c": ["b", "c", "z"], "id": [7, 8, 9]},
        index=[10, 11, 12],
    )
    record = fitted_rows.record([train], ["x", "c", "y"])

    assert list(fitted_rows.unseen(test, record)) == [False, False, True]


def test_the_record_round_trips_through_its_json_document() -> None:
    record = fitted_rows.record([pd.DataFrame({"x": np.arange(1000), "y": 1})], ["y", "x"])
    again = fitted_rows.FittedRows.from_document(record.as_document())

    assert again.columns == ("x", "y") and np.array_equal(again.hashes, record.hashes)
    assert record.as_document()["rows"] == 1000


def test_a_column_the_rows_lack_is_named() -> None:
    record = fitted_rows.record([pd.DataFrame({"x": [1], "y": [0]})], ["x", "y"])

    with pytest.raises(KeyError, match="x"):
        fitted_rows.unseen(pd.DataFrame({"y": [0]}), record)
