"""data: where the rows come from, the target, column roles and how a CSV is written."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator, model_validator

from loopml.config._base import _Strict


class ColumnsConfig(_Strict):
    """Column roles. Columns not named here are inferred and printed by `loopml run`."""

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)
    datetime: list[str] | dict[str, str] = Field(
        default_factory=list,
        description="Date columns; as {column: format} (e.g. {fecha: '%d/%m/%Y'}) to give "
        "the strptime format instead of learning it from the data.",
    )
    id: list[str] = Field(
        default_factory=list, description="Kept beside predictions, not a feature."
    )
    ignore: list[str] = Field(default_factory=list, description="Dropped before training.")

    def date_formats(self) -> dict[str, str]:
        """Column -> strptime format, for date columns declared with a format."""
        return dict(self.datetime) if isinstance(self.datetime, dict) else {}

    def declared(self) -> dict[str, str]:
        """Map each declared column to its role."""
        roles = ("numeric", "categorical", "text", "datetime", "id", "ignore")
        return {col: role for role in roles for col in getattr(self, role)}

    @model_validator(mode="after")
    def _one_role_each(self) -> ColumnsConfig:
        seen: dict[str, str] = {}
        for role in ("numeric", "categorical", "text", "datetime", "id", "ignore"):
            for col in getattr(self, role):
                if col in seen:
                    raise ValueError(f"column '{col}' is declared both {seen[col]} and {role}")
                seen[col] = role
        return self


_SEPARATORS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|"}


_THOUSANDS = ("", ".", ",", " ", "\u00a0", "\u202f", "'")


class CsvConfig(_Strict):
    """How a CSV file is written. Each key left out is detected from the file and said."""

    sep: str | None = Field(None, description="Delimiter: ',', ';', tab ('\\t' or tab) or '|'.")
    decimal: str | None = Field(None, description="Decimal mark of numbers: '.' or ','.")
    thousands: str | None = Field(
        None, description="Digit-group separator: '', '.', ',', ' ', a no-break space or \"'\"."
    )
    encoding: str | None = Field(None, description="Text encoding, e.g. utf-8, utf-8-sig, cp1252.")

    @field_validator("sep")
    @classmethod
    def _known_sep(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value not in _SEPARATORS:
            raise ValueError("use ',', ';', '\\t' (or tab) or '|', or leave it out to detect")
        return _SEPARATORS[value]

    @field_validator("decimal")
    @classmethod
    def _known_decimal(cls, value: str | None) -> str | None:
        if value not in (None, ".", ","):
            raise ValueError("use '.' or ',', or leave it out to detect")
        return value

    @field_validator("thousands")
    @classmethod
    def _known_thousands(cls, value: str | None) -> str | None:
        if value is not None and value not in _THOUSANDS:
            raise ValueError("use '', '.', ',', ' ' or \"'\", or leave it out to detect")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    "not an encoding Python knows; use e.g. utf-8, utf-8-sig, cp1252 or latin-1"
                ) from None
        return value

    @model_validator(mode="after")
    def _distinct_marks(self) -> CsvConfig:
        if self.decimal and self.decimal == self.thousands:
            raise ValueError(f"decimal and thousands are both {self.decimal!r}; set them apart")
        return self


class DataVariantConfig(_Strict):
    """A changed version of the training data: rows left out, labels corrected. The split is
    made on the unchanged data and the test rows stay as they are, so variants compare on
    the same test."""

    exclude_rows: str | None = Field(
        None,
        description="A CSV with a 'row' column (e.g. from loopml data issues -o): those rows "
        "are left out of training and validation.",
    )
    relabel: str | None = Field(
        None,
        description="A CSV with 'row' and the corrected label (a column named after the "
        "target, or 'suggested' as loopml data issues writes it): training and validation use it.",
    )

    @model_validator(mode="after")
    def _changes_something(self) -> DataVariantConfig:
        if self.exclude_rows is None and self.relabel is None:
            raise ValueError("a data variant needs exclude_rows, relabel or both")
        return self


class DataConfig(_Strict):
    source: str = Field(description="A .csv, .parquet, .jsonl file, or a SQLAlchemy URL.")
    query: str | None = Field(None, description="SQL query, required when source is a URL.")
    target: str = Field(description="The column to predict.")
    task: Literal["auto", "classification", "regression"] = "auto"
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    contract: str | None = Field(
        None,
        description="A data_contract.json whose reading rules (decimal mark, thousands "
        "separator, date formats, boolean words, signs) are kept for columns of the same "
        "kind; `loopml watch` sets it to the champion's when it retrains.",
    )
    csv: CsvConfig = Field(default_factory=CsvConfig)
    variants: dict[str, DataVariantConfig] = Field(
        default_factory=dict,
        description="Named changes of the training data (rows left out, labels corrected).",
    )
    variant: str | None = Field(
        None,
        description="Train on this variant of data.variants (--data-variant); the test rows "
        "are those of the unchanged data.",
    )

    def is_sql(self) -> bool:
        return "://" in self.source and not self.source.startswith(("file://", "s3://", "gs://"))

    @model_validator(mode="after")
    def _query_with_url(self) -> DataConfig:
        if self.is_sql() and not self.query:
            raise ValueError(f"source '{self.source}' is a database URL; add data.query: SELECT …")
        if self.variant is not None and self.variant not in self.variants:
            known = ", ".join(sorted(self.variants)) or "none declared"
            raise ValueError(
                f"data.variant '{self.variant}' is not in data.variants ({known}); declare it "
                "under data.variants with exclude_rows and/or relabel"
            )
        return self
