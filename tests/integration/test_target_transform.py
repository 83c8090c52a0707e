"""The target transform round-trips: a skewed target makes the search try log1p, and the
model it picks answers on the original scale everywhere: plain MLflow pyfunc, loopml's
loader, the server (ONNX), `loopml predict`, the evaluation and monitoring decay."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error

import loopml
from loopml.config import load_config
from loopml.serving.runner import ServeArgs, build_app
from loopml.tracking.prediction_log import PredictionLog
from loopml.workflows.evaluate import evaluate
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare
from tests.conftest import write_project
from tests.integration.conftest import LiveServer, Project, cli

pytestmark = pytest.mark.integration
NAME = "prices"
SERVED_ROWS = 60


def _prices(n: int, seed: int) -> pd.DataFrame:
    """A log-normal price: log-linear in x and the colour, skewness about 2."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n).round(4),
            "z": rng.normal(size=n).round(4),
            "colour": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    noise = rng.normal(scale=0.2, size=n)
    frame["price"] = np.exp(3 + frame["x"] + 0.7 * (frame["colour"] == "red") + noise).round(2)
    return frame


@pytest.fixture(scope="module")
def prices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, str]:
    """One run: ridge (alpha fixed) with the transform the search adds by itself."""
    folder = tmp_path_factory.mktemp("prices")
    (folder / "data").mkdir()
    _prices(600, 0).to_csv(folder / "data" / "prices.csv", index=False)
    config = write_project(
        folder,
        {
            "name": NAME,
            "data": {"source": "data/prices.csv", "target": "price"},
            "split": {"test": 0.2, "validation": 0.2, "seed": 7},
            "metric": "mae",
            "models": {"candidates": {"ridge": {"alpha": 1.0}}},
        },
    )
    code, stdout, stderr = cli("run", "--config", str(config))
    assert code == 0, stderr
    return Project(folder, config, stdout.strip().splitlines()[-1]), stdout + stderr


def _rows(project: Project) -> pd.DataFrame:
    return _prices(SERVED_ROWS, 1).drop(columns=["price"])


def test_the_search_says_it_tries_log1p_and_the_leaderboard_shows_the_pick(
    prices: tuple[Project, str],
) -> None:
    project, said = prices
    cfg = project.cfg
    skewness = prepare(cfg, SilentReporter()).splits.train["price"].skew()
    assert "target 'price' has skewness" in said and f"{skewness:.2f}" in said
    assert "models.candidates.<name>.target_transform" in said
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    board = mlflow.artifacts.load_dict(
        f"{client.get_run(project.run_id).info.artifact_uri}/leaderboard.json"
    )
    ridge = next(row for row in board if row["name"] == "ridge")
    assert ridge["params"] == {"alpha": 1.0, "target_transform": "log1p"}


def test_every_entry_point_answers_the_same_value_on_the_original_scale(
    prices: tuple[Project, str], tmp_path: Path
) -> None:
    project, _ = prices
    cfg = project.cfg
    rows = _rows(project)
    mlflow.set_tracking_uri(cfg.tracking.uri)
    mlflow.set_registry_uri(cfg.tracking.uri)  # an in-process loopml run of another test set it
    pyfunc = np.asarray(mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(rows))
    loaded = loopml.load_model(f"models:/{NAME}@champion", tracking_uri=cfg.tracking.uri)
    np.testing.assert_allclose(np.asarray(loaded.predict(rows), dtype=float), pyfunc)
    truth = _prices(SERVED_ROWS, 1)["price"]
    assert 0.5 < np.median(pyfunc) / truth.median() < 2  # the order of the price, not its log
    assert mean_absolute_error(truth, pyfunc) < 0.3 * truth.mean()

    rows.to_csv(tmp_path / "in.csv", index=False)
    code, _, stderr = cli(
        "predict", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"),
        "-c", str(project.config_path),
    )  # fmt: skip
    assert code == 0, stderr
    batch = pd.read_csv(tmp_path / "out.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(batch, pyfunc, rtol=1e-6)

    log = tmp_path / "log.db"
    overrides = [f"serve.prediction_log.url=sqlite:///{log}", "serve.reload_interval=0"]
    served, ids = [], []
    with (
        LiveServer(build_app(ServeArgs(str(project.config_path), overrides, None))) as live,
        httpx.Client(timeout=10) as http,
    ):
        assert http.get(f"{live.url}/health").json()["engine"] == "onnx"
        for record in rows.to_dict("records"):
            answer = http.post(f"{live.url}/predict", json={"records": [record]})
            assert answer.status_code == 200, answer.text
            served += answer.json()["predictions"]
            ids.append(answer.json()["request_id"])
    np.testing.assert_allclose(served, pyfunc, rtol=1e-6)

    deadline = time.monotonic() + 10
    while PredictionLog(f"sqlite:///{log}").counts()["predictions"] < SERVED_ROWS:
        assert time.monotonic() < deadline, "the prediction log was not written"
        time.sleep(0.1)
    pd.DataFrame({"request_id": ids, "price": truth}).to_csv(tmp_path / "labels.csv", index=False)
    settings = ["--set", overrides[0]]
    code, _, stderr = cli(
        "feedback", str(tmp_path / "labels.csv"), "-c", str(project.config_path), *settings
    )
    assert code == 0, stderr
    code, stdout, stderr = cli(
        "monitor", "-c", str(project.config_path), *settings,
        "--set", "monitoring.drift.min_rows=100000", "--set", "monitoring.decay.min_rows=50",
        "--set", "monitoring.decay.every=20", "--set", "monitoring.decay.max_drop=100",
        "-o", str(tmp_path), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    decay = json.loads(stdout)["decay"]
    assert decay["metric"] == "mae" and decay["rows"] == SERVED_ROWS
    assert decay["current"] == pytest.approx(mean_absolute_error(truth, served), rel=1e-6)


def test_the_evaluation_scores_the_original_scale(prices: tuple[Project, str]) -> None:
    project, _ = prices
    cfg = load_config(project.config_path)
    found = evaluate(cfg, "champion").evaluation
    test = prepare(cfg, SilentReporter()).splits.test
    mlflow.set_tracking_uri(cfg.tracking.uri)
    mlflow.set_registry_uri(cfg.tracking.uri)  # an in-process loopml run of another test set it
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    expected = np.asarray(model.predict(test.drop(columns=["price"])))
    np.testing.assert_allclose(found.test.predicted, expected, rtol=1e-9)
    assert found.metrics["mae"] == pytest.approx(mean_absolute_error(test["price"], expected))
    assert found.metrics["mae"] < 0.3 * test["price"].mean()
