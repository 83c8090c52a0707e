"""`loopml serve`: load the served versions from the registry, build the app, run uvicorn.

With ``--workers N`` uvicorn starts N processes; each builds its own app through
``app_from_env`` (the settings travel in one environment variable).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy.exc
from fastapi import FastAPI

from loopml.config import ProjectConfig, ServeConfig, load_config
from loopml.errors import ConfigError, ModelNotFoundError, StorageError, first_line
from loopml.serving.app import create_app
from loopml.serving.auth import load_tokens
from loopml.serving.metrics import MULTIPROCESS_DIR
from loopml.serving.predlog import PredictionLogWriter
from loopml.serving.reload import ModelSource
from loopml.tracking.local_store import open_store
from loopml.tracking.models import LoadedModel, load_with_compiled
from loopml.tracking.prediction_log import PredictionLog as PredictionLogReader
from loopml.tracking.prediction_log import sqlite_file
from loopml.workflows.monitor import log_url
from loopml.workflows.predict import model_uri

ENV = "LOOPML_SERVE_ARGS"
# How long one thread may hold the GIL while another waits for it (Python's default is
# 5 ms). The server's event loop shares the GIL with the prediction log's writer thread;
# 1 ms bounds how long a request waits behind the writer (p99 at 8 clients with the log
# on: 8.7 -> 7.4 ms, mean of three paired runs of benchmarks' loopml+log at 2 cores).
SWITCH_INTERVAL_S = 0.001


@dataclass(frozen=True)
class ServeArgs:
    config: str
    overrides: list[str]
    model: str | None = None


def build_app(args: ServeArgs) -> FastAPI:
    """Everything `loopml serve` serves, from loopml.yaml and the command's flags."""
    cfg = load_config(Path(args.config), args.overrides)
    open_store(cfg.tracking, cfg.experiment_name)
    settings = cfg.serve
    uri = model_uri(cfg, args.model)
    champion = load_with_compiled(uri, tracking_uri=cfg.tracking.uri)
    challenger = _challenger(cfg, settings)
    watching_alias = args.model in (None, settings.alias)
    return create_app(
        champion,
        settings,
        challenger=challenger,
        tokens=load_tokens(settings.auth, cfg.root),
        prediction_log=_prediction_log(cfg),
        source=ModelSource(cfg.model_name, cfg.tracking.uri) if watching_alias else None,
        project=cfg,
    )


def _challenger(cfg: ProjectConfig, settings: ServeConfig) -> LoadedModel | None:
    rollout = settings.rollout
    if rollout.mode == "none":
        return None
    uri = f"models:/{cfg.model_name}@{rollout.challenger}"
    try:
        return load_with_compiled(uri, tracking_uri=cfg.tracking.uri)
    except ModelNotFoundError:
        raise ConfigError(
            f"serve.rollout.mode={rollout.mode} needs a challenger, but no version of "
            f"'{cfg.model_name}' has alias '{rollout.challenger}'; train one with `loopml run` "
            "or set serve.rollout.mode=none"
        ) from None


def _prediction_log(cfg: ProjectConfig) -> PredictionLogWriter | None:
    settings = cfg.serve.prediction_log
    if not settings.enabled:
        return None
    url = log_url(cfg)
    path = sqlite_file(url)
    if path is not None and path.parent.is_dir() and not os.access(path.parent, os.W_OK):
        # Refused before serving starts; a folder that turns read-only later is counted.
        raise _unwritable_log(url, PermissionError(f"{path.parent} is not writable"))
    try:
        return PredictionLogWriter(
            url,
            flush_interval=settings.flush_interval,
            max_queue=settings.max_queue,
            retry_for=settings.retry_for,
        )
    except sqlalchemy.exc.OperationalError as exc:
        raise _unwritable_log(url, exc) from None


def _unwritable_log(url: str, exc: Exception) -> StorageError:
    """One line for a prediction log that cannot be created (before serving starts)."""
    fix = (
        "make it writable, point serve.prediction_log.url elsewhere, or set "
        "serve.prediction_log.enabled: false"
    )
    path = sqlite_file(url)
    if path is not None and path.parent.is_dir() and not os.access(path.parent, os.W_OK):
        writable = "read-only" if _read_only(path.parent) else "not writable for this user"
        return StorageError(f"{path.parent}: the prediction log's folder is {writable}; {fix}")
    reason = first_line(getattr(exc, "orig", None) or exc)
    where = PredictionLogReader(url).where
    return StorageError(f"{where}: cannot create the prediction log ({reason}); {fix}")


def _read_only(folder: Path) -> bool:
    return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)


def app_from_env() -> FastAPI:
    """The uvicorn factory each worker process calls."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    raw = os.environ.get(ENV)
    if not raw:
        raise ConfigError(f"{ENV} is not set; start the server with `loopml serve`")
    return build_app(ServeArgs(**json.loads(raw)))


def run(app: FastAPI, args: ServeArgs, *, host: str, port: int, workers: int) -> None:
    """Serve ``app`` (from ``build_app(args)``) with uvicorn in this process; with
    ``workers`` > 1, start that many processes instead, each building its own app from
    ``args`` (``app`` then only gave the startup notes: its prediction log is closed)."""
    import uvicorn

    options = {"host": host, "port": port, "log_level": "warning", "access_log": False}
    if workers <= 1:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return
    state = app.state.serving
    if state.prediction_log is not None:
        state.prediction_log.close()  # each worker opens its own
    os.environ[ENV] = json.dumps(asdict(args))
    with tempfile.TemporaryDirectory(prefix="loopml-metrics-") as counts:
        os.environ[MULTIPROCESS_DIR] = counts  # the workers sum their metrics through it
        uvicorn.run(
            "loopml.serving.runner:app_from_env",
            factory=True,
            workers=workers,
            **options,  # type: ignore[arg-type]
        )
