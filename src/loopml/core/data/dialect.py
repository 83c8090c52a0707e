"""How a CSV file is written: delimiter, decimal mark, thousands separator, encoding.

Detected from the file itself unless ``data.csv`` sets a field; what was detected is said in
one line (``CsvDialect.describe``), naming the setting that changes it.

Who does what, and why:

- **Encoding**: charset-normalizer (a dependency of requests, so already installed and well
  kept) reads the first bytes and chooses among UTF-8, UTF-8 with a byte-order mark,
  UTF-16 with a mark, cp1252 and latin-1. Guessing encodings by hand is a known trap (every
  byte string decodes as latin-1); the library measures how plausible each decoding is.
  The chosen encoding is then checked on the whole of a local file: a UTF-8 guess that
  fails further down falls back to cp1252, then latin-1 (which decodes any byte).
- **Delimiter and quote character**: the standard library's ``csv.Sniffer``, restricted to
  ``,`` ``;`` tab and ``|``, on the first lines; its answer is kept only if every line then
  has the header's number of fields, else the candidate that gives a constant count wins.
  clevercsv would sniff harder cases, but it is one more compiled dependency for files the
  Sniffer plus the field-count check already read right.
- **Decimal mark and thousands separator**: no library guesses these, so this module reads
  the cells of the sample: ``9,48`` or ``1.234,56`` say decimal comma, ``1,234.56`` and
  ``0.25`` say decimal point, ``1 234,56`` a space for thousands. A cell holding a comma in a
  comma-separated file was quoted (otherwise it would be two cells), so a decimal comma is
  never guessed there from unquoted cells. Cells like ``1,234`` or ``1.500`` alone are
  ambiguous and decide only when nothing else does.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING, Any

from loopml.errors import DataError, DataValidationError

if TYPE_CHECKING:
    from loopml.config import CsvConfig

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 64 * 1024
_SNIFF_LINES = 200
_CHUNK = 1024 * 1024
# charset-normalizer's names for the encodings a spreadsheet export is written in.
_CANDIDATES = ["utf_8", "utf_16", "cp1252", "latin_1"]
_PYTHON_NAMES = {"utf_8": "utf-8", "ascii": "utf-8", "latin_1": "latin-1", "utf_16": "utf-16"}
_FALLBACKS = ("cp1252", "latin-1")


@dataclass(frozen=True)
class CsvDialect:
    """The way one CSV file is written.

    ``decimal`` and ``thousands`` are not applied when the file is read (every cell is
    read as the text written); the data contract applies them to the columns of numbers.
    ``detected`` names the fields that were guessed rather than set in ``data.csv``.
    ``line_ending`` is what the file uses (``"\\n"``, ``"\\r\\n"`` or ``"\\r"``); the csv
    module and pandas read all three, so it is reported, not set. ``skip_rows`` is 1 when
    the file starts with Excel's ``sep=;`` line, which names the delimiter and is not the
    header (pass it to the reader as ``skiprows``).

    Parameters
    ----------
    sep : str, default ","
        The delimiter: one of ``DELIMITERS``.
    decimal : str, default "."
        The decimal mark.
    thousands : str, default ""
        The thousands separator itself ("" for none), e.g. ",", ".", "'" or a
        (no-break) space character.
    encoding : str, default "utf-8"
        A Python codec name.
    detected : tuple of str, default ()
        Among "sep", "decimal", "thousands", "encoding".
    quotechar : str, default '"'
    line_ending : str, default newline
    skip_rows : int, default 0
    """

    sep: str = ","
    decimal: str = "."
    thousands: str = ""
    encoding: str = "utf-8"
    detected: tuple[str, ...] = field(default_factory=tuple)
    quotechar: str = '"'
    line_ending: str = "\n"
    skip_rows: int = 0

    def describe(self, source: str) -> str:
        """One line: what was read and, for guessed fields, the setting that changes them.

        Parameters
        ----------
        source : str
            The file, as named in the line.

        Returns
        -------
        str
        """
        parts = [f"{self.sep!r}-separated", f"decimal {self.decimal!r}"]
        if self.thousands:
            parts.append(f"thousands {self.thousands!r}")
        parts.append(f"encoding {self.encoding}")
        line = f"read {source} as {', '.join(parts)}"
        if self.detected:
            keys = ", ".join(f"data.csv.{name}" for name in self.detected)
            line += f" (detected; set {keys} to change)"
        return line

    def as_dict(self) -> dict[str, Any]:
        """The fields except ``detected``, as a plain dict (stored in the data contract).

        Returns
        -------
        dict of str to Any
        """
        return {k: v for k, v in asdict(self).items() if k != "detected"}


def detect(source: str, csv: CsvConfig | None = None) -> CsvDialect:
    """How ``source`` (a local path or an fsspec URL) is written; ``csv`` fields win.

    Reads the first 64 KiB (``SAMPLE_BYTES``; and, for a local file whose encoding was
    guessed or set, every byte once, to check it decodes). Encoding by charset-normalizer,
    delimiter and quote character by ``csv.Sniffer`` checked by a constant field count,
    decimal mark and thousands separator by ``number_format``.

    Parameters
    ----------
    source : str
    csv : loopml.config.CsvConfig, optional
        The ``data.csv`` section: ``sep``, ``decimal``, ``thousands`` and ``encoding`` that
        are set are used as they are.

    Returns
    -------
    CsvDialect

    Raises
    ------
    loopml.errors.DataError
        The file cannot be opened, or its bytes do not decode in the encoding set in
        ``data.csv.encoding``.
    """
    sep, decimal, thousands, encoding = (
        (csv.sep, csv.decimal, csv.thousands, csv.encoding) if csv else (None, None, None, None)
    )
    sample = _head(source)
    detected = []
    if encoding is None:
        encoding = _check_or_fall_back(source, _guess_encoding(sample))
        detected.append("encoding")
    else:
        _check_decodes(source, encoding, declared=True)
    text = _decode_sample(sample, encoding)
    line_ending = _line_ending(text)
    lines = _whole_lines(text, truncated=len(sample) >= SAMPLE_BYTES)
    hint = _EXCEL_SEP.match(lines[0]) if lines else None
    if hint:
        lines = lines[1:]
    sniffed_sep, quotechar = _delimiter(lines, source)
    if hint and hint.group(1) in DELIMITERS:
        sniffed_sep = hint.group(1)
    if sep is None:
        sep = sniffed_sep
        detected.append("sep")
    rows = list(_reader(lines, sep, quotechar))
    if decimal is None or thousands is None:
        found_decimal, found_thousands = number_format(rows[1:], sep, decimal)
        if decimal is None:
            decimal = found_decimal
            detected.append("decimal")
        if thousands is None:
            thousands = found_thousands if found_thousands != decimal else ""
            detected.append("thousands")
    order = ("sep", "decimal", "thousands", "encoding")
    return CsvDialect(
        sep=sep,
        decimal=decimal,
        thousands=thousands,
        encoding=encoding,
        detected=tuple(name for name in order if name in detected),
        quotechar=quotechar,
        line_ending=line_ending,
        skip_rows=1 if hint else 0,
    )


def header_names(source: str, dialect: CsvDialect) -> list[str]:
    """The column names of ``source``: its first record, read in ``dialect``, as written.

    Parameters
    ----------
    source : str
        A local path or an fsspec URL.
    dialect : CsvDialect

    Returns
    -------
    list of str

    Raises
    ------
    loopml.errors.DataValidationError
        A name appears twice (a silent ``outcome.1`` could put a copy of the target among
        the features).
    loopml.errors.DataError
        The file is empty or cannot be opened, its header is not CSV in ``dialect`` (e.g.
        a stray quote or carriage return), or its bytes do not decode in
        ``dialect.encoding``.
    """
    try:
        with _open(source) as raw:
            text = io.TextIOWrapper(raw, encoding=dialect.encoding, newline="")
            rows = csv.reader(text, delimiter=dialect.sep, quotechar=dialect.quotechar)
            for _ in range(dialect.skip_rows):
                next(rows, None)
            header = next(rows, [])
    except csv.Error as exc:
        raise DataError(
            f"{source}: the header line cannot be read as CSV ({exc}); check data.csv.sep"
        ) from None
    except UnicodeDecodeError:
        _check_decodes(source, dialect.encoding, declared="encoding" not in dialect.detected)
        raise  # _check_decodes found the bad byte and raised; this line is for the type checker
    if not header:
        raise DataError(f"{source}: the file is empty; it needs a header and rows")
    _refuse_repeats(source, header)
    return header


def _refuse_repeats(source: str, header: list[str]) -> None:
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(header, start=1):
        positions.setdefault(name, []).append(number)
    for name, where in positions.items():
        if len(where) > 1:
            times = "twice" if len(where) == 2 else f"{len(where)} times"
            columns = ", ".join(str(n) for n in where[:-1]) + f" and {where[-1]}"
            raise DataValidationError(
                f"{source}: column {name!r} appears {times} (columns {columns}); rename or drop "
                "one — a copy of the target must never become a feature"
            )


# --- bytes and encodings ---------------------------------------------------------------


@contextmanager
def _open(source: str) -> Iterator[IO[bytes]]:
    try:
        if "://" in source:
            import fsspec

            with fsspec.open(source, "rb") as remote:
                yield remote
        else:
            with open(source, "rb") as local:
                yield local
    except FileNotFoundError:
        raise DataError(f"{source}: no such file; check data.source") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise DataError(f"{source}: cannot open ({exc.strerror}); check data.source") from None


def _head(source: str) -> bytes:
    with _open(source) as raw:
        return raw.read(SAMPLE_BYTES)


def _guess_encoding(sample: bytes) -> str:
    """charset-normalizer's best reading of ``sample`` as a Python codec name."""
    import charset_normalizer

    if not sample:
        return "utf-8"
    best = charset_normalizer.from_bytes(sample, cp_isolation=_CANDIDATES).best()
    if best is None:
        return "latin-1"
    if best.encoding == "utf_8" and best.bom:
        return "utf-8-sig"
    return _PYTHON_NAMES.get(best.encoding, best.encoding)


def _check_or_fall_back(source: str, guess: str) -> str:
    """``guess`` if all of a local file decodes in it, else the first fallback that does."""
    for encoding in (guess, *(f for f in _FALLBACKS if f != guess)):
        if _first_bad_byte(source, encoding) is None:
            return encoding
    return "latin-1"  # unreachable: latin-1 decodes every byte


def _check_decodes(source: str, encoding: str, *, declared: bool) -> None:
    bad = _first_bad_byte(source, encoding)
    if bad is None:
        return
    offset, line, value = bad
    origin = "set in data.csv.encoding" if declared else "detected"
    raise DataError(
        f"{source}: byte 0x{value:02x} at byte offset {offset:,} (line {line:,}) does not decode "
        f"as {encoding} ({origin}); set data.csv.encoding to the file's encoding "
        "(e.g. cp1252 for a Windows export) or remove it to detect"
    )


def _first_bad_byte(source: str, encoding: str) -> tuple[int, int, int] | None:
    """(byte offset, 1-based line, byte) of the first byte that does not decode, or None.

    A remote file is checked on its first 64 KiB only; a local one on every byte.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    start, lines = 0, 1
    with _open(source) as raw:
        limit = None if "://" not in source else SAMPLE_BYTES
        while chunk := raw.read(_CHUNK if limit is None else limit):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=False)
            except UnicodeDecodeError as exc:
                offset = start - pending + exc.start
                before = chunk[: max(0, offset - start)]
                return offset, lines + before.count(b"\n"), (bytes(exc.object)[exc.start])
            start += len(chunk)
            lines += chunk.count(b"\n")
            if limit is not None:
                return None
        tail = decoder.getstate()[0]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return start - len(tail), lines, tail[0]
    return None


def _decode_sample(sample: bytes, encoding: str) -> str:
    """``sample`` as text; a character cut at its end is dropped."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return str(decoder.decode(sample, final=False))


# --- lines, delimiter, numbers -----------------------------------------------------------


def _line_ending(text: str) -> str:
    crlf = text.count("\r\n")
    counts = {"\r\n": crlf, "\r": text.count("\r") - crlf, "\n": text.count("\n") - crlf}
    ending, seen = max(counts.items(), key=lambda item: item[1])
    return ending if seen else "\n"


def _whole_lines(text: str, *, truncated: bool) -> list[str]:
    """The sample's lines, at most ``_SNIFF_LINES``, without a last line cut by the sample."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if truncated or lines[-1] == "":
        lines = lines[:-1]
    return lines[:_SNIFF_LINES]


def _reader(lines: list[str], sep: str, quotechar: str) -> Iterator[list[str]]:
    rows = csv.reader(io.StringIO("\n".join(lines)), delimiter=sep, quotechar=quotechar)
    return (row for row in rows if row)


def _delimiter(lines: list[str], source: str) -> tuple[str, str]:
    """The sniffed delimiter and quote character, kept only if the field count is constant.

    The double quote is tried first: every common writer (Excel, pandas, R) quotes with it,
    and the Sniffer takes text full of apostrophes ("p('a') = 0.1, …") for single-quoted."""
    default = "\t" if source.split("?")[0].lower().endswith(".tsv") else ","
    sniffed, quoted = None, '"'
    try:
        found = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters="".join(DELIMITERS))
        sniffed, quoted = found.delimiter, found.quotechar or '"'
    except csv.Error:
        pass  # no delimiter stands out: the field counts below decide
    for quotechar in dict.fromkeys(['"', quoted]):
        counts = {sep: _constant_count(lines, sep, quotechar) for sep in DELIMITERS}
        if sniffed in counts and counts[sniffed] > 1:
            return sniffed, quotechar
        constant = [(count, sep) for sep, count in counts.items() if count > 1]
        if constant:
            return max(constant)[1], quotechar
    return sniffed or default, '"'


def _constant_count(lines: list[str], sep: str, quotechar: str) -> int:
    """The number of fields of every row when it is the same for all, else 0."""
    sizes = {len(row) for row in _reader(lines, sep, quotechar)}
    return sizes.pop() if len(sizes) == 1 else 0


_SIGN = r"[+-]?"
_PATTERNS: tuple[tuple[re.Pattern[str], str | None, str | None], ...] = tuple(
    (re.compile(f"^{_SIGN}{body}$"), decimal, thousands)
    for body, decimal, thousands in (
        (r"\d{1,3}(?:\.\d{3})+,\d+", ",", "."),  # 1.234,56
        (r"\d{1,3}(?:,\d{3})+\.\d+", ".", ","),  # 1,234.56
        (r"\d{1,3}(?:\.\d{3}){2,}", ",", "."),  # 1.234.567
        (r"\d{1,3}(?:,\d{3}){2,}", ".", ","),  # 1,234,567
        (r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+,\d+", ",", "space"),  # 1 234,56
        (r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+\.\d+", ".", "space"),  # 1 234.56
        (r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+", None, "space"),  # 1 234
        (r"\d{1,3}(?:'\d{3})+(?:\.\d+)?", ".", "'"),  # 1'234.56
        (r"\d{1,3},\d{3}", None, None),  # 1,234: thousands or decimal; decided below
        (r"\d{1,3}\.\d{3}", None, None),  # 1.234: likewise
        (r"\d*,\d+", ",", None),  # 9,48
        (r"\d*\.\d+", ".", None),  # 0.25
    )
)
_SPACES = re.compile("[ \u00a0\u202f]")
# Excel writes "sep=;" as the first line of some exports to name the delimiter.
_EXCEL_SEP = re.compile(r"^\ufeff?sep=(.)\s*$")


def number_format(rows: list[list[str]], sep: str, decimal: str | None = None) -> tuple[str, str]:
    """The decimal mark and thousands separator the cells of ``rows`` are written with.

    Each column votes for the decimal mark its cells imply (``9,48`` or ``1.234,56``: a
    comma; ``0.25`` or ``1,234.56``: a point); cells like ``1,234`` alone are ambiguous and
    decide only when nothing else does.

    Parameters
    ----------
    rows : list of list of str
        Data rows (no header) as the csv module reads them with delimiter ``sep``.
    sep : str
        The delimiter (a comma-separated file makes an ambiguous ``1,234`` a thousand).
    decimal : str, optional
        When given, it is kept and only the thousands separator is found.

    Returns
    -------
    decimal : str
        "." or ",".
    thousands : str
        The separator character; "" when no cell groups its digits.
    """
    columns = [list(column) for column in zip(*rows, strict=False)]
    votes: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    ambiguous: Counter[str] = Counter()
    for column in columns:
        marks, seps = _column_marks(column, ambiguous)
        if len(marks) == 1:
            votes[marks.pop()] += 1
        groups.update(seps)
    if decimal is None:
        decimal = _decide_decimal(votes, ambiguous, sep)
    thousands = next((s for s, _ in groups.most_common() if s != decimal), "")
    other = "," if decimal == "." else "."
    if not thousands and ambiguous[other]:
        thousands = other  # 1.234 beside a decimal comma is a thousand, and 1,234 likewise
    return decimal, thousands


def _column_marks(column: list[str], ambiguous: Counter[str]) -> tuple[set[str], Counter[str]]:
    """The decimal marks the cells of one column imply, and its thousands separators."""
    marks: set[str] = set()
    seps: Counter[str] = Counter()
    for cell in column:
        text = cell.strip().removesuffix("%").rstrip()
        if not text or not text[-1].isdigit():
            continue
        for pattern, mark, sep in _PATTERNS:
            if pattern.match(text):
                if mark:
                    marks.add(mark)
                if sep == "space":
                    seps[_SPACES.search(text).group()] += 1  # type: ignore[union-attr]
                elif sep:
                    seps[sep] += 1
                elif mark is None:
                    ambiguous["," if "," in text else "."] += 1
                break
    return marks, seps


def _decide_decimal(votes: Counter[str], ambiguous: Counter[str], sep: str) -> str:
    """Most columns win; with no clear cell, ``1,234``-like cells mean a decimal comma in a
    file that is not comma-separated (a quoted ``"1,234"`` in a comma-separated file is
    more often an English thousand)."""
    if votes[","] != votes["."]:
        return "," if votes[","] > votes["."] else "."
    if ambiguous[","] and not ambiguous["."] and sep != ",":
        return ","
    return "."
