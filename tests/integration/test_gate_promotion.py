"""The gate on a real MLflow registry: it refuses a worse challenger and accepts a better one.

v1 (a majority-class model) fails a min rule, so the first version is not champion until
`loopml promote` passes it; v2 (logistic regression) beats it significantly and `loopml run`
promotes it; v3 (the majority-class model again) fails beat_champion and stays challenger.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from loopml.config import load_config
from loopml.workflows.init import init_project
from tests.integration.conftest import cli, train_cli

pytestmark = pytest.mark.integration
DUMMY = "models.candidates={sklearn.dummy.DummyClassifier: {strategy: prior}}"
LOGISTIC = "models.candidates=[logistic_regression]"


def aliases(config: Path) -> dict[str, str]:
    cfg = load_config(config)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    return {k: str(v) for k, v in client.get_registered_model(cfg.model_name).aliases.items()}


def version_tags(config: Path, version: str) -> dict[str, str]:
    cfg = load_config(config)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    return dict(client.get_model_version(cfg.model_name, version).tags)


def test_gate_refuses_a_worse_challenger_and_accepts_a_better_one(tmp_path: Path) -> None:
    init_project(tmp_path, "breast_cancer")
    config = tmp_path / "loopml.yaml"

    code, _, stderr = cli(
        "run", "-c", str(config), "--set", DUMMY, "--set", "gate.min.f1_macro=0.8"
    )
    assert code == 0, stderr
    assert "Gate failed: breast-cancer v1 stays challenger" in stderr
    assert "min.f1_macro: test f1_macro 0.3" in stderr
    assert aliases(config) == {"challenger": "1"}  # the first version is champion only via the gate
    assert version_tags(config, "1")["loopml.gate.decision"] == "failed"

    code, stdout, stderr = cli("promote", "1", "-c", str(config))
    assert code == 0, stderr
    assert stdout.strip() == "1" and "Promoted breast-cancer v1 to champion" in stderr
    assert aliases(config)["champion"] == "1"

    train_cli(config, "--set", LOGISTIC)
    assert aliases(config) == {"challenger": "2", "champion": "2"}
    tags = version_tags(config, "2")
    assert tags["loopml.gate.decision"] == "passed"
    assert tags["loopml.gate.champion_before"] == "1"

    code, _, stderr = cli("run", "-c", str(config), "--set", DUMMY, "--force")
    assert code == 0, stderr
    assert "Gate failed: breast-cancer v3 stays challenger" in stderr
    assert aliases(config) == {"challenger": "3", "champion": "2"}

    code, stdout, stderr = cli("promote", "-c", str(config))
    assert code == 1 and stdout == ""
    failed = [line for line in stderr.splitlines() if line.startswith("error: gate rule")]
    assert len(failed) == 1
    assert failed[0].startswith("error: gate rule beat_champion failed: f1_macro 0.3")
    assert "vs champion v2 0.9" in failed[0]
    assert "paired bootstrap, 114 of 114 test rows unseen by champion v2" in failed[0]
    assert aliases(config)["champion"] == "2"
    tags = version_tags(config, "3")
    assert tags["loopml.gate.decision"] == "failed"
    assert tags["loopml.gate.reasons"].startswith("beat_champion: f1_macro")
    rules = json.loads(tags["loopml.gate.rules"])
    assert [r["rule"] for r in rules] == ["beat_champion", "behavioral"]


def test_promote_reports_every_failed_rule_with_its_number(tmp_path: Path) -> None:
    init_project(tmp_path, "wine")
    config = tmp_path / "loopml.yaml"
    train_cli(config, "--set", LOGISTIC)

    code, _, stderr = cli(
        "promote",
        "-c",
        str(config),
        "--set",
        "gate.min.accuracy=1.01",
        "--set",
        "gate.max.log_loss=0.0001",
    )

    assert code == 1
    failed = [line for line in stderr.splitlines() if line.startswith("error: gate rule")]
    assert [line.split(" failed:")[0] for line in failed] == [
        "error: gate rule min.accuracy",
        "error: gate rule max.log_loss",
    ]
    assert "< 1.01" in failed[0] and "> 0.0001" in failed[1]


def test_an_unknown_gate_metric_fails_before_training(tmp_path: Path) -> None:
    init_project(tmp_path, "wine")
    config = tmp_path / "loopml.yaml"

    code, stdout, stderr = cli("run", "-c", str(config), "--set", "gate.min.f1_macr=0.8")

    assert code == 1 and stdout == ""
    assert "error: gate.min.f1_macr: unknown metric 'f1_macr'; did you mean 'f1_macro'?" in stderr
    assert not (tmp_path / ".loopml" / "mlflow.db").exists() or aliases_or_none(config) is None


def aliases_or_none(config: Path) -> dict[str, str] | None:
    try:
        return aliases(config)
    except mlflow.exceptions.MlflowException:
        return None
