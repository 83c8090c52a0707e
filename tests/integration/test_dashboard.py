"""/dashboard in headless Chromium against a real server: it loads without console errors
and shows the numbers /metrics exports and `loopml monitor` computes."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from loopml.serving.app import create_app
from loopml.serving.predlog import PredictionLogWriter
from loopml.tracking.models import load
from tests.integration.conftest import LiveServer, Project, cli

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH: install Debian's chromium package for browser tests")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        yield launched
        launched.close()


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(2) or "") for k, v in labels.items()):
            total += float(match.group(3))
    return total


def test_dashboard_matches_metrics_and_monitor(
    breast_cancer: Project, browser: Any, tmp_path: Path
) -> None:
    cfg = breast_cancer.cfg
    cfg = cfg.model_copy(deep=True)
    cfg.serve.prediction_log.url = f"sqlite:///{tmp_path / 'log.db'}"
    cfg.monitoring.drift.min_rows = 100
    model = load("models:/breast-cancer@champion", tracking_uri=cfg.tracking.uri)
    data = pd.read_csv(breast_cancer.folder / "data" / "breast_cancer.csv").head(300)
    log = PredictionLogWriter(cfg.serve.prediction_log.url, flush_interval=0.2)
    app = create_app(model, cfg.serve, prediction_log=log, project=cfg)
    with LiveServer(app) as server, httpx.Client(timeout=30) as http:
        labels = []
        for start in range(0, 300, 25):
            chunk = data.iloc[start : start + 25]
            body = {"records": chunk[model.feature_names].to_dict("records")}
            answer = http.post(f"{server.url}/predict", json=body).json()
            labels += [
                {"request_id": answer["request_id"], "row": i, "label": label}
                for i, label in enumerate(chunk["diagnosis"])
            ]
        assert http.post(f"{server.url}/predict", json={"records": [{}]}).status_code == 422
        joined = http.post(f"{server.url}/feedback", json={"labels": labels}).json()
        assert joined == {
            "received": 300, "matched": 300, "accepted": 300, "replaced": 0, "refused": 0,
            "duplicates": 0,
        }  # fmt: skip

        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{server.url}/dashboard?refresh=500")
        page.wait_for_function(
            "document.querySelectorAll('#drift-rows tr').length === 31", timeout=60_000
        )
        page.wait_for_function("document.getElementById('rate').textContent !== '-'")
        shown = {
            key: page.text_content(f"#{key}")
            for key in ("requests", "rows", "errors", "abstentions", "latency-mean", "status")
        }
        psi = page.eval_on_selector_all(
            "#drift-rows tr", "rows => rows.map(r => [r.dataset.feature, Number(r.dataset.psi)])"
        )
        versions = page.text_content("#versions")
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        metrics = http.get(f"{server.url}/metrics").text
        page.close()

    assert problems == []
    assert shown["status"] == "healthy"
    assert (
        float(shown["requests"])
        == _metric(metrics, "loopml_requests_total", endpoint="predict")
        == 13
    )
    assert float(shown["errors"]) == _metric(
        metrics, "loopml_requests_total", endpoint="predict", status="422"
    ) == 1  # fmt: skip
    assert float(shown["rows"]) == _metric(metrics, "loopml_predictions_total") == 300
    assert float(shown["abstentions"]) == _metric(metrics, "loopml_abstentions_total") == 0
    count = _metric(metrics, "loopml_request_seconds_count", endpoint="predict")
    total = _metric(metrics, "loopml_request_seconds_sum", endpoint="predict")
    assert float(shown["latency-mean"]) == pytest.approx(total / count * 1000, abs=0.006)
    assert "challenger, champion" in versions

    code, stdout, stderr = cli(
        "monitor", "-c", str(breast_cancer.config_path), "--json", "-o", str(tmp_path),
        "--set", f"serve.prediction_log.url={cfg.serve.prediction_log.url}",
        "--set", "monitoring.drift.min_rows=100",
    )  # fmt: skip
    assert code == 0, stderr
    found = json.loads(stdout)
    expected = [[f["name"], f["psi"]] for f in found["drift"]["features"]]
    expected.append(["prediction", found["drift"]["prediction"]["psi"]])
    assert [name for name, _ in psi] == [name for name, _ in expected]
    assert [value for _, value in psi] == pytest.approx([value for _, value in expected], rel=1e-9)
