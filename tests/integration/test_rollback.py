"""`loopml rollback` on a real registry, with a real server on loopback following it.

v1 (the majority class) passes the gate with no champion yet; v2 (logistic regression)
beats it and is promoted; v3 (the majority class again) fails beat_champion. Rolling back
moves champion from v2 to v1, records why on v1, and the running server switches to v1.
Deleting v1 then takes the alias away: the server keeps answering but says so (a
warning, a counted reload outcome, a degraded /health and dashboard) until v2 is
promoted again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
import pytest

from loopml.serving.runner import ServeArgs, build_app
from loopml.workflows.init import init_project
from tests.integration.conftest import LiveServer, cli, train_cli

pytestmark = pytest.mark.integration
DUMMY = "models.candidates={sklearn.dummy.DummyClassifier: {strategy: prior}}"
LOGISTIC = ("models.candidates=[logistic_regression]", "tuning.budget.trials=2")


def _wait(http: httpx.Client, url: str, done: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + 15
    while not done(body := http.get(url).json()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return body


def test_rollback_moves_champion_back_and_a_deleted_version_degrades_health(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    init_project(tmp_path, "breast_cancer")
    config = tmp_path / "loopml.yaml"
    train_cli(config, "--set", DUMMY)
    train_cli(config, "--set", LOGISTIC[0], "--set", LOGISTIC[1])
    train_cli(config, "--set", DUMMY, "--force")
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/.loopml/mlflow.db")
    assert dict(client.get_registered_model("breast-cancer").aliases) == {
        "champion": 2,
        "challenger": 3,
    }
    record = pd.read_csv(tmp_path / "data" / "score_me.csv").head(1).to_dict("records")[0]
    args = ServeArgs(str(config), ["serve.reload_interval=0.2"], None)
    with LiveServer(build_app(args)) as live, httpx.Client(timeout=10) as http:

        def served() -> str:
            answer = http.post(f"{live.url}/predict", json={"records": [record]})
            return str(answer.json()["model"]["version"])

        assert served() == "2"
        refusals = {
            ("3", "v3 was worse"): "error: v3 is not earlier than the champion v2; roll back to "
            "one of 1, or use `loopml promote` to move forward",
            ("7", "typo"): "error: '7' is not a version of model 'breast-cancer'",
            ("1", " "): "error: --reason is empty; say why the champion is rolled back",
        }
        for (version, reason), message in refusals.items():
            code, stdout, stderr = cli("rollback", version, "--reason", reason, "-c", str(config))
            assert code == 1 and stdout == "" and stderr.startswith(message), stderr
            assert len(stderr.strip().splitlines()) == 1
        assert served() == "2"

        code, stdout, stderr = cli(
            "rollback", "--reason", "v2 misreads the new scanner", "-c", str(config)
        )
        assert code == 0, stderr
        assert stdout.strip() == "1" and "Rolled back champion from v2 to v1" in stderr
        deadline = time.monotonic() + 15
        while served() != "1" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert served() == "1"
        assert http.get(f"{live.url}/health").json()["status"] == "ok"
        tags = client.get_model_version("breast-cancer", "1").tags
        assert tags["loopml.rollback.reason"] == "v2 misreads the new scanner"
        assert tags["loopml.rollback.from"] == "2" and tags["loopml.rollback.by"]
        code, _, stderr = cli("rollback", "--reason", "again", "-c", str(config))
        assert code == 1
        assert stderr.strip() == (
            "error: no version of 'breast-cancer' before the champion v1 passed the gate; "
            "nothing to roll back to (see `loopml runs`)"
        )

        # the served version deleted (its alias goes with it): degraded, counted, logged
        with caplog.at_level(logging.WARNING, logger="loopml.serving.reload"):
            client.delete_model_version("breast-cancer", "1")
            health = _wait(http, f"{live.url}/health", lambda h: h["status"] != "ok")
        problem = (
            "alias champion of breast-cancer points at no version any more (deleted?); still "
            "serving v1, which a restart cannot load: set the alias again (`loopml promote` "
            "or `loopml rollback`)"
        )
        assert health["status"] == "degraded" and health["problems"] == [problem]
        assert problem in caplog.text
        assert served() == "1"  # it still answers
        board = http.get(f"{live.url}/dashboard/data").json()["serving"]
        assert board == {"status": "degraded", "problems": [problem]}
        time.sleep(0.6)  # a few more checks: still counted once
        reloads = http.get(f"{live.url}/metrics").text
        assert 'loopml_reloads_total{outcome="alias_missing"} 1.0' in reloads

        code, _, stderr = cli("promote", "2", "-c", str(config))
        assert code == 0, stderr
        health = _wait(http, f"{live.url}/health", lambda h: h["status"] == "ok")
        assert health["problems"] == [] and served() == "2"
        reloads = http.get(f"{live.url}/metrics").text
    assert 'loopml_reloads_total{outcome="switched"} 2.0' in reloads
