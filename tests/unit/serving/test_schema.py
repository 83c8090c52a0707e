"""The compiled input schema: rows to columns, every problem named."""

from __future__ import annotations

import numpy as np
import pytest

from loopml.core.scoring import ColumnSpec
from loopml.errors import PredictionInputError
from loopml.serving.auth import TokenCheck
from loopml.serving.schema import InputSchema, RowsTooMany

COLUMNS = [
    ColumnSpec("age", "numeric"),
    ColumnSpec("port", "categorical"),
    ColumnSpec("name", "text"),
    ColumnSpec("when", "datetime"),
]
SCHEMA = InputSchema(COLUMNS, max_rows=3, id_columns=("id",))
ROW = {"age": 30, "port": "S", "name": "Ann", "when": "2020-01-01"}


def test_records_become_typed_columns() -> None:
    columns = SCHEMA.from_records([ROW, {**ROW, "age": None, "port": 3, "id": 9}])
    assert columns["age"].dtype == np.float64 and np.isnan(columns["age"][1])
    assert columns["port"].tolist() == ["S", 3]


@pytest.mark.parametrize(
    ("record", "needle"),
    [
        ({**ROW, "age": "old"}, "row 0, column 'age': must be a number or null, got 'old'"),
        ({**ROW, "age": True}, "must be a number"),
        ({**ROW, "age": 10**400}, "too large"),
        ({**ROW, "age": float("inf")}, "too large"),
        ({**ROW, "name": 5}, "column 'name': must be a string or null"),
        ({**ROW, "port": [1]}, "must be a string, number, boolean or null"),
        ({k: v for k, v in ROW.items() if k != "age"}, "missing 1 column(s): 'age'"),
        ({**ROW, "colour": "red"}, "unknown column 'colour'"),
    ],
)
def test_bad_values_are_named(record: dict[str, object], needle: str) -> None:
    with pytest.raises(PredictionInputError, match=None) as caught:
        SCHEMA.from_records([record])
    assert needle in str(caught.value)


def test_row_limit_and_empty_requests() -> None:
    with pytest.raises(RowsTooMany, match="at most 3"):
        SCHEMA.from_records([ROW] * 4)
    with pytest.raises(PredictionInputError, match="no rows"):
        SCHEMA.from_records([])


def test_split_mapping_and_matrix_agree_with_records() -> None:
    names = ["age", "port", "name", "when"]
    values = [ROW[n] for n in names]
    expected = SCHEMA.from_records([ROW])
    for columns in (
        SCHEMA.from_split(names, [values]),
        SCHEMA.from_mapping({n: [ROW[n]] for n in names}),
        SCHEMA.from_matrix(values, 1),
    ):
        assert {k: v.tolist() for k, v in columns.items()} == {
            k: v.tolist() for k, v in expected.items()
        }
    with pytest.raises(PredictionInputError, match="row 0 has 3 values for 4 columns"):
        SCHEMA.from_split(names, [values[:3]])
    with pytest.raises(PredictionInputError, match="do not fill 1 rows of 4 features"):
        SCHEMA.from_matrix(values[:3], 1)


def test_tokens_compare_every_configured_token() -> None:
    check = TokenCheck(["alpha", "beta"])
    assert check.allows("Bearer beta") and check.allows("bearer alpha")
    assert not check.allows("Bearer gamma") and not check.allows(None)
    assert not check.allows("Basic alpha") and not check.allows("Bearer")
    assert TokenCheck([]).allows(None)
