"""CSV files as spreadsheets and other tools write them: delimiter, decimal mark, encoding."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from loopml.config import CsvConfig, DataConfig
from loopml.core.data.dialect import CsvDialect, detect, header_names
from loopml.errors import DataError, DataValidationError


def write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


SPANISH = (
    "edad;región;ingresos;situación\n34;León;1.234,56;sí\n51;Cádiz;987,5;no\n29;Jaén;12,75;sí\n"
)


def test_a_semicolon_file_with_decimal_commas_in_cp1252_is_read_as_written(
    tmp_path: Path,
) -> None:
    source = write(tmp_path, "ventas.csv", SPANISH.encode("cp1252"))

    dialect = detect(source)

    assert (dialect.sep, dialect.decimal, dialect.thousands) == (";", ",", ".")
    assert dialect.encoding == "cp1252"
    assert header_names(source, dialect) == ["edad", "región", "ingresos", "situación"]
    assert dialect.describe(source).startswith(
        f"read {source} as ';'-separated, decimal ',', thousands '.', encoding cp1252 (detected;"
    )
    cells = pd.read_csv(
        source, sep=dialect.sep, encoding=dialect.encoding, dtype=str, keep_default_na=False
    )
    assert cells["región"].tolist() == ["León", "Cádiz", "Jaén"]
    assert cells["situación"].tolist() == ["sí", "no", "sí"]


def test_quoted_decimal_commas_in_a_comma_separated_file_mean_a_decimal_comma(
    tmp_path: Path,
) -> None:
    rows = ['"precio","peso","zona","clase"'] + [
        f'"9,{i:02d}","2,955","norte","baja"' for i in range(40)
    ]
    source = write(tmp_path, "q.csv", ("\n".join(rows) + "\n").encode())

    dialect = detect(source)

    assert (dialect.sep, dialect.decimal, dialect.encoding) == (",", ",", "utf-8")


def test_unquoted_commas_in_a_comma_separated_file_are_never_a_decimal_mark(
    tmp_path: Path,
) -> None:
    # Written 9,48 unquoted, the comma splits the cell: 5 fields, not a decimal comma.
    source = write(tmp_path, "u.csv", b"a,b,c\n9,48,x\n1,5,y\n")

    assert detect(source).decimal == "."


def test_a_byte_order_mark_is_utf8_sig_and_not_part_of_the_first_name(tmp_path: Path) -> None:
    source = write(tmp_path, "bom.csv", "\ufeffnombre,valor\nÁlvaro,1.5\n".encode())

    dialect = detect(source)

    assert dialect.encoding == "utf-8-sig"
    assert header_names(source, dialect) == ["nombre", "valor"]


@pytest.mark.parametrize(
    ("sep", "name"), [("\t", "t.tsv"), ("\t", "t.csv"), ("|", "p.csv"), (";", "s.csv")]
)
def test_tab_pipe_and_semicolon_are_found_whatever_the_suffix(
    tmp_path: Path, sep: str, name: str
) -> None:
    text = "\n".join(sep.join(row) for row in [["a", "b", "c"], ["1.5", "x,y", "3"]] * 3)
    source = write(tmp_path, name, text.encode())

    dialect = detect(source)

    assert dialect.sep == sep
    assert header_names(source, dialect) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("cells", "sep", "decimal", "thousands"),
    [
        (["1.234,56", "2.000,00"], ";", ",", "."),
        (['"1,234.56"', '"12,000.5"'], ",", ".", ","),
        (["1 234,56", "12 000,5"], ";", ",", " "),
        (["1\u00a0234,56", "2\u00a0000,5"], ";", ",", "\u00a0"),
        (["9,48", "2,955"], ";", ",", ""),
        (["0.25", "1234.5"], ",", ".", ""),
        (["1.234.567", "2,5"], ";", ",", "."),
    ],
)
def test_decimal_mark_and_thousands_separator_come_from_the_cells(
    tmp_path: Path, cells: list[str], sep: str, decimal: str, thousands: str
) -> None:
    lines = [f"n{sep}label"] + [f"{cell}{sep}x" for cell in cells * 5]
    source = write(tmp_path, "n.csv", ("\n".join(lines) + "\n").encode())

    dialect = detect(source)

    assert (dialect.sep, dialect.decimal, dialect.thousands) == (sep, decimal, thousands)


@pytest.mark.parametrize(("ending", "name"), [("\r\n", "crlf"), ("\r", "cr"), ("\n", "lf")])
def test_line_endings_are_found_and_every_row_is_read(
    tmp_path: Path, ending: str, name: str
) -> None:
    source = write(tmp_path, f"{name}.csv", ending.join(["a;b", "1,5;x", "2,5;y", ""]).encode())

    dialect = detect(source)

    assert dialect.line_ending == ending and dialect.sep == ";" and dialect.decimal == ","
    assert header_names(source, dialect) == ["a", "b"]
    cells = pd.read_csv(source, sep=dialect.sep, dtype=str, encoding=dialect.encoding)
    assert cells["a"].tolist() == ["1,5", "2,5"]


def test_each_field_set_in_data_csv_wins_and_is_not_called_detected(tmp_path: Path) -> None:
    source = write(tmp_path, "v.csv", SPANISH.encode("cp1252"))

    dialect = detect(source, CsvConfig(decimal=".", thousands="", encoding="latin-1"))

    assert (dialect.sep, dialect.decimal, dialect.thousands) == (";", ".", "")
    assert dialect.encoding == "latin-1"
    assert dialect.detected == ("sep",)
    assert dialect.describe(source).endswith("(detected; set data.csv.sep to change)")
    assert detect(source, CsvConfig(sep="tab")).sep == "\t"


def test_utf8_that_turns_into_cp1252_after_the_sample_falls_back_to_cp1252(
    tmp_path: Path,
) -> None:
    body = "a;b\n" + "1;plain\n" * 20_000 + "2;León\n"
    source = write(tmp_path, "late.csv", body.encode("cp1252"))

    assert detect(source).encoding == "cp1252"


def test_a_repeated_column_name_is_one_line_naming_it_and_its_positions(tmp_path: Path) -> None:
    source = write(tmp_path, "x.csv", b"x,outcome,y,outcome\n1,a,2,a\n")

    with pytest.raises(DataValidationError) as caught:
        header_names(source, detect(source))

    assert str(caught.value) == (
        f"{source}: column 'outcome' appears twice (columns 2 and 4); rename or drop one — "
        "a copy of the target must never become a feature"
    )


def test_bytes_that_do_not_decode_in_the_declared_encoding_name_offset_line_and_key(
    tmp_path: Path,
) -> None:
    source = write(tmp_path, "w.csv", SPANISH.encode("cp1252"))

    with pytest.raises(DataError) as caught:
        detect(source, CsvConfig(encoding="utf-8"))

    message = str(caught.value)
    offset = SPANISH.encode("cp1252").index("ó".encode("cp1252"))
    assert "\n" not in message
    assert message.startswith(
        f"{source}: byte 0xf3 at byte offset {offset} (line 1) does not decode as utf-8 "
        "(set in data.csv.encoding); set data.csv.encoding"
    )
    with pytest.raises(DataError, match=rf"byte offset {offset} \(line 1\)"):
        header_names(source, CsvDialect(sep=";", encoding="utf-8"))
    later = write(tmp_path, "l.csv", "a;b\n1;x\n2;sí\n".encode("cp1252"))
    with pytest.raises(DataError, match=r"byte 0xed at byte offset 11 \(line 3\)"):
        detect(later, CsvConfig(encoding="utf-8"))


def test_a_missing_or_empty_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        detect(str(tmp_path / "absent.csv"))
    empty = write(tmp_path, "empty.csv", b"")
    with pytest.raises(DataError, match="the file is empty"):
        header_names(empty, detect(empty))


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("sep", ":", "use ',', ';'"),
        ("decimal", ";", "use '.' or ','"),
        ("thousands", "_", "use '', '.'"),
        ("encoding", "utf-9", "not an encoding Python knows"),
    ],
)
def test_data_csv_refuses_unknown_values_in_one_line(key: str, value: str, fix: str) -> None:
    with pytest.raises(ValueError, match=fix):
        DataConfig(source="d.csv", target="y", csv={key: value})  # type: ignore[arg-type]


def test_commas_inside_text_cells_of_a_semicolon_file_do_not_make_it_comma_separated(
    tmp_path: Path,
) -> None:
    rows = "".join(f"{i};Calle Mayor, {i};{i},5\n" for i in range(30))
    source = write(tmp_path, "a.csv", f"id;dirección;importe\n{rows}".encode())

    dialect = detect(source)

    assert (dialect.sep, dialect.decimal) == (";", ",")
    assert header_names(source, dialect) == ["id", "dirección", "importe"]


def test_excels_sep_line_names_the_delimiter_and_is_skipped(tmp_path: Path) -> None:
    source = write(tmp_path, "e.csv", b"sep=;\r\nprecio;zona\r\n9,48;norte\r\n12,5%;sur\r\n")

    dialect = detect(source)

    assert (dialect.sep, dialect.decimal, dialect.skip_rows) == (";", ",", 1)
    assert header_names(source, dialect) == ["precio", "zona"]
    cells = pd.read_csv(source, sep=dialect.sep, skiprows=dialect.skip_rows, dtype=str)
    assert cells["precio"].tolist() == ["9,48", "12,5%"]


def test_a_header_the_csv_module_cannot_read_is_one_line_naming_the_file(tmp_path: Path) -> None:
    source = write(tmp_path, "huge.csv", b"a," + b"x" * 140_000 + b"\n1,2\n")

    with pytest.raises(DataError, match=r"huge.csv: the header line cannot be read as CSV \("):
        header_names(source, CsvDialect())


def test_text_full_of_apostrophes_keeps_the_double_quote(tmp_path: Path) -> None:
    """csv.Sniffer took this file (as pandas writes loopml data issues -o) for single-quoted,
    and the row with a quoted comma then had too many fields."""
    from loopml.core.data.ingest import read_file

    rows = [
        {"row": i, "given": "mlops", "reason": f"p('mlops') = 0.1{i}; the model says 'nlp'"}
        for i in range(60)
    ]
    rows[37]["reason"] += ", 'a', 'b'"
    path = tmp_path / "issues.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    frame = read_file(str(path))
    assert frame.shape == (60, 3)
    assert frame["reason"].iloc[37].endswith("'nlp', 'a', 'b'")
