"""The HTTP service against a real uvicorn server: /predict, /health, OpenAPI and 422s."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from loopml.core.scoring import ScoringModel
from loopml.serving.app import create_app
from loopml.tracking.models import load
from tests.conftest import free_port
from tests.integration.conftest import LiveServer, Project, cli
from tests.integration.served import wait_healthy

pytestmark = pytest.mark.integration

CLASSES = {"benign", "malignant"}


@pytest.fixture(scope="module")
def model(breast_cancer: Project) -> ScoringModel:
    return load("models:/breast-cancer@champion", tracking_uri=breast_cancer.cfg.tracking.uri)


@pytest.fixture(scope="module")
def server(model: ScoringModel) -> Iterator[LiveServer]:
    with LiveServer(create_app(model)) as live:
        yield live


@pytest.fixture(scope="module")
def rows(breast_cancer: Project, model: ScoringModel) -> pd.DataFrame:
    """score_me.csv with the feature columns only (what a client sends)."""
    frame = pd.read_csv(breast_cancer.folder / "data" / "score_me.csv")
    return frame[model.feature_names]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict(orient="records")


def _locs(response: httpx.Response) -> list[list[Any]]:
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return [entry["loc"] for entry in detail]


def test_health_names_the_model(server: LiveServer, http: httpx.Client) -> None:
    response = http.get(f"{server.url}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["model"]["name"] == "breast-cancer"
    assert body["model"]["version"] == "1"


def test_openapi_lists_predict_and_docs_render(server: LiveServer, http: httpx.Client) -> None:
    spec = http.get(f"{server.url}/openapi.json")
    assert spec.status_code == 200
    assert "post" in spec.json()["paths"]["/predict"]
    docs = http.get(f"{server.url}/docs")
    assert docs.status_code == 200
    assert "openapi.json" in docs.text


def test_predictions_match_the_model_in_process(
    server: LiveServer, http: httpx.Client, model: ScoringModel, rows: pd.DataFrame
) -> None:
    # One row of each predicted class and one more, so a constant answer cannot pass.
    local = model.predict(rows)
    picked = [
        int(np.flatnonzero(local == "benign")[0]),
        int(np.flatnonzero(local == "malignant")[0]),
        2,
    ]
    frame = rows.iloc[picked].reset_index(drop=True)
    response = http.post(f"{server.url}/predict", json={"records": _records(frame)})
    assert response.status_code == 200, response.text
    body = response.json()

    assert len(body["predictions"]) == 3
    assert set(body["predictions"]) <= CLASSES
    assert body["predictions"] == model.predict(frame).tolist()

    assert len(body["probabilities"]) == 3
    expected = model.predict_proba(frame)
    for row, want in zip(body["probabilities"], expected, strict=True):
        assert set(row) == CLASSES
        assert sum(row.values()) == pytest.approx(1.0, abs=1e-9)
        assert [row[str(c)] for c in model.classes] == pytest.approx(want.tolist(), abs=1e-9)

    assert body["model"] == {"name": "breast-cancer", "version": "1", "run_id": model.run_id}
    again = http.post(f"{server.url}/predict", json={"records": _records(frame)}).json()
    assert body["request_id"] and again["request_id"]
    assert body["request_id"] != again["request_id"]


def test_null_in_a_numeric_field_is_imputed(
    server: LiveServer, http: httpx.Client, model: ScoringModel, rows: pd.DataFrame
) -> None:
    record = _records(rows.head(1))[0]
    record["mean radius"] = None
    response = http.post(f"{server.url}/predict", json={"records": [record]})
    assert response.status_code == 200, response.text
    frame = rows.head(1).copy()
    frame["mean radius"] = np.nan
    assert response.json()["predictions"] == model.predict(frame).tolist()


def test_integer_in_a_numeric_field_is_accepted(
    server: LiveServer, http: httpx.Client, rows: pd.DataFrame
) -> None:
    record = _records(rows.head(1))[0]
    record["mean area"] = 500
    response = http.post(f"{server.url}/predict", json={"records": [record]})
    assert response.status_code == 200, response.text


def test_missing_field_is_a_422_naming_it(
    server: LiveServer, http: httpx.Client, rows: pd.DataFrame
) -> None:
    record = _records(rows.head(1))[0]
    del record["worst texture"]
    response = http.post(f"{server.url}/predict", json={"records": [record]})
    assert response.status_code == 422
    assert [loc[-1] for loc in _locs(response)] == ["worst texture"]


def test_text_in_a_numeric_field_is_a_422_naming_it(
    server: LiveServer, http: httpx.Client, rows: pd.DataFrame
) -> None:
    record = _records(rows.head(1))[0]
    record["mean radius"] = "large"
    response = http.post(f"{server.url}/predict", json={"records": [record]})
    assert response.status_code == 422
    locs = _locs(response)
    assert locs and all("mean radius" in loc for loc in locs), locs


def test_a_number_written_as_text_reads_as_the_number(
    server: LiveServer, http: httpx.Client, model: ScoringModel, rows: pd.DataFrame
) -> None:
    # The data contract reads "12.5" as the training file's reader does: 12.5.
    record = _records(rows.head(1))[0]
    written = {**record, "mean radius": "12.5"}
    plain = {**record, "mean radius": 12.5}
    response = http.post(f"{server.url}/predict", json={"records": [written, plain]})
    assert response.status_code == 200, response.text
    first, second = response.json()["probabilities"]
    assert first == second
    frame = rows.head(1).copy()
    frame["mean radius"] = 12.5
    assert [first[str(c)] for c in model.classes] == pytest.approx(
        model.predict_proba(frame)[0].tolist(), abs=1e-6
    )


def test_extra_field_is_a_422_naming_it(
    server: LiveServer, http: httpx.Client, rows: pd.DataFrame
) -> None:
    record = _records(rows.head(1))[0]
    record["tumour colour"] = "red"
    response = http.post(f"{server.url}/predict", json={"records": [record]})
    assert response.status_code == 422
    assert [loc[-1] for loc in _locs(response)] == ["tumour colour"]


def test_empty_records_is_a_422(server: LiveServer, http: httpx.Client) -> None:
    response = http.post(f"{server.url}/predict", json={"records": []})
    assert response.status_code == 422
    assert _locs(response)[0][-1] == "records"


def test_body_that_is_not_json_is_a_client_error(server: LiveServer, http: httpx.Client) -> None:
    response = http.post(
        f"{server.url}/predict",
        content=b"mean radius=12",
        headers={"content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text


def test_several_errors_are_all_reported(
    server: LiveServer, http: httpx.Client, rows: pd.DataFrame
) -> None:
    first, second = _records(rows.head(2))
    first["mean radius"] = "large"
    del second["worst area"]
    response = http.post(f"{server.url}/predict", json={"records": [first, second]})
    assert response.status_code == 422
    locs = _locs(response)
    assert len(locs) == 2, locs
    assert locs[0][-2:] == [0, "mean radius"]
    assert locs[1][-2:] == [1, "worst area"]


def test_more_than_max_rows_is_a_413(
    model: ScoringModel, http: httpx.Client, rows: pd.DataFrame
) -> None:
    with LiveServer(create_app(model, max_rows=5)) as small:
        at_limit = http.post(f"{small.url}/predict", json={"records": _records(rows.head(5))})
        assert at_limit.status_code == 200, at_limit.text
        over = http.post(f"{small.url}/predict", json={"records": _records(rows.head(6))})
        assert over.status_code == 413
        assert _locs(over)[0][-1] == "records"


def test_cli_serve_in_a_subprocess(
    breast_cancer: Project, rows: pd.DataFrame, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    command = [
        sys.executable,
        "-m",
        "loopml.cli",
        "serve",
        "--config",
        str(breast_cancer.config_path),
        "--port",
        str(port),
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=breast_cancer.folder, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            health = wait_healthy(url, process, log)
            assert health.status_code == 200
            assert health.json()["model"]["name"] == "breast-cancer"
            response = httpx.post(
                f"{url}/predict", json={"records": _records(rows.head(1))}, timeout=10
            )
            assert response.status_code == 200, response.text
            assert response.json()["predictions"][0] in CLASSES
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
    assert f"http://127.0.0.1:{port}" in log.read_text()


def test_cli_serve_with_an_unknown_alias_is_one_line(breast_cancer: Project) -> None:
    code, _, stderr = cli(
        "serve", "--config", str(breast_cancer.config_path), "--model", "nonexistent-alias"
    )
    assert code == 1, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "nonexistent-alias" in lines[0]


def _module_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loopml.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_dash_m_runs_the_cli() -> None:
    result = _module_cli("--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "predict", "run"):
        assert command in result.stdout


def test_version_flag_prints_the_version() -> None:
    from loopml import __version__

    result = _module_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == __version__


def test_cli_serve_with_two_workers_answers_and_logs_every_request(
    breast_cancer: Project, rows: pd.DataFrame, tmp_path: Path
) -> None:
    """`--workers 2`: uvicorn's worker processes each build the app; every request is
    answered, /metrics (whichever worker answers it) counts all of them, and every request
    lands in the shared SQLite prediction log by the time the server stops."""
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor

    port, log, database = free_port(), tmp_path / "serve.log", tmp_path / "predictions.db"
    command = [
        sys.executable, "-m", "loopml.cli", "serve", "--config", str(breast_cancer.config_path),
        "--port", str(port), "--workers", "2",
        "--set", f"serve.prediction_log.url=sqlite:///{database}",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    body = {"records": _records(rows.head(1))}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=breast_cancer.folder, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            wait_healthy(url, process, log)
            with httpx.Client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
                answers = list(
                    pool.map(lambda _: client.post(f"{url}/predict", json=body), range(40))
                )
                scraped = [client.get(f"{url}/metrics").text for _ in range(6)]
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert [a.status_code for a in answers] == [200] * 40, log.read_text()
    ids = {a.json()["request_id"] for a in answers}
    assert len(ids) == 40
    for text in scraped:
        assert _sample(text, "loopml_predictions_total") == 40, text
        assert _sample(text, "loopml_requests_total", 'endpoint="predict"') == 40, text
    with sqlite3.connect(database) as conn:
        logged = {r[0] for r in conn.execute("SELECT request_id FROM loopml_predictions")}
    assert ids <= logged


def _sample(metrics: str, name: str, labels: str = "") -> float:
    """The sum of a metric's samples whose label set contains ``labels``."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name) and labels in line and not line.startswith("#")
    )
