"""distill: `loopml distill`, a smaller student trained on the winner's predictions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loopml.config._base import _Strict


class DistillConfig(_Strict):
    """`loopml distill`: a smaller student trained on the winner's predictions."""

    student: Literal["small_lightgbm", "linear"] = "small_lightgbm"
    max_drop: float = Field(
        0.02, ge=0, description="Largest drop in the project metric that still registers it."
    )
