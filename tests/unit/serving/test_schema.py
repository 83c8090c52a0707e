"""The input schema: rows to feature columns read through the data contract, problems named."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.core.data.contract import ColumnRule, DataContract
from loopml.core.scoring import ColumnSpec
from loopml.errors import DataContractError, PredictionInputError
from loopml.serving.auth import TokenCheck
from loopml.serving.schema import InputSchema, RowsTooMany, json_schema

COLUMNS = [
    ColumnSpec("age", "numeric"),
    ColumnSpec("port", "categorical"),
    ColumnSpec("member", "categorical"),
    ColumnSpec("name", "text"),
    ColumnSpec("when", "datetime"),
]
RULES = (
    ColumnRule("id", "string", role="id"),
    ColumnRule("age", "number", role="numeric", decimal=",", thousands="."),
    ColumnRule("port", "string", role="categorical", code=True),
    ColumnRule("member", "boolean", role="categorical", true_words=("sí",), false_words=("no",)),
    ColumnRule("name", "string", role="text"),
    ColumnRule("when", "datetime", role="datetime", date_format="%d/%m/%Y"),
    ColumnRule("notes", "string", role="ignore"),
    ColumnRule("survived", "string", role="target"),
)
CONTRACT = DataContract(target="survived", columns=RULES, dialect={"sep": ";", "decimal": ","})
SCHEMA = InputSchema(COLUMNS, CONTRACT, max_rows=3)
ROW = {"age": 30.5, "port": "02134", "member": False, "name": "Ann", "when": "2020-07-05"}
AS_WRITTEN = {
    "id": "A-1",
    "age": "30,5",
    "port": "02134",
    "member": "No",
    "name": " Ann ",
    "when": "05/07/2020",
    "notes": "anything",
    "survived": "yes",
}


def _plain(columns: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    return {k: v.tolist() for k, v in columns.items()}


def test_records_become_the_columns_the_contract_reads() -> None:
    parsed = SCHEMA.from_records([ROW, {**ROW, "age": None, "member": "sí", "when": None}])
    columns = parsed.columns
    assert columns["age"].dtype == np.float64 and math.isnan(columns["age"][1])
    assert columns["port"].tolist() == ["02134", "02134"]
    assert columns["member"].tolist() == [False, True]
    assert columns["when"].dtype == np.dtype("datetime64[ns]")
    assert pd.Timestamp(columns["when"][0]) == pd.Timestamp("2020-07-05")
    assert np.isnat(columns["when"][1])
    assert parsed.ids == {"id": [None, None]}


def test_a_row_as_written_in_the_file_reads_as_its_plain_json_form() -> None:
    written = SCHEMA.from_records([AS_WRITTEN])
    assert _plain(written.columns) == _plain(SCHEMA.from_records([ROW]).columns)
    assert written.ids == {"id": ["A-1"]}
    conformed = CONTRACT.apply(pd.DataFrame([AS_WRITTEN]))
    for name in SCHEMA.names:  # what batch scoring gives the pipeline
        assert written.columns[name].tolist() == conformed[name].to_numpy().tolist()


@pytest.mark.parametrize("spelling", [False, "false", "False", " FALSE ", 0, 0.0, "0", "no"])
def test_every_spelling_of_a_boolean_is_one_value(spelling: object) -> None:
    assert SCHEMA.from_records([{**ROW, "member": spelling}]).columns["member"].tolist() == [False]


@pytest.mark.parametrize(
    ("record", "needle"),
    [
        ({**ROW, "age": "old"}, "row 0, column 'age': expected a number (decimal ','"),
        ({**ROW, "age": True}, "column 'age': expected a number, got True"),
        ({**ROW, "age": 10**400}, "too large"),
        ({**ROW, "age": float("inf")}, "not finite or too large"),
        ({**ROW, "age": 1e301}, "not finite or too large"),
        ({**ROW, "member": "maybe"}, "column 'member': expected a boolean (0/1/false/no/sí/true)"),
        ({**ROW, "member": 2}, "column 'member': expected a boolean"),
        ({**ROW, "when": "not a date"}, "column 'when': expected a date (%d/%m/%Y or ISO 8601"),
        ({**ROW, "when": "07/31/2020"}, "got '07/31/2020'"),
        ({**ROW, "when": "31/12/9999"}, "'31/12/9999' is outside the dates a model reads"),
        ({**ROW, "port": [1]}, "column 'port': expected a string, number or boolean"),
        ({k: v for k, v in ROW.items() if k != "age"}, "missing 1 column(s): 'age'"),
        ({**ROW, "colour": "red"}, "unknown column 'colour'; the model knows: 'id', 'age'"),
    ],
)
def test_bad_values_and_columns_are_named(record: dict[str, object], needle: str) -> None:
    with pytest.raises(PredictionInputError) as caught:
        SCHEMA.from_records([record])
    assert needle in str(caught.value)


def test_every_problem_of_a_request_is_named_with_its_row_and_column() -> None:
    with pytest.raises(PredictionInputError) as caught:
        SCHEMA.from_records([{**ROW, "member": "maybe"}, {**ROW, "when": "x", "colour": 1}])
    locations = [e.location for e in caught.value.errors]  # type: ignore[attr-defined]
    assert locations == [(0, "member"), (1, "colour"), (1, "when")]


def test_row_limit_and_empty_requests() -> None:
    with pytest.raises(RowsTooMany, match="at most 3"):
        SCHEMA.from_records([ROW] * 4)
    with pytest.raises(PredictionInputError, match="no rows"):
        SCHEMA.from_records([])


def test_split_mapping_lists_and_matrix_agree_with_records() -> None:
    expected = _plain(SCHEMA.from_records([AS_WRITTEN]).columns)
    names, file_order = SCHEMA.names, list(AS_WRITTEN)
    values = [AS_WRITTEN[n] for n in names]
    written = list(AS_WRITTEN.values())
    for parsed in (
        SCHEMA.from_split(names, [values]),
        SCHEMA.from_split(file_order, [written]),
        SCHEMA.from_mapping({n: [AS_WRITTEN[n]] for n in file_order}),
        SCHEMA.from_lists([values]),  # the model's order
        SCHEMA.from_lists([written]),  # the training file's order
        SCHEMA.from_matrix(values, 1),
        SCHEMA.from_matrix(written, 1),
    ):
        assert _plain(parsed.columns) == expected
    assert SCHEMA.from_split(file_order, [written]).ids == {"id": ["A-1"]}
    with pytest.raises(PredictionInputError, match="row 0 has 4 values for 5 columns"):
        SCHEMA.from_split(names, [values[:4]])
    with pytest.raises(PredictionInputError, match="neither the model's 5 features"):
        SCHEMA.from_lists([values[:4]])
    with pytest.raises(PredictionInputError, match="unknown column 'colour'"):
        SCHEMA.from_split([*names, "colour"], [[*values, "red"]])
    with pytest.raises(PredictionInputError, match="unknown column 'colour'"):
        SCHEMA.from_mapping({**{n: [AS_WRITTEN[n]] for n in names}, "colour": ["red"]})
    with pytest.raises(PredictionInputError, match="'age' is given twice"):
        SCHEMA.from_split([*names, "age"], [[*values, 1]])


NUMBER_RULES = (
    CONTRACT.rule("age"),  # decimal ',' and thousands '.': no text shortcut
    ColumnRule("plain", "number"),
    ColumnRule("comma", "number", decimal=","),
    ColumnRule("percent", "number", decimal=",", affix="%"),
)


@given(
    st.sampled_from(NUMBER_RULES),
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(),
        st.integers().map(str),
        st.booleans(),
        st.none(),
        st.text(max_size=12),
        st.sampled_from(
            [
                "1.234,5",
                "12,5",
                "-0,0",
                "1e5",
                " 7 ",
                "NA",
                "?",
                "1.234.567",
                "1e400",
                "+.5",
                "7.",
                "١٢",
                "12\n",
                "0x10",
                "1_000",
                "12%",
                "-",
                "nan",
                "Infinity",
                "2e-400",
            ]
        ),
    ),
)
def test_the_number_shortcut_answers_as_parse_value(rule: ColumnRule, value: object) -> None:
    try:
        expected: Any = rule.parse_value(value)
    except ValueError as exc:
        with pytest.raises(ValueError) as caught:
            rule.reader()(value)
        assert str(caught.value) == str(exc)
        return
    got = rule.reader()(value)
    assert type(got) is type(expected)
    assert got == expected or (got is None and expected is None)


def test_the_openapi_record_says_what_each_column_accepts() -> None:
    record = json_schema(SCHEMA)
    assert record["required"] == SCHEMA.names
    assert list(record["properties"]) == list(AS_WRITTEN)
    assert record["properties"]["age"]["type"] == ["number", "string", "null"]
    assert "decimal ','" in record["properties"]["age"]["description"]
    member = record["properties"]["member"]["anyOf"]
    assert {"type": "integer", "enum": [0, 1]} in member and {"type": "boolean"} in member
    assert "%d/%m/%Y" in record["properties"]["when"]["description"]
    assert "echoed" in record["properties"]["id"]["description"]
    assert record["additionalProperties"] is False


def test_tokens_compare_every_configured_token() -> None:
    check = TokenCheck(["alpha", "beta"])
    assert check.allows("Bearer beta") and check.allows("bearer alpha")
    assert not check.allows("Bearer gamma") and not check.allows(None)
    assert not check.allows("Basic alpha") and not check.allows("Bearer")
    assert TokenCheck([]).allows(None)


def test_a_date_beyond_what_a_model_reads_is_refused_in_batch_too() -> None:
    # datetime64[ns] would wrap year 9999 around to 1815 without a word.
    with pytest.raises(DataContractError, match="row 2, column 'when': date '31/12/9999'"):
        CONTRACT.apply(pd.DataFrame({"when": ["05/07/2020", "31/12/9999"]}), first_row=1)
