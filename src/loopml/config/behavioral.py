"""behavioral: the behavioral tests run by `loopml test` and the gate."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from loopml.config._base import _Strict

_CHANGE = re.compile(r"^[+\-*]\d+(?:\.\d+)?%?$")


class _BehavioralBase(_Strict):
    name: str | None = Field(None, description="Shown in results; defaults to kind and column.")
    sample: int = Field(200, gt=0, description="Test rows the check runs on.")


class InvarianceTest(_BehavioralBase):
    kind: Literal["invariance"]
    column: str
    values: list[Any] = Field(min_length=1)
    min_agreement: float = Field(1.0, ge=0, le=1)


class DirectionalTest(_BehavioralBase):
    kind: Literal["directional"]
    column: str
    change: str = Field(description="'+10%', '-5%', '+3', '-1.5' or '*2'.")
    expect: Literal["increase", "decrease"]
    label: str | int | float | bool | None = Field(
        None, description="Classification: the class whose probability should move."
    )
    min_agreement: float = Field(0.95, ge=0, le=1)

    @model_validator(mode="after")
    def _change_syntax(self) -> DirectionalTest:
        if not _CHANGE.match(self.change.replace(" ", "")):
            raise ValueError(f"change '{self.change}' is not like '+10%', '-5', or '*2'")
        return self


class PerturbationTest(_BehavioralBase):
    kind: Literal["perturbation"]
    columns: list[str] = Field(min_length=1)
    noise: Literal["typos", "numeric"]
    scale: float = Field(
        0.1, gt=0, description="typos: share of words changed; numeric: share of the std."
    )
    min_agreement: float = Field(0.95, ge=0, le=1)


class ExamplesTest(_BehavioralBase):
    kind: Literal["examples"]
    rows: list[dict[str, Any]] = Field(min_length=1, description="Inputs plus 'expect'.")
    min_agreement: float = Field(1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _expectations(self) -> ExamplesTest:
        for i, row in enumerate(self.rows):
            if "expect" not in row:
                raise ValueError(f"rows[{i}] has no 'expect' (the label it should get)")
        return self


BehavioralTest = Annotated[
    InvarianceTest | DirectionalTest | PerturbationTest | ExamplesTest,
    Field(discriminator="kind"),
]
