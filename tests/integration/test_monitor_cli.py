"""`loopml monitor` and `loopml feedback` through the real CLI, MLflow store and webhook."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from loopml.tracking.store import Tracker
from tests.integration.conftest import Project, cli
from tests.integration.logged import write_frame
from tests.integration.postgres import fresh_database

pytestmark = pytest.mark.integration
MIN_ROWS = "monitoring.drift.min_rows=100"


class Hook:
    """A real webhook receiver on a free loopback port; keeps the JSON bodies it gets."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def frames(breast_cancer: Project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("current")
    data = pd.read_csv(breast_cancer.folder / "data" / "breast_cancer.csv")
    same = data.sample(300, random_state=1)
    shifted = data.sample(400, replace=True, random_state=2)
    shifted["mean radius"] *= 1.4
    paths = {"same": folder / "same.csv", "shifted": folder / "shifted.parquet"}
    same.to_csv(paths["same"], index=False)
    shifted.to_parquet(paths["shifted"], index=False)
    paths["no_column"] = folder / "no_column.csv"
    same.drop(columns=["mean texture"]).to_csv(paths["no_column"], index=False)
    return paths


def _monitoring_runs(project: Project) -> int:
    cfg = project.cfg
    tracker = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name)
    experiment = tracker.experiment_id(create=False)
    runs = tracker.client.search_runs([experiment], "tags.`loopml.kind` = 'monitoring'")
    return len(runs)


def test_same_distribution_is_healthy_and_reports_are_self_contained(
    breast_cancer: Project, frames: dict[str, Path], tmp_path: Path
) -> None:
    before = _monitoring_runs(breast_cancer)
    code, stdout, stderr = cli(
        "monitor", "-c", str(breast_cancer.config_path), "--current", str(frames["same"]),
        "--set", MIN_ROWS, "--set", "monitoring.decay.every=100", "-o", str(tmp_path), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    found = json.loads(stdout)
    assert found["status"] == "healthy" and found["reasons"] == []
    assert len(found["drift"]["features"]) == 30
    assert found["drift"]["prediction"]["rows"] == 300
    assert found["decay"]["rows"] == 300 and found["decay"]["metric"] == "f1_macro"
    attribution = found["drift"]["attribution"]  # the model's reliance on its columns
    assert attribution["rows"] == 300 and len(attribution["columns"]) == 30
    assert attribution["reference_rows"] > 0
    assert abs(sum(c["current"] for c in attribution["columns"]) - 1) < 1e-9
    assert not [c for c in attribution["columns"] if c["shifted"]]
    html = (tmp_path / "monitor.html").read_text()
    assert html.count("<svg ") == 33  # 30 features, the prediction, attributions, decay
    assert 'id="attributions"' in html
    assert [p["end"] for p in found["decay"]["series"]] == ["row 100", "row 200", "row 300"]
    assert not re.search(r"""(src|href)=["']?https?:""", html)
    assert json.loads((tmp_path / "monitor.json").read_text())["status"] == "healthy"
    assert _monitoring_runs(breast_cancer) == before + 1
    assert "healthy breast-cancer v1: no drift in 30 features (300 rows)" in stderr


def test_too_few_rows_to_judge_is_said_not_called_healthy(
    breast_cancer: Project, frames: dict[str, Path], tmp_path: Path
) -> None:
    code, _, stderr = cli(
        "monitor", "-c", str(breast_cancer.config_path), "--current", str(frames["same"]),
        "--set", "monitoring.drift.min_rows=100000", "--set", "monitoring.decay.min_rows=100000",
        "-o", str(tmp_path),
    )  # fmt: skip
    assert code == 0, stderr
    assert "not judged breast-cancer v1: drift not judged: 300 current rows" in stderr
    assert "healthy" not in stderr


def test_drift_exits_3_and_posts_the_alert_to_the_webhook(
    breast_cancer: Project, frames: dict[str, Path], tmp_path: Path
) -> None:
    with Hook() as hook:
        hooked = f"monitoring.alerts.webhook={hook.url}"
        code, stdout, stderr = cli(
            "monitor", "-c", str(breast_cancer.config_path), "--current", str(frames["shifted"]),
            "--set", MIN_ROWS, "--set", hooked, "-o", str(tmp_path),
        )  # fmt: skip
    assert code == 3, stderr
    assert re.search(r"mean radius\s.*drift", stdout)
    assert re.search(r"Attributions \(\d+ rows\): ", stdout)  # the model's reliance, compared
    assert f"Alert webhook: sent to {hook.url}" in stderr
    (body,) = hook.received
    assert body["event"] == "loopml.alert" and body["reasons"] == ["drift"]
    assert "mean radius" in body["drifted_features"]
    assert body["model"] == {"name": "breast-cancer", "version": "1"}


def test_an_unreachable_webhook_is_a_warning_not_an_error(
    breast_cancer: Project, frames: dict[str, Path], tmp_path: Path
) -> None:
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/hook"
    code, _, stderr = cli(
        "monitor", "-c", str(breast_cancer.config_path), "--current", str(frames["shifted"]),
        "--set", MIN_ROWS, "--set", f"monitoring.alerts.webhook={url}", "-o", str(tmp_path),
    )  # fmt: skip
    assert code == 3
    assert f"warning: alert webhook {url} failed" in stderr


def test_a_file_without_a_feature_is_one_error_line_and_leaves_nothing(
    breast_cancer: Project, frames: dict[str, Path], tmp_path: Path
) -> None:
    before = _monitoring_runs(breast_cancer)
    code, stdout, stderr = cli(
        "monitor", "-c", str(breast_cancer.config_path), "--current", str(frames["no_column"]),
        "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 1 and stdout == ""
    (line,) = [x for x in stderr.splitlines() if x.startswith("error:")]
    assert "no_column.csv: missing 1 feature column(s)" in line and "'mean texture'" in line
    assert not (tmp_path / "out").exists()
    assert _monitoring_runs(breast_cancer) == before


def test_monitor_without_a_log_says_how_to_make_one(breast_cancer: Project, tmp_path: Path) -> None:
    code, _, stderr = cli(
        "monitor", "-c", str(breast_cancer.config_path),
        "--set", f"serve.prediction_log.url=sqlite:///{tmp_path / 'none.db'}", "-o", str(tmp_path),
    )  # fmt: skip
    assert code == 1
    assert "none.db: no prediction log yet; serve the model with `loopml serve`" in stderr


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_feedback_joins_labels_and_monitor_measures_decay_from_the_log(
    breast_cancer: Project, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    import loopml

    cfg = breast_cancer.cfg
    data = pd.read_csv(breast_cancer.folder / "data" / "breast_cancer.csv").head(250)
    model = loopml.load_model("models:/breast-cancer@champion", tracking_uri=cfg.tracking.uri)
    predicted = model.predict(data)
    url = f"sqlite:///{tmp_path / 'log.db'}"
    if database == "postgresql":
        url = fresh_database(request.getfixturevalue("postgres"), "monitor_cli")
    write_frame(url, data[model.feature_names], predicted, model="breast-cancer", prefix="q")
    labels = pd.DataFrame(
        {"request_id": [f"q{i}" for i in range(250)], "diagnosis": data["diagnosis"]}
    )
    labels.loc[len(labels)] = ["unknown-request", "benign"]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    settings = ["--set", f"serve.prediction_log.url={url}"]
    code, stdout, stderr = cli(
        "feedback", str(tmp_path / "labels.csv"), "-c", str(breast_cancer.config_path), *settings
    )
    assert code == 0, stderr
    assert stdout.strip() == "250"
    assert "1 of 251 labels match no logged prediction yet" in stderr
    code, stdout, stderr = cli(
        "monitor", "-c", str(breast_cancer.config_path), *settings, "--set", MIN_ROWS,
        "--set", "monitoring.decay.every=50", "-o", str(tmp_path), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    decay = json.loads(stdout)["decay"]
    assert decay["rows"] == 250 and len(decay["series"]) == 5
    assert decay["current"] > 0.9 and not decay["alert"]


def test_feedback_without_request_ids_writes_nothing(
    breast_cancer: Project, tmp_path: Path
) -> None:
    pd.DataFrame({"id": ["a"], "diagnosis": ["benign"]}).to_csv(tmp_path / "bad.csv", index=False)
    code, stdout, stderr = cli(
        "feedback", str(tmp_path / "bad.csv"), "-c", str(breast_cancer.config_path),
        "--set", f"serve.prediction_log.url=sqlite:///{tmp_path / 'log.db'}",
    )  # fmt: skip
    assert code == 1 and stdout == ""
    assert "bad.csv: no 'request_id' column (columns: id, diagnosis)" in stderr
    assert not (tmp_path / "log.db").exists()
