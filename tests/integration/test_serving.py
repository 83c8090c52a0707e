"""The HTTP service on a real uvicorn server: protocols, auth, limits, rollouts, reload, log."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import orjson
import pandas as pd
import pytest
from mlflow.pyfunc.scoring_server.client import ScoringServerClient

import loopml
from loopml.config import load_config
from loopml.errors import ConfigError
from loopml.serving.loadtest import bodies_from_csv, run_load
from loopml.serving.runner import ServeArgs, build_app
from loopml.workflows.init import init_project
from tests.integration.conftest import LiveServer, Project, cli, train_cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Breast cancer with two registered versions: v1 champion, v2 challenger."""
    folder = tmp_path_factory.mktemp("two_versions")
    init_project(folder, "breast_cancer")
    config = folder / "loopml.yaml"
    train_cli(config, "--set", "models.candidates=[logistic_regression]")
    run_id = train_cli(config, "--set", "models.candidates={logistic_regression: {C: 0.05}}")
    return Project(folder, config, run_id)


def _serve(project: Project, *overrides: str, model: str | None = None) -> LiveServer:
    args = ServeArgs(str(project.config_path), list(overrides), model)
    return LiveServer(build_app(args))


def _rows(project: Project, n: int = 3) -> pd.DataFrame:
    return pd.read_csv(project.folder / "data" / "score_me.csv").head(n)


def _features(project: Project) -> list[str]:
    model = loopml.load_model(
        "models:/breast-cancer@champion", tracking_uri=project.cfg.tracking.uri
    )
    return model.feature_names


@pytest.fixture(scope="module")
def server(breast_cancer: Project) -> Iterator[LiveServer]:
    with _serve(breast_cancer, "serve.reload_interval=0") as live:
        yield live


def test_predict_returns_labels_probabilities_abstained_model_and_request_id(
    server: LiveServer, breast_cancer: Project, http: httpx.Client
) -> None:
    records = _rows(breast_cancer).to_dict("records")
    answer = http.post(f"{server.url}/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body["predictions"]) <= {"benign", "malignant"}
    assert len(body["probabilities"]) == 3
    assert sum(body["probabilities"][0].values()) == pytest.approx(1.0)
    assert body["abstained"] == [False, False, False]
    assert body["model"]["version"] == "1"
    assert answer.headers["x-request-id"] == body["request_id"]
    native = pd.Series(body["predictions"])
    # the project's own store, named: MLflow's global URI is whichever store the worker
    # opened last
    mlflow.set_tracking_uri(load_config(breast_cancer.config_path).tracking.uri)
    model = mlflow.sklearn.load_model(f"runs:/{breast_cancer.run_id}/model")
    assert list(native) == list(model.predict(_rows(breast_cancer)[_features(breast_cancer)]))


def test_engine_is_onnx_with_parity_figures(server: LiveServer, http: httpx.Client) -> None:
    state = server.server.config.app.state.serving
    assert state.champion.engine.name == "onnx"
    report = state.champion.loaded.compiled.report
    assert report.ok and report.label_agreement >= 0.999 and report.max_proba_diff <= 1e-4
    assert http.get(f"{server.url}/health").json()["engine"] == "onnx"


def test_mlflow_scoring_server_client_works_unchanged(
    server: LiveServer, breast_cancer: Project
) -> None:
    client = ScoringServerClient("127.0.0.1", server.port)
    client.wait_server_ready(timeout=10)
    frame = _rows(breast_cancer, 5)[_features(breast_cancer)]
    answer = client.invoke(frame)
    assert len(answer.get_predictions()) == 5
    assert client.get_version() == mlflow.__version__


def test_every_mlflow_input_format_gives_the_same_predictions(
    server: LiveServer, breast_cancer: Project, http: httpx.Client
) -> None:
    frame = _rows(breast_cancer, 4)[_features(breast_cancer)]
    url = f"{server.url}/invocations"
    bodies: list[dict[str, Any]] = [
        {"dataframe_split": frame.to_dict(orient="split")},
        {"dataframe_records": frame.to_dict(orient="records")},
        {"instances": frame.to_dict(orient="records")},
        {"inputs": frame.to_dict(orient="list")},
        {"instances": frame.to_numpy().tolist()},
    ]
    answers = [http.post(url, json=b).json()["predictions"] for b in bodies]
    csv = http.post(url, content=frame.to_csv(index=False), headers={"content-type": "text/csv"})
    answers.append(csv.json()["predictions"])
    assert all(a == answers[0] for a in answers), answers


def test_mlflow_errors_have_mlflow_body_shape(server: LiveServer, http: httpx.Client) -> None:
    url = f"{server.url}/invocations"
    bad = http.post(url, json={"dataframe_split": {"columns": ["x"], "data": [[1]]}})
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "BAD_REQUEST" and "missing" in bad.json()["message"]
    odd = http.post(url, content=b"a,b", headers={"content-type": "application/xml"})
    assert odd.status_code == 415 and "content type" in odd.json()["message"]
    for path in ("/ping", "/health", "/version"):
        assert http.get(server.url + path).status_code == 200


def test_open_inference_protocol(
    server: LiveServer, breast_cancer: Project, http: httpx.Client
) -> None:
    assert http.get(f"{server.url}/v2/health/live").status_code == 200
    assert http.get(f"{server.url}/v2/health/ready").json() == {"ready": True}
    meta = http.get(f"{server.url}/v2/models/breast-cancer").json()
    assert meta["versions"] == ["1"] and len(meta["inputs"]) == 30
    frame = _rows(breast_cancer, 2)[_features(breast_cancer)]
    per_column = {
        "inputs": [
            {"name": c, "shape": [2], "datatype": "FP64", "data": frame[c].tolist()}
            for c in frame.columns
        ]
    }
    one_tensor = {
        "inputs": [
            {"name": "x", "shape": [2, 30], "datatype": "FP64", "data": frame.to_numpy().tolist()}
        ]
    }
    url = f"{server.url}/v2/models/breast-cancer/infer"
    first, second = http.post(url, json=per_column).json(), http.post(url, json=one_tensor).json()
    assert first["outputs"][0]["data"] == second["outputs"][0]["data"]
    assert first["outputs"][1]["shape"] == [2, 2]
    wrong = http.post(
        url,
        json={
            "inputs": [
                {"name": "x", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}
            ]
        },
    )
    # 30 features in the model's order, or the training file's 32 columns (id and target too)
    assert wrong.status_code == 400 and "[rows, 30 or 32]" in wrong.json()["error"]
    assert http.post(f"{server.url}/v2/models/other/infer", json=one_tensor).status_code == 404


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"records": []}', "no rows"),
        (b'{"records": [1]}', "record 0 must be an object"),
        (b'{"rows": []}', "records"),
        (b'{"records": [{"mean radius": 1}]}', "missing 29 column"),
        (b'{"records": [{"mean radius": 1e999, REST}]}', "too large"),
        (
            b'{"records": [{"mean radius": 12345678901234567890123456789012345678901234567890'
            b"1234567890123456789012345678901234567890123456789012345678901234567890123456789"
            b"0123456789012345678901234567890123456789012345678901234567890123456789012345678"
            b"9012345678901234567890123456789012345678901234567890123456789012345678901234567"
            b"890123456789012345678901234567890123456789012, REST}]}",
            "too large",
        ),
        (b'{"records": [{"mean radius": NaN, REST}], "x": 1}', "unknown field 'x'"),
        (b'{"records": [{"mean radius": [1, 2], REST}]}', "expected a number, got [1, 2]"),
        (b'{"records": [{"mean radius": "large", REST}]}', "expected a number (decimal '.')"),
    ],
)
def test_malformed_predict_bodies_are_4xx_naming_the_problem(
    server: LiveServer, breast_cancer: Project, http: httpx.Client, body: bytes, needle: str
) -> None:
    record = _rows(breast_cancer, 1).drop(columns=["mean radius"]).to_dict("records")[0]
    body = body.replace(b"REST", orjson.dumps(record)[1:-1])
    answer = http.post(
        f"{server.url}/predict", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= answer.status_code < 500
    assert needle in answer.json()["detail"][0]["msg"]


def test_wrong_types_extra_columns_and_content_type(
    server: LiveServer, breast_cancer: Project, http: httpx.Client
) -> None:
    record = _rows(breast_cancer, 1).to_dict("records")[0]
    url = f"{server.url}/predict"
    typed = http.post(url, json={"records": [{**record, "mean radius": "large"}]})
    assert typed.status_code == 422 and "'mean radius'" in typed.json()["detail"][0]["msg"]
    assert typed.json()["detail"][0]["loc"] == ["body", "records", 0, "mean radius"]
    extra = http.post(url, json={"records": [{**record, "colour": "red"}]})
    assert (
        extra.status_code == 422 and "unknown column 'colour'" in extra.json()["detail"][0]["msg"]
    )
    text = http.post(url, content=b"x", headers={"content-type": "text/plain"})
    assert text.status_code == 415
    nulls = http.post(url, json={"records": [{**record, "mean radius": None}]})
    assert nulls.status_code == 200


def test_metrics_count_requests_batches_and_model_version(
    server: LiveServer, breast_cancer: Project, http: httpx.Client
) -> None:
    http.post(f"{server.url}/predict", json={"records": _rows(breast_cancer, 2).to_dict("records")})
    text = http.get(f"{server.url}/metrics").text
    assert 'loopml_requests_total{endpoint="predict",status="200"}' in text
    assert "loopml_request_seconds_bucket" in text and "loopml_batch_rows_bucket" in text
    assert (
        'loopml_model_info{engine="onnx",name="breast-cancer",role="champion",version="1"} 1.0'
        in text
    )
    assert "loopml_in_flight_requests" in text and "loopml_abstentions_total" in text


def test_limits_on_body_rows_and_time(breast_cancer: Project, http: httpx.Client) -> None:
    record = _rows(breast_cancer, 1).to_dict("records")[0]
    overrides = (
        "serve.reload_interval=0",
        "serve.limits.max_rows=5",
        "serve.limits.max_body_bytes=20000",
    )
    with _serve(breast_cancer, *overrides) as live:
        rows = http.post(f"{live.url}/predict", json={"records": [record] * 6})
        assert rows.status_code == 413 and "limits.max_rows" in rows.json()["detail"][0]["msg"]
        body = http.post(f"{live.url}/predict", json={"records": [record] * 30})
        assert (
            body.status_code == 413 and "limits.max_body_bytes" in body.json()["detail"][0]["msg"]
        )
    with _serve(breast_cancer, "serve.limits.request_timeout=0.000001") as live:
        slow = http.post(f"{live.url}/predict", json={"records": [record]})
        assert (
            slow.status_code == 408 and "limits.request_timeout" in slow.json()["detail"][0]["msg"]
        )


def test_bearer_token_auth(
    breast_cancer: Project, http: httpx.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOOPML_TEST_TOKENS", "s3cret,other")
    (tmp_path / "tokens").write_text("from-file\n")
    record = _rows(breast_cancer, 1).to_dict("records")[0]
    overrides = (
        "serve.reload_interval=0",
        "serve.auth.token_env=LOOPML_TEST_TOKENS",
        f"serve.auth.token_file={tmp_path / 'tokens'}",
    )
    with _serve(breast_cancer, *overrides) as live:
        body = {"records": [record]}
        assert http.post(f"{live.url}/predict", json=body).status_code == 401
        wrong = http.post(
            f"{live.url}/invocations",
            json={"dataframe_records": [record]},
            headers={"authorization": "Bearer nope"},
        )
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert wrong.json()["error_code"] == "UNAUTHENTICATED"
        assert http.get(f"{live.url}/v2/models/breast-cancer").status_code == 401
        for token in ("s3cret", "other", "from-file"):
            ok = http.post(
                f"{live.url}/predict", json=body, headers={"authorization": f"Bearer {token}"}
            )
            assert ok.status_code == 200
        assert http.get(f"{live.url}/health").status_code == 200  # open by default
        assert http.get(f"{live.url}/metrics").status_code == 200


def test_missing_token_source_is_one_clear_error(breast_cancer: Project) -> None:
    code, _, stderr = cli(
        "serve", "-c", str(breast_cancer.config_path), "--set", "serve.auth.token_env=NOPE_UNSET"
    )
    assert code == 1 and "NOPE_UNSET is unset or empty" in stderr


def test_forcing_onnx_on_a_model_without_artifact_is_refused(breast_cancer: Project) -> None:
    from loopml.serving.engine import choose_engine
    from loopml.tracking.models import LoadedModel, load

    model = load("models:/breast-cancer@champion", tracking_uri=breast_cancer.cfg.tracking.uri)
    bare = LoadedModel(model, None, "this model version has no ONNX artifact")
    engine, note = choose_engine(bare, "auto")
    assert engine.name == "native" and "no ONNX artifact" in note
    with pytest.raises(ConfigError, match=r"serve\.engine=onnx"):
        choose_engine(bare, "onnx")


def test_canary_sends_the_configured_share_to_the_challenger(
    two_versions: Project, http: httpx.Client
) -> None:
    record = _rows(two_versions, 1).to_dict("records")[0]
    overrides = (
        "serve.reload_interval=0",
        "serve.rollout.mode=canary",
        "serve.rollout.canary_share=0.25",
        "serve.rollout.seed=7",
        "serve.prediction_log.enabled=false",
    )
    with _serve(two_versions, *overrides) as live:
        versions = [
            http.post(f"{live.url}/predict", json={"records": [record]}).json()["model"]["version"]
            for _ in range(1000)
        ]
    share = versions.count("2") / 1000
    assert set(versions) == {"1", "2"}
    assert abs(share - 0.25) < 0.05  # about 3.6 standard deviations of a binomial(1000, 0.25)


def test_shadow_scores_every_request_but_never_answers(
    two_versions: Project, http: httpx.Client
) -> None:
    record = _rows(two_versions, 1).to_dict("records")[0]
    overrides = (
        "serve.reload_interval=0",
        "serve.rollout.mode=shadow",
        "serve.prediction_log.url=sqlite:///.loopml/shadow.db",
        "serve.prediction_log.flush_interval=0.1",
    )
    with _serve(two_versions, *overrides) as live:
        answers = [
            http.post(f"{live.url}/predict", json={"records": [record]}).json() for _ in range(20)
        ]
        time.sleep(0.5)
    assert {a["model"]["version"] for a in answers} == {"1"}
    with sqlite3.connect(two_versions.folder / ".loopml" / "shadow.db") as db:
        roles = dict(db.execute("SELECT role, count(*) FROM loopml_predictions GROUP BY role"))
    assert roles == {"champion": 20, "shadow": 20}


def test_prediction_log_schema_and_contents(two_versions: Project, http: httpx.Client) -> None:
    record = _rows(two_versions, 2).to_dict("records")
    overrides = (
        "serve.reload_interval=0",
        "serve.prediction_log.url=sqlite:///.loopml/log.db",
        "serve.prediction_log.flush_interval=0.2",
    )
    with _serve(two_versions, *overrides) as live:
        answer = http.post(f"{live.url}/predict", json={"records": record}).json()
        time.sleep(0.6)  # one flush interval, while the server still runs
        with sqlite3.connect(two_versions.folder / ".loopml" / "log.db") as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM loopml_predictions").fetchall()
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert len(rows) == 1
    row = dict(rows[0])
    assert row["request_id"] == answer["request_id"]
    assert (row["model_name"], row["model_version"], row["role"]) == (
        "breast-cancer",
        "1",
        "champion",
    )
    assert row["n_rows"] == 2 and row["latency_ms"] > 0 and row["ts"].startswith("20")
    import json

    outputs, inputs = json.loads(row["outputs"]), json.loads(row["inputs"])
    assert outputs["predictions"] == answer["predictions"]
    assert inputs["mean radius"] == [r["mean radius"] for r in record]


def test_reload_during_a_load_test_drops_nothing(two_versions: Project) -> None:
    cfg = two_versions.cfg
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    client.set_registered_model_alias("breast-cancer", "champion", "1")
    overrides = ("serve.reload_interval=0.2", "serve.prediction_log.enabled=false")
    try:
        with _serve(two_versions, *overrides) as live:
            frozen_at_start = gc.get_freeze_count()  # the server runs in this process
            gc.unfreeze()  # so that only the reload can freeze again
            url = f"{live.url}/predict"
            bodies = bodies_from_csv(two_versions.folder / "data" / "score_me.csv", url)
            outcome: dict[str, Any] = {}

            def load() -> None:
                outcome["result"] = asyncio.run(
                    run_load(url, bodies, concurrency=8, requests=3000, duration_s=20)
                )

            worker = threading.Thread(target=load)
            worker.start()
            time.sleep(1.0)
            client.set_registered_model_alias("breast-cancer", "champion", "2")
            worker.join(timeout=60)
            deadline = time.monotonic() + 60  # the switch is in the background; bounded wait
            health = httpx.get(f"{live.url}/health").json()
            while health["model"]["version"] != "2" and time.monotonic() < deadline:
                time.sleep(0.2)
                health = httpx.get(f"{live.url}/health").json()
            reloads = httpx.get(f"{live.url}/metrics").text
            frozen_after_reload = gc.get_freeze_count()
    finally:
        client.set_registered_model_alias("breast-cancer", "champion", "1")
    result = outcome["result"]
    assert result.requests == 3000 and result.errors == 0, result.first_error
    assert health["model"]["version"] == "2"
    assert 'loopml_reloads_total{outcome="switched"} 1.0' in reloads
    # the loaded, warmed models are out of the collector's reach, after start and reload
    assert frozen_at_start > 100_000 and frozen_after_reload > 100_000


def test_loadtest_command_prints_a_table_and_json(
    server: LiveServer, breast_cancer: Project
) -> None:
    csv = str(breast_cancer.folder / "data" / "score_me.csv")
    code, stdout, stderr = cli(
        "loadtest", f"{server.url}/predict", "--csv", csv, "--requests", "200", "--concurrency", "4"
    )
    assert code == 0, stderr
    assert "req/s" in stdout and "p99 ms" in stdout
    code, stdout, _ = cli(
        "loadtest", f"{server.url}/invocations", "--csv", csv, "--requests", "100", "--json"
    )
    import json

    result = json.loads(stdout)
    assert result["requests"] == 100 and result["errors"] == 0 and result["p99_ms"] > 0


def test_loadtest_refuses_remote_hosts_and_needs_a_body(breast_cancer: Project) -> None:
    code, _, stderr = cli("loadtest", "http://192.0.2.1:8000/predict", "--body", "x.json")
    assert code == 1 and "not a loopback address" in stderr
    code, _, stderr = cli("loadtest", "http://127.0.0.1:9/predict")
    assert code == 1 and "exactly one of --csv" in stderr


def test_openapi_fuzz_finds_no_server_error(server: LiveServer) -> None:
    schemathesis = pytest.importorskip("schemathesis", reason="a dev dependency: loopml[dev]")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures: list[str] = []

    def fuzz(operation: Any) -> None:
        @given(case=operation.as_strategy())
        @settings(
            max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: Any) -> None:
            response = case.call(base_url=server.url, timeout=10)
            if response.status_code >= 500:
                failures.append(f"{operation.method.upper()} {operation.path}: {response.text}")
            case.validate_response(response, checks=[not_a_server_error])

        check()

    operations = [result.ok() for result in schema.get_all_operations()]
    assert {"/predict", "/invocations", "/v2/models/{name}/infer"} <= {o.path for o in operations}
    for operation in operations:
        fuzz(operation)
    assert not failures, failures
