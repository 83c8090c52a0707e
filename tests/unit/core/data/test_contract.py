"""The data contract: kinds learned from the file as written, one parse for every entry point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.core.data.contract import ColumnRule, DataContract, learn
from loopml.errors import DataContractError, PredictionInputError


def text_frame(**columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})


def test_decimal_comma_with_thousands_reads_as_the_same_number_as_plain_json() -> None:
    frame = text_frame(precio=["15.250,00", "9,48", "1.234.567,5", "?"], y=["a", "b", "a", "b"])
    contract = learn(frame, target="y", decimal=",", thousands=".")
    rule = contract.rule("precio")

    assert rule.kind == "number"
    assert rule.parse_value("15.250,00") == rule.parse_value(15250.0) == 15250.0
    assert rule.parse_value("15250.0") == 15250.0  # plain machine form
    assert rule.parse_value("9,48") == 9.48
    typed = contract.apply(frame)["precio"]
    assert typed.tolist()[:3] == [15250.0, 9.48, 1234567.5]
    assert np.isnan(typed.iloc[3])
    assert rule.missing == {"?": 1}


def test_question_marks_keep_an_integer_column_numeric_and_are_counted() -> None:
    incomes = [str(1000 + i) for i in range(40)] + ["?"] * 6
    frame = text_frame(income=incomes, y=["a", "b"] * 23)
    contract = learn(frame, target="y")

    assert contract.rule("income").kind == "number"
    assert contract.apply(frame)["income"].isna().sum() == 6
    assert contract.warnings() == [
        "column 'income': read '?' ×6 as missing values (the column stays numeric)"
    ]


def test_codes_with_leading_zeros_stay_text() -> None:
    frame = text_frame(zip=["02134", "06520", "94103", "02134"], y=["a", "b", "a", "b"])
    rule = learn(frame, target="y").rule("zip")

    assert rule.kind == "string"
    assert rule.code
    assert "leading zeros" in rule.why
    assert rule.parse_value("02134") == "02134"
    assert rule.role_hint() == ("categorical", rule.why)


def test_boolean_spellings_agree_and_other_words_are_refused() -> None:
    frame = text_frame(is_member=["True", "False", "false", "TRUE"], y=["a", "b", "a", "b"])
    rule = learn(frame, target="y").rule("is_member")

    assert rule.kind == "boolean"
    assert {rule.parse_value(v) for v in (False, "false", "False", 0, "0", 0.0)} == {False}
    assert {rule.parse_value(v) for v in (True, "true", "TRUE", 1, "1")} == {True}
    with pytest.raises(ValueError, match=r"expected a boolean .* got 'maybe'"):
        rule.parse_value("maybe")


def test_yes_no_words_are_a_boolean_with_their_spelling() -> None:
    rule = learn(text_frame(ok=["yes", "no", "Yes"], y=["a", "b", "a"]), target="y").rule("ok")
    assert rule.kind == "boolean"
    assert rule.parse_value("YES") is True
    assert rule.parse_value(False) is False


def test_day_first_dates_are_learned_from_the_data_and_iso_agrees() -> None:
    dates = ["05/07/2023", "28/02/2023", "13/12/2022", "01/01/2023"]
    rule = learn(text_frame(fecha=dates, y=["a", "b", "a", "b"]), target="y").rule("fecha")

    assert rule.kind == "datetime"
    assert rule.date_format == "%d/%m/%Y"
    assert rule.parse_value("05/07/2023") == rule.parse_value("2023-07-05")
    assert rule.parse_value("05/07/2023").month == 7
    with pytest.raises(ValueError, match="expected a date"):
        rule.parse_value("not a date")


def test_month_first_dates_when_the_second_part_exceeds_twelve() -> None:
    dates = ["07/05/2023", "02/28/2023", "12/13/2022"]
    rule = learn(text_frame(d=dates, y=["a", "b", "a"]), target="y").rule("d")
    assert rule.date_format == "%m/%d/%Y"
    assert rule.parse_value("07/05/2023").month == 7


def test_ambiguous_dates_say_which_was_chosen_and_the_setting_that_changes_it() -> None:
    rule = learn(text_frame(d=["05/07/2023", "01/02/2023"], y=["a", "b"]), target="y").rule("d")
    assert rule.date_format == "%d/%m/%Y"
    assert "data.columns.datetime: {d: '%m/%d/%Y'}" in rule.why


def test_a_declared_date_format_wins() -> None:
    frame = text_frame(d=["05/07/2023", "01/02/2023"], y=["a", "b"])
    rule = learn(frame, target="y", date_formats={"d": "%m/%d/%Y"}).rule("d")
    assert rule.parse_value("05/07/2023").month == 5


def test_a_value_that_does_not_read_names_row_column_and_value() -> None:
    contract = learn(text_frame(x=["1", "2"], y=["a", "b"]), target="y")
    rows = text_frame(x=["3", "4", "cheap"])

    with pytest.raises(DataContractError) as info:
        contract.apply(rows, source="score.csv", first_row=10)

    assert str(info.value) == (
        "score.csv: row 12, column 'x': expected a number (decimal '.'), got 'cheap'; "
        "send a number or leave it empty"
    )
    assert isinstance(info.value, PredictionInputError)  # HTTP 422 when served


def test_missing_markers_are_missing_in_every_kind() -> None:
    for kind in ("number", "boolean", "datetime", "string"):
        rule = ColumnRule("c", kind)  # type: ignore[arg-type]
        for marker in ("", "  ", "?", "-", "NA", "n/a", "#N/A", "NULL", "None", "nan", None):
            assert rule.parse_value(marker) is None, (kind, marker)


def test_typed_parquet_columns_take_the_fast_path_with_the_same_values() -> None:
    typed = pd.DataFrame({"x": [1.5, np.nan, 3.0], "b": [True, False, True], "y": [0, 1, 0]})
    contract = learn(typed, target="y")

    assert [r.kind for r in contract.columns] == ["number", "boolean", "number"]
    out = contract.apply(typed)
    assert out["y"].dtype == "int64"  # integer labels stay integers
    assert out["b"].tolist() == [True, False, True]


def test_json_lines_mixed_types_are_not_merged() -> None:
    rule = ColumnRule("c", "string")
    series = pd.Series([1, 1.0, True, "1", None], dtype=object)
    typed, bad, _ = rule.parse_series(series)
    assert bad is None
    assert typed.tolist() == ["1", "1", "True", "1", None]


def test_the_contract_round_trips_through_json() -> None:
    frame = text_frame(p=["1,5", "2,5"], d=["05/07/2023", "28/02/2023"], y=["a", "b"])
    contract = learn(frame, target="y", decimal=",").with_roles({"p": "numeric", "d": "datetime"})
    again = DataContract.from_dict(contract.as_dict())
    assert again == contract
    assert again.rule("y").role == "target"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=False, width=32),
            st.integers(-(10**9), 10**9),
            st.sampled_from(["?", "", " ", "NA", "1.234,5", "9,48", "-3", "x", "1e3"]),
            st.none(),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_a_column_reads_as_its_values_one_by_one(values: list[object]) -> None:
    """The frame path (``parse_series``) equals ``parse_value`` on each value, or fails on
    the first value that ``parse_value`` refuses."""
    rule = ColumnRule("c", "number", decimal=",", thousands=".")
    typed, bad, _ = rule.parse_series(pd.Series(values, dtype=object))
    expected = []
    for i, value in enumerate(values):
        try:
            expected.append(rule.parse_value(value))
        except ValueError:
            assert bad is not None and bad <= i
            return
    assert bad is None
    got = typed.tolist()
    for a, b in zip(got, expected, strict=True):
        assert (b is None and (a is None or a != a)) or a == b


def test_percentages_read_as_the_number_written_and_say_so() -> None:
    frame = text_frame(p=["12,5%", "3%", "100%", "0,5 %"], y=["a", "b", "a", "b"])
    rule = learn(frame, target="y", decimal=",").rule("p")
    assert rule.kind == "number" and rule.affix == "%"
    assert "'%'" in rule.why
    assert rule.parse_value("12,5%") == rule.parse_value(12.5) == 12.5


def test_a_column_that_is_mostly_numbers_says_why_it_is_text() -> None:
    values = [f"{v},5" for v in range(40)] + ["(12,5)", "(3,0)"]
    contract = learn(text_frame(p=values, y=["a", "b"] * 21), target="y", decimal=",")
    assert contract.rule("p").kind == "string"
    assert any("95% of its distinct values are numbers" in w for w in contract.warnings())


def test_currency_that_does_not_read_is_named_not_silently_categorical() -> None:
    values = [f"${v:,}.50" for v in range(1000, 1040)]
    contract = learn(text_frame(p=values, y=["a", "b"] * 20), target="y")
    (warning,) = contract.warnings()
    assert "looks like numbers (e.g. '$1,000.50')" in warning
    assert "data.csv.thousands" in warning


def test_iso_dates_mixed_with_the_file_format_are_dates() -> None:
    dates = ["2023-01-15", "16/01/2023", "2023-02-01", "28/02/2023"]
    rule = learn(text_frame(d=dates, y=["a", "b", "a", "b"]), target="y").rule("d")
    assert rule.kind == "datetime" and rule.date_format == "%d/%m/%Y"


def test_a_contract_learned_like_an_earlier_one_keeps_its_reading_rules() -> None:
    """Retraining on a typed snapshot: the new model reads '15.250,00' and '05/07/2023' as
    the champion did, though the snapshot holds floats and datetimes."""
    raw = text_frame(p=["15.250,00", "9,48"], d=["05/07/2023", "28/02/2023"], y=["a", "b"])
    champion = learn(raw, target="y", decimal=",", thousands=".")
    snapshot = champion.apply(raw)

    again = learn(snapshot, target="y", like=champion)

    assert again.rule("p").parse_value("15.250,00") == 15250.0
    assert again.rule("d").parse_value("05/07/2023").month == 7
    assert learn(snapshot, target="y").rule("d").date_format is None  # what it fixes
