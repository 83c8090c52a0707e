"""Pre-training data checks and file ingestion: each failure is one clear line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.config import ColumnsConfig, DataConfig
from loopml.core.data import checks, ingest
from loopml.core.data.roles import ColumnRoles
from loopml.errors import DataError, DataValidationError


def data_config(**columns: list[str]) -> DataConfig:
    return DataConfig(
        source="/data/titanic.csv", target="survived", columns=ColumnsConfig(**columns)
    )


# check_columns_exist


def test_missing_target_suggests_the_close_column() -> None:
    frame = pd.DataFrame({"Survived": [0, 1], "age": [1, 2]})
    with pytest.raises(DataValidationError) as info:
        checks.check_columns_exist(frame, data_config(), None)

    message = str(info.value)
    assert "data.target 'survived'" in message
    assert "/data/titanic.csv" in message
    assert "did you mean 'Survived'?" in message


def test_missing_declared_column_names_its_role_key() -> None:
    frame = pd.DataFrame({"survived": [0, 1], "age": [1, 2]})
    with pytest.raises(DataValidationError, match=r"data\.columns\.numeric 'fare'"):
        checks.check_columns_exist(frame, data_config(numeric=["fare"]), None)


def test_missing_time_column_is_named() -> None:
    frame = pd.DataFrame({"survived": [0, 1], "age": [1, 2]})
    with pytest.raises(DataValidationError, match=r"split\.time_column 'when'"):
        checks.check_columns_exist(frame, data_config(), "when")


def test_present_columns_pass() -> None:
    frame = pd.DataFrame({"survived": [0, 1], "fare": [1.0, 2.0], "when": ["a", "b"]})
    checks.check_columns_exist(frame, data_config(numeric=["fare"]), "when")


# check_target


def test_one_class_target_is_rejected_naming_the_class() -> None:
    frame = pd.DataFrame({"x": range(5), "survived": ["yes"] * 5})
    with pytest.raises(DataValidationError) as info:
        checks.check_target(frame, "survived", "classification")

    message = str(info.value)
    assert "one class ('yes')" in message
    assert "all 5 rows" in message


def test_rows_without_label_are_dropped_with_a_counting_warning() -> None:
    frame = pd.DataFrame({"x": range(6), "survived": [0, 1, None, 0, None, 1]})
    kept, warnings = checks.check_target(frame, "survived", "classification")

    assert list(kept["x"]) == [0, 1, 3, 5]
    assert kept["survived"].notna().all()
    assert warnings == ["target 'survived': dropped 2 rows with no label"]


def test_padded_labels_are_stripped_and_blank_ones_are_missing() -> None:
    labels = ["up"] * 40 + ["up "] * 30 + ["down"] * 60 + [" "] * 5
    frame = pd.DataFrame({"x": range(len(labels)), "move": labels})

    kept, warnings = checks.check_target(frame, "move", "classification")

    assert kept["move"].value_counts().to_dict() == {"up": 70, "down": 60}
    assert kept["x"].tolist() == list(range(130))  # the five blank ones were dropped
    assert warnings == [
        "target 'move': 30 labels had surrounding spaces (e.g. 'up '); they are read without "
        "them ('up')",
        "target 'move': dropped 5 rows with no label",
    ]


def test_labels_without_padding_are_left_alone_and_numbers_too() -> None:
    frame = pd.DataFrame({"move": ["up", "down", None, "up"], "n": [1, 2, 3, 4]})

    kept, warnings = checks.check_target(frame, "move", "classification")
    numbers, none = checks.check_target(frame, "n", "classification")

    assert kept["move"].tolist() == ["up", "down", "up"]
    assert warnings == ["target 'move': dropped 1 rows with no label"]
    assert numbers["n"].tolist() == [1, 2, 3, 4] and none == []


def test_complete_target_gives_no_warning() -> None:
    frame = pd.DataFrame({"x": range(4), "survived": [0, 1, 0, 1]})
    kept, warnings = checks.check_target(frame, "survived", "classification")

    assert len(kept) == 4
    assert warnings == []


def test_target_without_any_value_is_rejected() -> None:
    frame = pd.DataFrame({"x": range(3), "survived": [None, None, None]})
    with pytest.raises(DataValidationError, match="has no values"):
        checks.check_target(frame, "survived", "classification")


def test_text_target_for_regression_is_rejected() -> None:
    frame = pd.DataFrame({"x": range(3), "price": ["cheap", "dear", "cheap"]})
    with pytest.raises(DataValidationError) as info:
        checks.check_target(frame, "price", "regression")

    message = str(info.value)
    assert "'price' is not numeric" in message
    assert "'cheap'" in message
    assert "data.task: classification" in message


def test_numeric_target_for_regression_passes() -> None:
    frame = pd.DataFrame({"x": range(3), "price": [1.5, 2.5, 3.5]})
    kept, _ = checks.check_target(frame, "price", "regression")

    assert len(kept) == 3


# check_roles


def test_declared_numeric_column_with_words_names_column_count_and_example() -> None:
    frame = pd.DataFrame({"age": ["22", "unknown", "35", "unknown", None]})
    with pytest.raises(DataValidationError) as info:
        checks.check_roles(frame, ColumnRoles(numeric=("age",)))

    message = str(info.value)
    assert "'age'" in message
    assert "declared numeric" in message
    assert "2 values" in message
    assert "'unknown'" in message


def test_numbers_written_as_strings_pass_numeric_check() -> None:
    frame = pd.DataFrame({"age": ["22", "3.5", None], "when": ["2020-01-01", "2021-06-30", None]})
    checks.check_roles(frame, ColumnRoles(numeric=("age",), datetime=("when",)))


def test_declared_datetime_column_with_non_dates_is_rejected() -> None:
    frame = pd.DataFrame({"when": ["2020-01-01", "someday", "2021-01-01"]})
    with pytest.raises(DataValidationError, match=r"'when' is declared datetime.*'someday'"):
        checks.check_roles(frame, ColumnRoles(datetime=("when",)))


# describe_frame


def test_duplicate_rows_give_a_warning_with_count() -> None:
    frame = pd.DataFrame({"a": [1, 1, 2, 3], "b": ["x", "x", "y", "z"]})
    warnings = checks.describe_frame(frame, ColumnRoles(numeric=("a",), categorical=("b",)))

    assert len(warnings) == 1
    assert warnings[0].startswith("1 duplicate rows (25.0%)")


def test_no_duplicates_no_warning() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "x", "y"]})

    assert checks.describe_frame(frame, ColumnRoles(numeric=("a",))) == []


def test_inferred_id_column_gets_a_warning_but_declared_one_does_not() -> None:
    frame = pd.DataFrame({"pid": [1, 2, 3], "ref": [4, 5, 6]})
    roles = ColumnRoles(id=("pid", "ref"), inferred={"pid": "id (unique per row)"})
    warnings = checks.describe_frame(frame, roles)

    assert len(warnings) == 1
    assert "'pid' looks like an id" in warnings[0]


# check_leakage


def leak_frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    target = rng.choice(["died", "lived", "missing"], size=n)
    codes = pd.Series(target).map({"died": 0, "lived": 1, "missing": 2})
    noisy = np.where(rng.random(n) < 0.8, codes, rng.integers(0, 3, n))
    return pd.DataFrame(
        {
            "status_code": codes,
            "signal": noisy + rng.normal(0, 0.1, n),
            "noise": rng.normal(size=n),
            "fate": target,
        }
    )


def test_copy_of_the_target_is_reported_as_leak() -> None:
    frame = leak_frame()
    roles = ColumnRoles(numeric=("status_code", "signal", "noise"))
    with pytest.raises(DataValidationError) as info:
        checks.check_leakage(frame, "fate", "classification", roles)

    message = str(info.value)
    assert "'status_code'" in message
    assert "'signal'" not in message
    assert "'noise'" not in message
    assert "data.columns.ignore" in message


def test_noisy_predictive_column_is_not_a_leak() -> None:
    frame = leak_frame()
    roles = ColumnRoles(numeric=("signal", "noise"))

    checks.check_leakage(frame, "fate", "classification", roles)


def test_categorical_copy_of_the_target_is_reported_as_leak() -> None:
    frame = leak_frame()
    frame["fate_label"] = frame["fate"].str.upper()
    with pytest.raises(DataValidationError, match="'fate_label'"):
        checks.check_leakage(
            frame, "fate", "classification", ColumnRoles(categorical=("fate_label",))
        )


def test_scaled_copy_of_a_regression_target_is_a_leak() -> None:
    rng = np.random.default_rng(3)
    price = rng.uniform(10, 100, 300)
    frame = pd.DataFrame(
        {"price_cents": price * 100, "size": price + rng.normal(0, 20, 300), "price": price}
    )
    with pytest.raises(DataValidationError) as info:
        checks.check_leakage(
            frame, "price", "regression", ColumnRoles(numeric=("price_cents", "size"))
        )

    assert "'price_cents'" in str(info.value)
    assert "'size'" not in str(info.value)


# ingest


def test_read_file_on_missing_path_names_the_path(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.csv")
    with pytest.raises(DataError) as info:
        ingest.read_file(path)

    assert path in str(info.value)
    assert "no such file" in str(info.value)


def test_read_file_on_unknown_extension_names_the_path_and_known_types(tmp_path: Path) -> None:
    path = str(tmp_path / "data.xlsx")
    with pytest.raises(DataError) as info:
        ingest.read_file(path)

    message = str(info.value)
    assert path in message
    assert "'.xlsx'" in message
    assert ".csv" in message and ".parquet" in message


@pytest.mark.parametrize("content", ["", "\n"])
def test_empty_csv_says_the_file_is_empty(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(DataError) as info:
        ingest.read_file(str(path))

    assert str(path) in str(info.value)
    assert "the file is empty" in str(info.value)


def test_read_file_reads_csv_and_tsv(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,a\n2,b\n")
    (tmp_path / "a.tsv").write_text("x\ty\n1\ta\n2\tb\n")

    expected = pd.DataFrame({"x": [1, 2], "y": pd.Series(["a", "b"], dtype=object)})
    pd.testing.assert_frame_equal(ingest.read_file(str(tmp_path / "a.csv")), expected)
    pd.testing.assert_frame_equal(ingest.read_file(str(tmp_path / "a.tsv")), expected)


def test_fingerprint_is_equal_for_equal_frames_and_changes_with_a_value() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    same = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    changed = same.copy()
    changed.loc[2, "b"] = "Z"

    assert ingest.fingerprint(frame) == ingest.fingerprint(same)
    assert ingest.fingerprint(frame) != ingest.fingerprint(changed)


def test_fingerprint_changes_with_column_name_and_dtype() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})

    assert ingest.fingerprint(frame) != ingest.fingerprint(frame.rename(columns={"a": "b"}))
    assert ingest.fingerprint(frame) != ingest.fingerprint(frame.astype("float64"))


def test_fingerprint_ignores_the_index() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})

    assert ingest.fingerprint(frame) == ingest.fingerprint(frame.set_axis([7, 8, 9]))
