"""Reading blocks elsewhere: ``conform`` gives them the types pandas gave the whole file."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa

from loopml.core.data.ingest import conform

CSV = """n,x,flag,city,when
1,0.5,True,Oslo,2024-01-02
2,,False,Rome,2024-02-03
3,1.25,True,,2024-03-04
"""


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text, missing cells as None: how Ray's CSV reader hands a block over."""
    return frame.astype(object).where(frame.notna(), None).map(lambda v: v if v is None else str(v))


def test_a_text_block_gets_the_types_pandas_read_the_file_with() -> None:
    whole = pd.read_csv(io.StringIO(CSV))
    block = as_text(pd.read_csv(io.StringIO(CSV), dtype=str))

    typed = conform(block, dict(whole.dtypes))

    pd.testing.assert_frame_equal(typed, whole)


def test_a_gap_or_a_fraction_in_an_integer_column_makes_it_float_and_junk_missing() -> None:
    block = pd.DataFrame({"n": ["1", None, "x"], "m": ["1", "2.5", "3"]})

    typed = conform(block, {"n": np.dtype("int64"), "m": np.dtype("int64")})

    assert typed["n"].dtype == "float64" and typed["n"].isna().tolist() == [False, True, True]
    assert typed["m"].tolist() == [1.0, 2.5, 3.0]


def test_columns_not_in_the_types_are_left_out_and_typed_blocks_pass_through() -> None:
    block = pd.DataFrame({"n": [1, 2], "extra": ["a", "b"], "t": pd.to_datetime(["2024", "2025"])})

    typed = conform(block, dict(block[["n", "t"]].dtypes))

    assert list(typed.columns) == ["n", "t"]
    pd.testing.assert_frame_equal(typed, block[["n", "t"]])


def test_arrow_backed_text_blocks_as_ray_hands_them_over_are_typed_too() -> None:
    whole = pd.read_csv(io.StringIO(CSV))
    block = pd.read_csv(io.StringIO(CSV), dtype=str).astype(pd.ArrowDtype(pa.string()))

    typed = conform(block, dict(whole.dtypes))

    pd.testing.assert_frame_equal(typed, whole)
