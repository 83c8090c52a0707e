"""The loop around training: skip unchanged stages, formats, runs table, UI, schema."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest

import loopml
from loopml.workflows.init import init_project
from tests.conftest import free_port, write_project
from tests.integration.conftest import Project, cli, train_cli

pytestmark = pytest.mark.integration


def test_unchanged_data_and_config_skip_training(breast_cancer: Project) -> None:
    code, stdout, stderr = cli("run", "-c", str(breast_cancer.config_path))
    assert code == 0, stderr
    assert "Skipped" in stderr
    assert stdout.strip() == breast_cancer.run_id


@pytest.mark.slow
def test_changed_config_trains_again_and_registers_a_challenger(tmp_path: Path) -> None:
    init_project(tmp_path, "wine")
    config = tmp_path / "loopml.yaml"
    first = train_cli(config, "--set", "models.candidates=[logistic_regression]")
    second = train_cli(config, "--set", "models.candidates=[random_forest]")
    assert first != second
    cfg = loopml.config.load_config(config)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    assert client.get_model_version_by_alias("wine", "champion").run_id == first
    assert client.get_model_version_by_alias("wine", "challenger").run_id == second
    forced = train_cli(config, "--set", "models.candidates=[random_forest]", "--force")
    assert forced not in (first, second)


def test_run_logs_params_metrics_fingerprint_config_plot_and_children(
    breast_cancer: Project,
) -> None:
    client = mlflow.MlflowClient(tracking_uri=breast_cancer.cfg.tracking.uri)
    run = client.get_run(breast_cancer.run_id)
    assert len(run.data.tags["loopml.data_fingerprint"]) == 16
    for split in ("train", "validation", "test", "baseline_test"):
        assert f"{split}_f1_macro" in run.data.metrics
    assert run.data.params["task"] == "classification"
    artifacts = {a.path for a in client.list_artifacts(breast_cancer.run_id)}
    assert {"confusion_matrix.png", "config", "data", "leaderboard.json"} <= artifacts
    children = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{breast_cancer.run_id}'",
    )
    assert {c.info.run_name for c in children} == {
        "baseline",
        "logistic_regression",
        "random_forest",
        "lightgbm",
    }


def test_load_model_by_run_and_alias_agree(breast_cancer: Project) -> None:
    uri = breast_cancer.cfg.tracking.uri
    rows = pd.read_csv(breast_cancer.folder / "data" / "score_me.csv")
    by_run = loopml.load_model(f"runs:/{breast_cancer.run_id}/model", tracking_uri=uri)
    by_alias = loopml.load_model("models:/breast-cancer@champion", tracking_uri=uri)
    assert (by_run.predict(rows) == by_alias.predict(rows)).all()
    assert by_alias.version == "1" and by_run.run_id == breast_cancer.run_id
    with pytest.raises(loopml.errors.ModelNotFoundError, match="no model version has alias"):
        loopml.load_model("models:/breast-cancer@nope", tracking_uri=uri)


def test_runs_table_and_json(breast_cancer: Project) -> None:
    code, stdout, _ = cli("runs", "-c", str(breast_cancer.config_path), "--json")
    assert code == 0
    rows = json.loads(stdout)
    assert rows[0]["run_id"] == breast_cancer.run_id
    assert "champion" in rows[0]["aliases"]
    assert rows[0]["test"] > rows[0]["baseline_test"]
    code, stdout, _ = cli("runs", "-c", str(breast_cancer.config_path))
    assert breast_cancer.run_id in stdout


@pytest.mark.parametrize("kind", ["parquet", "jsonl", "sqlite"])
def test_sources_parquet_jsonl_and_sql(tmp_path: Path, kind: str) -> None:
    init_project(tmp_path / "src", "diabetes")
    frame = pd.read_csv(tmp_path / "src" / "data" / "diabetes.csv")
    data: dict[str, str] = {"target": "progression"}
    if kind == "parquet":
        frame.to_parquet(tmp_path / "d.parquet")
        data["source"] = "d.parquet"
    elif kind == "jsonl":
        frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
        data["source"] = "d.jsonl"
    else:
        with sqlite3.connect(tmp_path / "d.db") as conn:
            frame.to_sql("patients", conn, index=False)
        data |= {"source": "sqlite:///d.db", "query": "SELECT * FROM patients WHERE age > 0"}
    config = write_project(
        tmp_path, {"name": f"diabetes-{kind}", "data": data, "models": {"candidates": ["ridge"]}}
    )
    run_id = train_cli(config)
    client = mlflow.MlflowClient(tracking_uri=loopml.config.load_config(config).tracking.uri)
    metrics = client.get_run(run_id).data.metrics
    assert metrics["test_r2"] > 0.3 > metrics["baseline_test_r2"]


def test_bad_sql_query_is_one_line(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "d.db") as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    config = write_project(
        tmp_path,
        {
            "name": "sql",
            "data": {"source": "sqlite:///d.db", "query": "SELECT * FROM nope", "target": "x"},
        },
    )
    code, _, stderr = cli("run", "-c", str(config))
    assert code == 1
    assert "data.query failed" in stderr and "no such table: nope" in stderr


def test_config_schema_and_show(breast_cancer: Project) -> None:
    code, stdout, _ = cli("config", "schema")
    assert code == 0
    schema = json.loads(stdout)
    assert {"data", "split", "tracking", "metric"} <= set(schema["properties"])
    code, stdout, _ = cli(
        "config", "show", "-c", str(breast_cancer.config_path), "--set", "split.seed=7"
    )
    assert code == 0 and "seed: 7" in stdout


def test_ui_serves_the_project_store(breast_cancer: Project) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "loopml.cli",
        "ui",
        "-c",
        str(breast_cancer.config_path),
        "--port",
        str(port),
    ]
    # Its own process group: `loopml ui` starts `mlflow ui`, which starts uvicorn and job
    # workers; stopping only the first would leave the others running after the test.
    ui = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240  # MLflow UI starts slowly on a busy 2-core box
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the MLflow UI did not answer within 240 s")
        answer = httpx.post(
            f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search",
            json={"max_results": 10},
            timeout=10,
        )
        names = [e["name"] for e in answer.json()["experiments"]]
        assert "breast-cancer" in names
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        try:
            ui.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(ui.pid, signal.SIGKILL)
