"""Single-row /explain latency of a 100-tree LightGBM, against /predict and raw SHAP.

Breast cancer (30 numeric columns), one candidate: LightGBM with 100 trees, registered by
`loopml run`. A real uvicorn server (the app `loopml serve` runs, ONNX engine for
predictions) answers, one client, one row per request, one request at a time:

- ``/predict`` (the baseline: prediction alone),
- ``/explain`` (prediction + attributions of every column),

and, in the same process, ``shap.Explainer(pipeline.predict_proba, background)`` called on
the raw pipeline (SHAP's model-agnostic default on the whole pipeline, what a user
without loopml would write) for the same row. Goal (issue 19): /explain p50 at most
5 ms and at most 3x /predict's p50.

Usage: ``.venv/bin/python benchmarks/bench_explain.py [--requests 300]``; prints a table and
writes benchmarks/results/explain.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_results
from tests.integration.conftest import LiveServer, train_cli

from loopml.config import load_config
from loopml.serving.app import create_app
from loopml.tracking.models import load_with_compiled
from loopml.workflows.init import init_project


def train(folder: Path) -> Path:
    init_project(folder, "breast_cancer")
    config = folder / "loopml.yaml"
    body = yaml.safe_load(config.read_text())
    body["models"] = {"candidates": {"lightgbm": {"n_estimators": 100}}}
    config.write_text(yaml.safe_dump(body))
    train_cli(config)
    return config


def latencies(client: httpx.Client, url: str, body: dict, n: int) -> list[float]:
    for _ in range(20):  # warm up
        assert client.post(url, json=body).status_code == 200
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.post(url, json=body)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = train(Path(folder))
        cfg = load_config(config)
        loaded = load_with_compiled(
            f"models:/{cfg.model_name}@champion", tracking_uri=cfg.tracking.uri
        )
        model = loaded.model
        row = pd.read_csv(Path(folder) / "data" / "score_me.csv")[model.feature_names].head(1)
        body = {"records": row.to_dict(orient="records")}
        with LiveServer(create_app(loaded)) as live, httpx.Client(timeout=10) as client:
            predict = latencies(client, f"{live.url}/predict", body, args.requests)
            explain = latencies(client, f"{live.url}/explain", body, args.requests)
            served = client.post(f"{live.url}/explain", json=body).json()
        shap_ms = raw_shap(model, row, min(args.requests, 30))
    result = {
        "model": f"LightGBM 100 trees, {served['explainer']['method']}",
        "predict": percentiles(predict),
        "explain": percentiles(explain),
        "shap_on_raw_pipeline": percentiles(shap_ms),
    }
    result["explain_over_predict_p50"] = result["explain"]["p50"] / result["predict"]["p50"]
    result["shap_over_explain_p50"] = (
        result["shap_on_raw_pipeline"]["p50"] / result["explain"]["p50"]
    )
    print(f"{'what':28} {'p50 ms':>9} {'p99 ms':>9}")
    for name in ("predict", "explain", "shap_on_raw_pipeline"):
        print(f"{name:28} {result[name]['p50']:9.2f} {result[name]['p99']:9.2f}")
    print(
        f"/explain p50 = {result['explain_over_predict_p50']:.2f}x /predict; raw SHAP p50 = "
        f"{result['shap_over_explain_p50']:.1f}x /explain"
    )
    print(write_results("explain", result))


def raw_shap(model: object, row: pd.DataFrame, n: int) -> list[float]:
    """SHAP's default explainer on the whole pipeline's predict_proba, 100 background rows."""
    import shap

    assert model.background is not None  # type: ignore[attr-defined]
    background = model.background  # type: ignore[attr-defined]
    pipeline = model.pipeline  # type: ignore[attr-defined]
    explainer = shap.Explainer(
        lambda x: pipeline.predict_proba(pd.DataFrame(x, columns=row.columns))[:, 1],
        background.to_numpy(),
    )
    explainer(row.to_numpy())  # compile and warm up
    out = []
    for _ in range(n):
        started = time.perf_counter()
        values = explainer(row.to_numpy())
        out.append((time.perf_counter() - started) * 1000)
    assert np.isfinite(values.values).all()
    return out


if __name__ == "__main__":
    main()
