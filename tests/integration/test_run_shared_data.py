"""`loopml run` on real public data: titanic (tabular) and Made-With-ML (text)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest

import loopml
from loopml.config import load_config
from tests.conftest import shared_file, write_project
from tests.integration.conftest import train_cli

pytestmark = [pytest.mark.integration, pytest.mark.shared_data]


def _metrics(config: Path, run_id: str) -> dict[str, float]:
    cfg = load_config(config)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    return client.get_run(run_id).data.metrics


def test_titanic_beats_baseline_and_loads_with_plain_mlflow(tmp_path: Path) -> None:
    config = write_project(
        tmp_path,
        {
            "name": "titanic",
            "data": {
                "source": str(shared_file("titanic_train.csv")),
                "target": "Survived",
                "columns": {"text": ["Name"], "ignore": ["PassengerId", "Ticket"]},
            },
            "split": {"test": 0.2, "validation": 0.2, "seed": 42},
            "metric": "accuracy",
        },
    )
    run_id = train_cli(config)
    metrics = _metrics(config, run_id)
    assert metrics["test_accuracy"] > metrics["baseline_test_accuracy"] + 0.1
    assert metrics["test_accuracy"] > 0.75

    rows = pd.read_csv(shared_file("titanic_train.csv")).head(20)
    cfg = load_config(config)
    mlflow.set_tracking_uri(cfg.tracking.uri)
    mlflow.set_registry_uri(cfg.tracking.uri)  # an in-process loopml run of another test set it
    plain = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    predicted = plain.predict(rows.drop(columns=["Survived"]))
    assert set(pd.Series(predicted).unique()) <= {0, 1}

    champion = loopml.load_model("models:/titanic@champion", tracking_uri=cfg.tracking.uri)
    assert champion.version == "1"
    assert list(champion.predict(rows)) == list(predicted)


def test_text_data_beats_baseline_on_macro_f1(tmp_path: Path) -> None:
    config = write_project(
        tmp_path,
        {
            "name": "tags",
            "data": {
                "source": str(shared_file("madewithml_dataset.csv")),
                "target": "tag",
                "columns": {"text": ["title", "description"], "ignore": ["created_on"]},
            },
            "metric": "f1_macro",
        },
    )
    # the default candidates, words and character n-grams, within a time limit
    run_id = train_cli(config, "--time-limit", "40")
    metrics = _metrics(config, run_id)
    assert metrics["test_f1_macro"] > metrics["baseline_test_f1_macro"] + 0.3
    cfg = load_config(config)
    mlflow.set_tracking_uri(cfg.tracking.uri)
    mlflow.set_registry_uri(cfg.tracking.uri)  # an in-process loopml run of another test set it
    model = mlflow.pyfunc.load_model("models:/tags@champion")
    holdout = pd.read_csv(shared_file("madewithml_holdout.csv")).head(10)
    assert len(model.predict(holdout.drop(columns=["tag"]))) == 10


def test_time_based_split_on_dates(tmp_path: Path) -> None:
    config = write_project(
        tmp_path,
        {
            "name": "tags-by-time",
            "data": {
                "source": str(shared_file("madewithml_dataset.csv")),
                "target": "tag",
                "columns": {"text": ["title"], "ignore": ["description", "id"]},
            },
            "split": {"time_column": "created_on"},
            "models": {"candidates": ["logistic_regression"]},
        },
    )
    run_id = train_cli(config)
    cfg = load_config(config)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    run = client.get_run(run_id)
    assert run.data.params["split.time_column"] == "created_on"
    roles = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/data/roles.json")
    assert "created_on" in roles["datetime"]
