"""Protocol bodies to rows: a CSV body is read as the training file was written."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from loopml.core.data.contract import ColumnRule, DataContract
from loopml.core.scoring import ColumnSpec
from loopml.errors import PredictionInputError
from loopml.serving.protocols import csv_columns, oip_columns
from loopml.serving.schema import InputSchema

RULES = (
    ColumnRule("id", "string", role="id"),
    ColumnRule("precio", "number", role="numeric", decimal=",", thousands="."),
    ColumnRule("región", "string", role="categorical"),
    ColumnRule("clase", "string", role="target"),
)
DIALECT = {"sep": ";", "decimal": ",", "thousands": ".", "encoding": "cp1252", "quotechar": '"'}
SCHEMA = InputSchema(
    [ColumnSpec("precio", "numeric"), ColumnSpec("región", "categorical")],
    DataContract(target="clase", columns=RULES, dialect=DIALECT),
    max_rows=10,
)
EXPECTED = {"precio": [1234.5, 9.48], "región": ["León", "Cádiz"]}


def _plain(parsed: Any) -> dict[str, list[Any]]:
    return {k: v.tolist() for k, v in parsed.columns.items()}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("id;precio;región;clase\n7;1.234,5;León;alta\n8;9,48;Cádiz;\n".encode(), "text/csv"),
        ("\ufeffid;precio;región\r\n7;1.234,5;León\r\n8;9,48;Cádiz\r\n".encode(), "text/csv"),
        ("id;precio;región\n7;1.234,5;León\n8;9,48;Cádiz\n".encode("cp1252"), "text/csv"),
        (
            "id;precio;región\n7;1.234,5;León\n8;9,48;Cádiz\n".encode("latin-1"),
            "text/csv; charset=latin-1",
        ),
        ('id,precio,región\n7,"1.234,5",León\n8,"9,48",Cádiz\n'.encode(), "text/csv"),
    ],
    ids=["as-written", "bom-crlf", "training-encoding", "charset", "comma-separated"],
)
def test_a_csv_body_is_read_as_the_training_file(body: bytes, content_type: str) -> None:
    parsed = csv_columns(body, content_type, SCHEMA)
    assert _plain(parsed) == EXPECTED
    assert parsed.ids == {"id": ["7", "8"]}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"", "the CSV body is empty"),
        (b"precio;color\n1;rojo\n", "unknown column 'color'; the model knows: 'id', 'precio'"),
        (b"precio;regi\xc3\xb3n\n1;a;b\n", "row 0 has 3 values for 2 columns"),
        (b"precio;regi\xc3\xb3n\n1,2,3;a\n", "row 0, column 'precio': expected a number"),
        # a lone carriage return inside the first line (schemathesis found a 500 here)
        (b"\r\xc3\x89*\xc2\x97;x\x0c\n1;2\n", "unknown column '\u00c9*"),
    ],
)
def test_a_bad_csv_body_is_named(body: bytes, needle: str) -> None:
    with pytest.raises(PredictionInputError) as caught:
        csv_columns(body, "text/csv", SCHEMA)
    assert needle in str(caught.value)


def test_a_body_in_neither_encoding_says_how_to_send_it() -> None:
    utf8_only = InputSchema(SCHEMA.columns, DataContract("clase", RULES, {"sep": ";"}), 10)
    with pytest.raises(PredictionInputError, match="not utf-8-sig text; send UTF-8 or name"):
        csv_columns("precio;región\n1;León\n".encode("cp1252"), "text/csv", utf8_only)


def test_open_inference_inputs_by_column_and_one_tensor_in_either_order() -> None:
    by_column = {
        "inputs": [
            {"name": "id", "shape": [1], "datatype": "BYTES", "data": ["7"]},
            {"name": "precio", "shape": [1], "datatype": "BYTES", "data": ["1.234,5"]},
            {"name": "región", "shape": [1], "datatype": "BYTES", "data": ["León"]},
        ]
    }
    file_order = ["7", "1.234,5", "León", "alta"]
    tensors = [
        {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "data": [1234.5, "León"]}]},
        {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "BYTES", "data": file_order}]},
    ]
    for body in (by_column, *tensors):
        parsed, _ = oip_columns(orjson.dumps(body), SCHEMA)
        assert _plain(parsed) == {"precio": [1234.5], "región": ["León"]}
    twice = {"inputs": [*by_column["inputs"], by_column["inputs"][1]]}
    with pytest.raises(PredictionInputError, match="'precio' is given twice"):
        oip_columns(orjson.dumps(twice), SCHEMA)
    wide = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "BYTES", "data": [1, 2, 3]}]}
    with pytest.raises(PredictionInputError, match=r"shape \[rows, 2 or 4\]"):
        oip_columns(orjson.dumps(wide), SCHEMA)


@pytest.mark.parametrize(
    ("classes", "datatype"),
    [(np.array([0, 1]), "INT64"), (["benign", "malignant"], "BYTES")],
)
def test_open_inference_metadata_declares_the_predictions_datatype_infer_answers_with(
    classes: Any, datatype: str
) -> None:
    from loopml.serving.engine import Scored
    from loopml.serving.protocols import oip_metadata, oip_response

    declared = oip_metadata("m", "1", [], list(classes), regression=False)
    predicted = np.asarray(classes)[[1, 0, 1]]
    scored = Scored(predicted, None, np.zeros(3, dtype=bool))
    answered = orjson.loads(oip_response(scored, "m", "1", "r", regression=False))
    assert declared["outputs"][0] == {"name": "predictions", "datatype": datatype, "shape": [-1]}
    assert answered["outputs"][0]["datatype"] == datatype
