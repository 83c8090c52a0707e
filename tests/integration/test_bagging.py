"""k-fold bagging end to end (models.bagging.folds): the bagged best candidate is on the
leaderboard with its out-of-fold CV, wins here, registers, compiles to ONNX with the same
answers as the native pipeline, is served on ONNX, loads with plain MLflow and explains."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.config import load_config
from loopml.core.compile import OnnxPredictor
from loopml.serving.engine import choose_engine
from loopml.serving.runner import ServeArgs, build_app
from loopml.tracking.models import load_with_compiled
from tests.conftest import write_project
from tests.integration.conftest import LiveServer, cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]
NAME = "bagged"


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n).round(3),
            "z": rng.normal(size=n).round(3),
            "city": rng.choice(["oslo", "rome", "lima"], n),
        }
    )
    signal = frame["x"] + 0.5 * frame["z"] + 0.8 * (frame["city"] == "rome")
    frame["label"] = np.where(signal + rng.normal(scale=0.6, size=n) > 0.4, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One run: a forest of 3 deep trees (a high-variance model: bagging 5 of them helps)."""
    folder = tmp_path_factory.mktemp("bagged")
    _rows(500, 0).to_csv(folder / "data.csv", index=False)
    config = write_project(
        folder,
        {
            "name": NAME,
            "data": {"source": "data.csv", "target": "label"},
            "metric": "log_loss",  # 3 trees give coarse probabilities; 15 give finer
            "models": {
                "candidates": {"random_forest": {"n_estimators": 3}},
                "bagging": {"folds": 5},
            },
            "tuning": {"budget": {"trials": 1}, "learning_curve": False},
            "tracking": {"uri": "sqlite:///.loopml/mlflow.db"},
        },
    )
    code, stdout, stderr = cli("run", "--config", str(config))
    assert code == 0, stderr
    return config, stdout + stderr


def test_the_bag_is_on_the_leaderboard_with_its_out_of_fold_score(
    project: tuple[Path, str],
) -> None:
    config, said = project
    assert "Bagging random_forest" in said
    cfg = load_config(config)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    version = client.get_model_version_by_alias(NAME, "champion")
    run = client.get_run(version.run_id)
    board = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/leaderboard.json")
    bag = next(row for row in board if row["name"] == "bagged_random_forest")
    single = next(row for row in board if row["name"] == "random_forest")
    assert bag["params"] == {"members": ["random_forest"], "folds": 5}
    assert not math.isnan(bag["cv_mean"]) and bag["cv_std"] >= 0
    # the same folds and configuration: each member's held-out score is a search fold's
    assert bag["cv_mean"] == pytest.approx(single["cv_mean"], abs=1e-9)
    assert bag["size_bytes"] > 3 * single["size_bytes"]
    assert bag["latency_ms_per_row"] > 0
    assert run.data.tags["loopml.winner"] == "bagged_random_forest"


def test_it_registers_compiles_with_the_native_answers_and_loads_with_plain_mlflow(
    project: tuple[Path, str],
) -> None:
    config, _ = project
    uri = load_config(config).tracking.uri
    rows = _rows(80, 1).drop(columns=["label"])
    mlflow.set_tracking_uri(uri)
    plain = np.asarray(mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(rows))
    assert set(plain) <= {"yes", "no"}

    loaded = load_with_compiled(f"models:/{NAME}@champion", tracking_uri=uri)
    bag = loaded.model.pipeline[-1]
    assert type(bag).__name__ == "BaggedClassifier" and len(bag.estimators_) == 5
    assert loaded.compiled is not None, loaded.compile_note
    engine, why = choose_engine(loaded, "auto")
    assert engine.name == "onnx", why
    native = loaded.model.predict_proba(rows)
    compiled = OnnxPredictor(
        loaded.compiled.onnx, loaded.compiled.inputs, "classification", list(bag.classes_)
    )
    labels, proba = compiled.run_frame(rows)
    assert proba is not None
    np.testing.assert_allclose(proba, native, atol=1e-5)
    assert list(labels) == list(plain)

    args = ServeArgs(
        str(config), ["serve.reload_interval=0", "serve.prediction_log.enabled=false"], None
    )
    with LiveServer(build_app(args)) as live, httpx.Client(timeout=10) as http:
        assert http.get(f"{live.url}/health").json()["engine"] == "onnx"
        answer = http.post(f"{live.url}/predict", json={"records": rows.to_dict("records")})
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == list(plain)

    champion = loopml.load_model(f"models:/{NAME}@champion", tracking_uri=uri)
    assert list(champion.predict(rows)) == list(plain)
    explained = champion.explain(rows.head(5))
    assert explained.contributions.shape == (5, 3)
    np.testing.assert_allclose(
        explained.base_values + explained.contributions.sum(axis=1), explained.outputs, atol=1e-6
    )
