"""gate: what a model must pass before it may be promoted."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loopml.config._base import _Strict


class BeatChampionConfig(_Strict):
    metric: str | None = Field(None, description="Defaults to the selection metric.")
    significance: float = Field(
        0.05, gt=0, le=1, description="The challenger must be better with p below this."
    )
    test: Literal["bootstrap", "mcnemar"] = "bootstrap"
    resamples: int = Field(1000, ge=100, description="Paired bootstrap resamples.")
    min_rows: int = Field(
        30,
        ge=1,
        description=(
            "Fewest test rows, unseen by the champion in its fitting, to compare on; "
            "with fewer the rule fails and says so."
        ),
    )


class GateConfig(_Strict):
    min: dict[str, float] = Field(
        default_factory=dict, description="Test metrics that must be at least these."
    )
    max: dict[str, float] = Field(
        default_factory=dict, description="Test metrics that must be at most these."
    )
    max_overfit_gap: float | None = Field(
        None, ge=0, description="Largest train-minus-held-out gap of the selection metric."
    )
    beat_champion: BeatChampionConfig | None = Field(default_factory=BeatChampionConfig)
    behavioral: Literal["must_pass", "report"] = "must_pass"
    beat_rules: bool = Field(
        False,
        description="The model must score better than every rule of models.rules on the test "
        "split (the selection metric).",
    )
