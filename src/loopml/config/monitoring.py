"""monitoring: which logged rows `loopml monitor` judges, drift, decay and alerts."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from loopml.config._base import Duration, Renamed, _Strict, scaled, unscaled


class WindowConfig(_Strict):
    """Which logged rows `loopml monitor` judges: the latest N rows, or those logged within
    a duration (e.g. 24h)."""

    _section = "monitoring.window"
    _renamed: ClassVar[dict[str, Renamed]] = {
        "hours": Renamed("max_age", scaled(3600), unscaled(3600))
    }

    rows: int | None = Field(None, gt=0, description="The latest N logged rows.")
    max_age: Duration | None = Field(
        None, gt=0, description="Rows logged within this long, e.g. 24h."
    )

    @model_validator(mode="after")
    def _one_bound(self) -> WindowConfig:
        if self.rows is not None and self.max_age is not None:
            raise ValueError("set either rows or max_age, not both")
        if self.rows is None and self.max_age is None:
            self.rows = 5000
        return self


class DriftConfig(_Strict):
    method: Literal["auto", "psi", "test", "jensen_shannon"] = Field(
        "auto",
        description="auto: a significant test (KS / chi-square, corrected for many features) "
        "and PSI >= threshold; psi or jensen_shannon: that distance >= threshold; "
        "test: the corrected test alone.",
    )
    threshold: float = Field(0.2, gt=0, description="PSI (or Jensen-Shannon distance) to flag.")
    significance: float = Field(
        0.05, gt=0, lt=1, description="Chance of a false dataset alarm, over all features."
    )
    correction: Literal["holm", "bonferroni", "benjamini_hochberg"] = "holm"
    min_rows: int = Field(500, ge=1, description="Fewer current rows and drift is not judged.")
    attribution_shift: float | None = Field(
        0.1,
        gt=0,
        le=1,
        description="Flag a column whose share of the total mean |attribution| moves by this "
        "much (absolute, shares are 0-1); null turns attribution drift off.",
    )


class DecayConfig(_Strict):
    metric: str | None = Field(None, description="Defaults to the project's metric.")
    max_drop: float = Field(0.05, ge=0, description="Alert when the metric is this much worse.")
    min_rows: int = Field(200, ge=1, description="Labelled rows needed to judge decay.")
    every: int = Field(500, ge=10, description="Labelled rows per point of the decay plot.")


class AlertsConfig(_Strict):
    webhook: str | None = Field(None, description="URL that receives each alert as JSON (POST).")
    timeout: Duration = Field(5.0, gt=0, description="How long to wait for the webhook.")


class MonitoringConfig(_Strict):
    window: WindowConfig = Field(default_factory=lambda: WindowConfig())
    drift: DriftConfig = Field(default_factory=lambda: DriftConfig())
    decay: DecayConfig = Field(default_factory=lambda: DecayConfig())
    alerts: AlertsConfig = Field(default_factory=lambda: AlertsConfig())
    reports: str = Field("reports", description="Folder of the monitoring reports.")
