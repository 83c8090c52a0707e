"""The whole loop on real data, on loopback: train on 2011 of the bike sharing data, serve,
replay 2012 with feedback, see drift and decay alerts, retrain, gate, promote, and serve
the new version.

One server runs throughout, built exactly as `loopml serve` builds it; it picks up the
new champion by hot reload, without a restart.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from loopml.config import load_config
from loopml.serving.runner import ServeArgs, build_app
from loopml.tracking.models import load
from loopml.tracking.store import Tracker
from tests.conftest import shared_file, write_project
from tests.integration.conftest import LiveServer, cli, train_cli
from tests.integration.test_monitor_cli import Hook

pytestmark = [pytest.mark.e2e, pytest.mark.shared_data, pytest.mark.timeout(420)]
BATCH = 500


def _project(folder: Path, hook: str) -> Path:
    return write_project(
        folder,
        {
            "name": "bikes",
            "data": {
                "source": "data/bikes.csv",
                "target": "cnt",
                "columns": {"ignore": ["instant", "casual", "registered"], "datetime": ["dteday"]},
            },
            "split": {"test": 0.2, "validation": 0.2, "time_column": "dteday"},
            "models": {"candidates": {"lightgbm": {}}},
            "metric": "r2",
            "monitoring": {
                "window": {"rows": 5000},
                "drift": {"min_rows": 500},
                "decay": {"max_drop": 0.05, "min_rows": 500, "every": 1000},
                "alerts": {"webhook": hook},
            },
            "retraining": {"trigger": ["drift", "decay"], "data": {"since": "all"}},
        },
    )


def _replay(url: str, rows: pd.DataFrame, features: list[str]) -> set[str]:
    """2012's rows as requests, then their true counts as feedback; the versions answering."""
    versions = set()
    with httpx.Client(timeout=60) as http:
        for start in range(0, len(rows), BATCH):
            chunk = rows.iloc[start : start + BATCH]
            answer = http.post(
                f"{url}/predict", json={"records": chunk[features].to_dict("records")}
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            versions.add(body["model"]["version"])
            labels = [
                {"request_id": body["request_id"], "row": i, "label": int(count)}
                for i, count in enumerate(chunk["cnt"])
            ]
            joined = http.post(f"{url}/feedback", json={"labels": labels}).json()
            assert joined["matched"] == len(chunk)
    return versions


def _watch(config: Path, *extra: str) -> str:
    code, stdout, stderr = cli(
        "watch", "-c", str(config), "--every", "1s", "--max-ticks", "1", *extra
    )
    assert code == 0, stderr
    return stdout


@pytest.mark.slow
def test_drift_and_decay_retrain_gate_promote_and_serve_the_new_version(tmp_path: Path) -> None:
    bikes = pd.read_csv(shared_file("bike_sharing_hour.csv"))
    year_2011, year_2012 = bikes[bikes["yr"] == 0], bikes[bikes["yr"] == 1]
    (tmp_path / "data").mkdir()
    year_2011.to_csv(tmp_path / "data" / "bikes.csv", index=False)
    with Hook() as hook:
        config = _project(tmp_path, hook.url)
        first_run = train_cli(config)
        cfg = load_config(config)
        tracker = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name)
        features = load("models:/bikes@champion", tracking_uri=cfg.tracking.uri).feature_names
        assert tracker.alias_version("champion") == "1"

        served = build_app(ServeArgs(str(config), ["serve.reload_interval=0.5"]))
        with LiveServer(served) as server:
            assert _replay(server.url, year_2012, features) == {"1"}
            # The labelled 2012 rows land in the warehouse the project trains from.
            bikes.to_csv(tmp_path / "data" / "bikes.csv", index=False)
            _alert_retrain_and_promote(config, tracker, hook, first_run)
            assert _served_version(server.url, "2") == "2"
            # v2 also learnt from 'yr' (constant in 2011, so v1 left it out): its own columns.
            new = load("models:/bikes@champion", tracking_uri=cfg.tracking.uri).feature_names
            assert _replay(server.url, year_2012.tail(BATCH), new) == {"2"}


def _alert_retrain_and_promote(config: Path, tracker: Tracker, hook: Hook, first_run: str) -> None:
    code, stdout, stderr = cli("monitor", "-c", str(config), "--json")
    assert code == 3, stderr
    found = json.loads(stdout)
    assert found["reasons"] == ["drift", "decay"]
    drifted = {f["name"] for f in found["drift"]["features"] if f["drifted"]}
    assert {"mnth", "temp"} <= drifted, drifted  # late 2012 vs the Jan-Aug 2011 training rows
    assert found["decay"]["rows"] == 5000 and found["decay"]["drop"] > 0.05
    assert hook.received[-1]["reasons"] == ["drift", "decay"]

    # A gate nobody can pass: the challenger is trained and refused; v1 stays champion.
    impossible = ("--set", "gate.min.r2=0.9999")
    assert " alert rejected: v2: min.r2: " in _watch(config, *impossible)
    assert tracker.alias_version("champion") == "1"
    # A restarted watcher does not retrain for the trigger it already handled.
    assert " alert handled-before: trigger " in _watch(config, *impossible)
    training_runs = [r.run_id for r in tracker.list_runs()]
    assert len(training_runs) == 2

    # With the project's gate the same trigger is judged again, without refitting.
    promoted = _watch(config)
    assert " alert promoted: v2: all " in promoted, promoted
    # The gate compared the models only on rows v1 was not fitted on (here: every test row
    # of v2 is from 2012, after v1's training data).
    assert " test rows unseen by champion v1 (0 it was fitted on left out)" in promoted
    assert [r.run_id for r in tracker.list_runs()] == training_runs
    assert tracker.alias_version("champion") == "2"
    _check_the_chain(tracker, training_runs[0], first_run)


def _served_version(url: str, wanted: str, seconds: float = 60) -> str:
    """The version /health reports, polled (bounded) until it is ``wanted``."""
    deadline, version = time.monotonic() + seconds, ""
    with httpx.Client(timeout=10) as http:
        while time.monotonic() < deadline:
            version = http.get(f"{url}/health").json()["model"]["version"]
            if version == wanted:
                break
            time.sleep(0.25)
    return version


def _check_the_chain(tracker: Tracker, retrained: str, first_run: str) -> None:
    """trigger run -> monitoring run, training run, gate, promoted version; and back."""
    client = tracker.client
    experiment = tracker.experiment_id(create=False)
    triggers = client.search_runs(
        [experiment], "tags.`loopml.kind` = 'retraining'", order_by=["attributes.start_time DESC"]
    )
    outcomes = [t.data.tags["loopml.outcome"] for t in triggers]
    assert outcomes == ["promoted", "rejected"]
    latest = triggers[0].data.tags
    assert latest["loopml.training_run_id"] == retrained != first_run
    assert latest["loopml.gate.decision"] == "passed"
    assert latest["loopml.promoted_version"] == "2"
    monitor_run = client.get_run(latest["loopml.monitor_run_id"])
    assert monitor_run.data.tags["loopml.kind"] == "monitoring"
    assert monitor_run.data.tags["loopml.status"] == "alert"
    version = client.get_model_version("bikes", "2")
    assert version.tags["loopml.trigger_run_id"] == triggers[0].info.run_id
    assert client.get_run(retrained).data.tags["loopml.trigger_run_id"] == triggers[0].info.run_id
    chain = json.loads(
        Path(client.download_artifacts(triggers[0].info.run_id, "chain.json")).read_text()
    )
    assert chain["gate"]["promoted"] and chain["training_run_id"] == retrained
