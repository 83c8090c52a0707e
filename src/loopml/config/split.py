"""split: how rows are held out for validation and the final test."""

from __future__ import annotations

from pydantic import Field, model_validator

from loopml.config._base import _Strict


class SplitConfig(_Strict):
    test: float = Field(0.2, gt=0, lt=1, description="Share of rows held out for the final test.")
    validation: float = Field(0.2, gt=0, lt=1, description="Share of rows used to pick the model.")
    seed: int = 42
    stratify: bool = Field(True, description="Keep class shares equal across splits.")
    time_column: str | None = Field(None, description="Split by time: oldest train, newest test.")

    @model_validator(mode="after")
    def _room_for_training(self) -> SplitConfig:
        if self.test + self.validation >= 0.9:
            raise ValueError(
                f"test + validation = {self.test + self.validation:g} leaves under 10% to train; "
                "lower split.test or split.validation"
            )
        return self
