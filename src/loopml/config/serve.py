"""serve: the online server (`loopml serve`): batching, auth, limits, rollout, prediction log."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from loopml.config._base import Duration, Renamed, _Strict, scaled, unscaled


class BatchingConfig(_Strict):
    """Micro-batching: concurrent requests scored together in one model call."""

    _section = "serve.batching"
    _renamed: ClassVar[dict[str, Renamed]] = {
        "max_wait_ms": Renamed("max_wait", scaled(0.001), unscaled(0.001))
    }

    enabled: bool = True
    max_batch_size: int = Field(256, ge=1, description="Most rows scored in one model call.")
    max_wait: Duration = Field(
        0.002,
        ge=0,
        le=1,
        description="Longest a request waits for others (e.g. 2ms); never when alone.",
    )


class AuthConfig(_Strict):
    """Bearer tokens for prediction and admin endpoints; off when neither source is set."""

    token_env: str | None = Field(None, description="Environment variable: comma-separated tokens.")
    token_file: str | None = Field(None, description="File with one token per line.")
    protect_health: bool = Field(
        False, description="Also require a token on health, metrics and the dashboard."
    )
    open_metadata: bool = Field(
        False, description="Serve /docs, /openapi.json and OIP model metadata without a token."
    )


class LimitsConfig(_Strict):
    _section = "serve.limits"
    _renamed: ClassVar[dict[str, Renamed]] = {"request_timeout_s": Renamed("request_timeout")}

    max_body_bytes: int = Field(1_048_576, gt=0, description="Larger bodies get 413.")
    max_rows: int = Field(10_000, gt=0, description="More rows in one request get 413.")
    request_timeout: Duration = Field(10.0, gt=0, description="Slower requests get 408.")


class RolloutConfig(_Strict):
    """Serve the challenger beside the champion: canary (a share of traffic) or shadow."""

    mode: Literal["none", "canary", "shadow"] = "none"
    challenger: str = Field("challenger", description="Registry alias of the challenger.")
    canary_share: float = Field(0.1, ge=0, le=1, description="Share of requests (canary).")
    seed: int | None = Field(None, description="Seed of the canary draw (tests, replays).")


class RetentionConfig(_Strict):
    """How much of the prediction log the server keeps; off when neither bound is set."""

    _section = "serve.prediction_log.retention"
    _renamed: ClassVar[dict[str, Renamed]] = {
        "days": Renamed("max_age", scaled(86400), unscaled(86400)),
        "interval_s": Renamed("interval"),
    }

    max_age: Duration | None = Field(
        None, gt=0, description="Delete requests logged longer ago than this, e.g. 30d."
    )
    rows: int | None = Field(None, gt=0, description="Keep at most this many logged requests.")
    interval: Duration = Field(
        3600.0, gt=0, description="How often the server applies the retention."
    )


class PredictionLogConfig(_Strict):
    """Durable log of every request, written off the hot path."""

    _section = "serve.prediction_log"
    _renamed: ClassVar[dict[str, Renamed]] = {
        "flush_interval_s": Renamed("flush_interval"),
        "retry_for_s": Renamed("retry_for"),
    }

    enabled: bool = True
    url: str = Field(
        "sqlite:///.loopml/predictions.db", description="SQLite (WAL) or PostgreSQL URL."
    )
    flush_interval: Duration = Field(1.0, gt=0, description="A crash loses at most this much.")
    max_queue: int = Field(
        100_000, gt=0, description="Entries waiting to be written; beyond, dropped and counted."
    )
    retry_for: Duration = Field(
        30.0, ge=0, description="A failed write is retried this long, then dropped and counted."
    )
    retention: RetentionConfig = Field(default_factory=RetentionConfig)


class ServeConfig(_Strict):
    _section = "serve"
    _renamed: ClassVar[dict[str, Renamed]] = {
        "workers": Renamed("n_jobs"),
        "reload_interval_s": Renamed("reload_interval"),
    }

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    alias: str = Field("champion", description="Registry alias of the model to serve.")
    engine: Literal["auto", "native", "onnx"] = Field(
        "auto", description="onnx: the compiled artifact; auto: onnx when it passed parity."
    )
    n_jobs: int = Field(1, ge=1, le=64, description="Server processes, one model thread each.")
    reload_interval: Duration = Field(
        10.0, ge=0, description="How often to check if the alias moved; 0 turns hot reload off."
    )
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    prediction_log: PredictionLogConfig = Field(default_factory=PredictionLogConfig)
