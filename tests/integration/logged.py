"""Requests written to a prediction log by the server's own writer, as `loopml serve` does."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.serving.engine import Scored
from loopml.serving.predlog import Entry, PredictionLogWriter


def entry(
    request_id: str,
    columns: dict[str, Sequence[object]],
    predictions: Sequence[object],
    *,
    at: float | None = None,
    model: str = "m",
    version: str = "1",
    role: str = "champion",
    probabilities: Sequence[Sequence[float]] | None = None,
    abstained: Sequence[bool] | None = None,
) -> Entry:
    """One request as the server logs it (``columns``: feature -> one value per row)."""
    n = len(predictions)
    scored = Scored(
        np.array(predictions, dtype=object),
        None if probabilities is None else np.array(probabilities, dtype=float),
        np.array(abstained if abstained is not None else [False] * n, dtype=bool),
    )
    arrays = {name: np.array(values) for name, values in columns.items()}
    arrived = time.time() if at is None else at
    return Entry(
        request_id, arrived, model, version, role, "native", "predict", arrays, scored, 1.5
    )


def write(url: str, entries: Sequence[Entry]) -> None:
    """Append ``entries`` with the real writer and wait until they are committed."""
    log = PredictionLogWriter(url, flush_interval=60)
    try:
        for item in entries:
            assert log.append(item)
        log.flush()
    finally:
        log.close()


def write_frame(
    url: str, frame: pd.DataFrame, predictions: Sequence[object], *, model: str, prefix: str
) -> None:
    """Each row of ``frame`` as its own request, ``{prefix}{i}``, all arrived now."""
    now = time.time()
    write(
        url,
        [
            entry(f"{prefix}{i}", {c: [v] for c, v in record.items()}, [predictions[i]],
                  at=now, model=model)
            for i, record in enumerate(frame.to_dict("records"))
        ],
    )  # fmt: skip


def logged_server(folder: Path, config: Path, log: Path, *overrides: str) -> tuple[Any, Any]:
    """A real server on loopback for the example project's champion, logging to ``log``
    (and its writer, to flush), with ``overrides`` of loopml.yaml (``serve.…=value``)."""
    from loopml.config import load_config
    from loopml.serving.app import create_app
    from loopml.tracking.models import load
    from tests.integration.conftest import LiveServer

    url = f"sqlite:///{log}"
    cfg = load_config(config, [f"serve.prediction_log.url={url}", *overrides])
    model = load("models:/breast-cancer@champion", tracking_uri=cfg.tracking.uri)
    writer = PredictionLogWriter(url, flush_interval=0.05)
    return LiveServer(create_app(model, cfg.serve, prediction_log=writer, project=cfg)), writer
