"""Reading blocks elsewhere (Ray): text blocks typed by a contract learned from a sample."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from loopml.core.data import contract
from loopml.core.data.dialect import CsvDialect
from loopml.core.data.ingest import read_csv_text
from loopml.errors import DataContractError

CSV = """n;x;flag;city;when;zip
1;0,5;True;Oslo;2024-01-02;00123
2;;False;Rome;2024-02-03;?
3;1.001,25;True;;2024-03-04;04500
"""
DIALECT = CsvDialect(sep=";", decimal=",", thousands=".")


@pytest.fixture
def whole(tmp_path: Path) -> pd.DataFrame:
    """Every cell as the text written, ``""`` when blank: what Ray's reader hands over."""
    source = tmp_path / "rows.csv"
    source.write_text(CSV, encoding="utf-8")
    return read_csv_text(str(source), DIALECT)


def learned(frame: pd.DataFrame) -> contract.DataContract:
    return contract.learn(frame, target="", decimal=",", thousands=".")


def test_each_text_block_typed_by_the_samples_contract_equals_the_whole_file_typed(
    whole: pd.DataFrame,
) -> None:
    read = learned(whole)

    blocks = [read.apply(whole.iloc[i : i + 1], first_row=None) for i in range(len(whole))]

    typed = read.apply(whole)
    assert typed["x"].tolist()[0] == 0.5 and typed["x"].tolist()[2] == 1001.25
    assert typed["zip"].tolist() == ["00123", None, "04500"]  # codes keep their zeros
    assert str(typed["when"].dtype) == "datetime64[ns]" and typed["flag"].dtype == bool
    for i, block in enumerate(blocks):
        pd.testing.assert_frame_equal(block, typed.iloc[i : i + 1], check_dtype=False)
        assert block["x"].dtype == "float64" and block["when"].dtype == typed["when"].dtype


def test_a_gap_in_an_integer_column_makes_the_block_float_and_junk_names_the_column(
    whole: pd.DataFrame,
) -> None:
    read = learned(whole)
    block = pd.DataFrame({"n": ["1", "", "4"]})

    assert read.apply(block)["n"].isna().tolist() == [False, True, False]
    assert read.apply(block)["n"].dtype == "float64"
    with pytest.raises(DataContractError, match=r"^a row, column 'n': .*'seven'"):
        read.apply(pd.DataFrame({"n": ["1", "seven"]}), first_row=None)


def test_arrow_backed_text_blocks_are_typed_like_numpy_backed_ones(whole: pd.DataFrame) -> None:
    read = learned(whole)

    arrow = whole.astype(pd.ArrowDtype(pa.string()))

    pd.testing.assert_frame_equal(read.apply(arrow), read.apply(whole))
