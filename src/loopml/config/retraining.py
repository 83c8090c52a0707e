"""retraining: what starts a retraining in `loopml watch` and which rows it trains on."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from loopml.config._base import Duration, Renamed, _Strict, scaled, unscaled


class RetrainingDataConfig(_Strict):
    _section = "retraining.data"
    _renamed: ClassVar[dict[str, Renamed]] = {
        "reference_days": Renamed("lookback", scaled(86400), unscaled(86400))
    }

    source: str | None = Field(None, description="Defaults to data.source.")
    query: str | None = Field(None, description="Defaults to data.query.")
    time_column: str | None = Field(None, description="Defaults to split.time_column.")
    since: Literal["all", "last_training"] = Field(
        "all", description="last_training: only rows newer than the champion's training data."
    )
    lookback: Duration = Field(
        0,
        ge=0,
        description="With since: last_training, also keep the rows of this long before it, "
        "e.g. 30d.",
    )
    feedback: bool = Field(
        False,
        description="Add the served rows labelled through loopml feedback (e.g. from loopml "
        "label-queue) to the retraining data, the label as the target.",
    )


_DEFAULT_TRIGGERS: tuple[Literal["drift", "decay", "schedule"], ...] = ("drift", "decay")


class RetrainingConfig(_Strict):
    trigger: list[Literal["drift", "decay", "schedule"]] = Field(
        default_factory=lambda: list(_DEFAULT_TRIGGERS), description="What starts a retraining."
    )
    schedule: Duration | None = Field(
        None,
        gt=0,
        description="With trigger schedule: retrain when the champion is older, e.g. 7d.",
    )
    data: RetrainingDataConfig = Field(default_factory=lambda: RetrainingDataConfig())

    @model_validator(mode="after")
    def _schedule_given(self) -> RetrainingConfig:
        if "schedule" in self.trigger and self.schedule is None:
            raise ValueError("trigger 'schedule' needs retraining.schedule, e.g. schedule: 7d")
        return self
