"""Rule baselines (models.rules) through the real CLI and a real MLflow registry: scored on the
same splits and folds as the candidates, listed in the leaderboard beside the baseline,
checked by gate.beat_rules, registered as a model (models.register_rule) and served."""

from __future__ import annotations

from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
import yaml

from loopml.serving.runner import ServeArgs, build_app
from loopml.workflows.init import init_project
from tests.integration.conftest import LiveServer, cli, train_cli

pytestmark = pytest.mark.integration

RULES = {
    "big_tumours": {"when": "`mean area` > 700", "then": "malignant", "else": "benign"},
    "concave": {"when": "`worst concave points` > 0.14", "then": "malignant", "else": "benign"},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("rules")
    init_project(folder, "breast_cancer")
    config = folder / "loopml.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["models"] = {"candidates": {"logistic_regression": {}}, "rules": RULES}
    raw["tuning"] = {"budget": {"trials": 2}, "learning_curve": False}
    raw["evaluation"] = {"learning_curve": False}
    raw["gate"] = {"beat_rules": True}
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    return config, train_cli(config)


def _client(config: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{config.parent}/.loopml/mlflow.db")


def test_rules_enter_the_leaderboard_scored_like_the_baseline(project: tuple[Path, str]) -> None:
    config, run_id = project
    client = _client(config)
    board = mlflow.artifacts.load_dict(
        f"{client.get_run(run_id).info.artifact_uri}/leaderboard.json"
    )
    by_name = {row["name"]: row for row in board}
    assert by_name["baseline"]["kind"] == "baseline"
    for name in RULES:
        row = by_name[f"rule:{name}"]
        assert row["kind"] == "rule" and row["params"]["when"] == RULES[name]["when"]
        # Same five folds as the candidates: a CV mean, and a real rule beats the majority.
        assert 0.8 < row["cv_mean"] < 0.98 and 0.8 < row["validation"] < 0.98
        assert row["validation"] > by_name["baseline"]["validation"] + 0.3
    run = client.get_run(run_id)
    assert run.data.params["winner"] == "logistic_regression"  # a rule is listed, never picked
    rule_scores = {k: v for k, v in run.data.metrics.items() if k.startswith("rule_test_")}
    assert set(rule_scores) == {"rule_test_f1_macro.big_tumours", "rule_test_f1_macro.concave"}
    # The rule's own test score, computed here by hand from its definition.
    frame = pd.read_csv(config.parent / "data" / "breast_cancer.csv")
    predicted = (frame["mean area"] > 700).map({True: "malignant", False: "benign"})
    assert (predicted == frame["diagnosis"]).mean() > 0.8


def test_gate_beat_rules_passes_with_numbers_and_is_tagged(project: tuple[Path, str]) -> None:
    config, _ = project
    version = _client(config).get_model_version_by_alias("breast-cancer", "champion")
    assert version.tags["loopml.gate.decision"] == "passed"
    reasons = version.tags["loopml.gate.reasons"]
    assert "beat_rules: test f1_macro 0." in reasons and "beats the best of 2 rule(s)" in reasons


def test_a_rule_is_registered_and_served_natively(project: tuple[Path, str]) -> None:
    config, _ = project
    code, stdout, stderr = cli(
        "run", "--config", str(config), "--set", "models.register_rule=concave"
    )
    assert code == 0, stderr
    # The rule is the winner; it ties with itself, so beat_rules fails and says so.
    assert "Test f1_macro:" in stderr and "(rule:concave)" in stderr
    assert "✗ beat_rules: test f1_macro" in stderr and "does not beat" in stderr
    assert "(+0.0000)" in stderr
    client = _client(config)
    run = client.get_run(stdout.strip().splitlines()[-1])
    assert run.data.params["winner"] == "rule:concave"
    version = client.get_model_version_by_alias("breast-cancer", "challenger").version

    rows = pd.read_csv(config.parent / "data" / "score_me.csv")
    expected = (rows["worst concave points"] > 0.14).map({True: "malignant", False: "benign"})
    out = config.parent / "rule_preds.csv"
    code, _, stderr = cli(
        "predict",
        str(config.parent / "data" / "score_me.csv"),
        "-o",
        str(out),
        "--model",
        "challenger",
        "--config",
        str(config),
    )
    assert code == 0, stderr
    assert "native engine" in stderr and "a rule (models.rules)" in stderr
    assert (pd.read_csv(out)["prediction"] == expected).all()

    args = ServeArgs(str(config), ["serve.reload_interval=0", "serve.alias=challenger"], None)
    records = rows.head(5).to_dict("records")
    with LiveServer(build_app(args)) as live, httpx.Client(timeout=10) as http:
        answer = http.post(f"{live.url}/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"]["version"] == str(version)
    assert body["predictions"] == list(expected.head(5))
    assert all(max(p.values()) == 1.0 for p in body["probabilities"])


def test_bad_rule_is_one_line_naming_rule_expression_and_column(
    project: tuple[Path, str],
) -> None:
    config, _ = project
    client = _client(config)
    runs_before = len(
        client.search_runs([client.get_experiment_by_name("breast-cancer").experiment_id])
    )
    bad = "models.rules.big_tumours={when: '`mean aera` > 700', then: malignant, else: benign}"
    code, stdout, stderr = cli("run", "--config", str(config), "--set", bad, "--force")
    assert code == 1 and stdout == ""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and stderr.strip().endswith(errors[0]), stderr  # progress, then it
    assert errors[0].startswith(
        "error: models.rules.big_tumours.when: cannot evaluate '`mean aera` > 700' on the data "
        "(unknown column 'mean aera'; did you mean 'mean area'?)"
    ), errors
    target = "models.rules.peek={when: 'diagnosis == \"malignant\"', then: malignant, else: benign}"
    code, _, stderr = cli("train", "--config", str(config), "--set", target, "--force")
    assert code == 1 and "models.rules.peek.when" in stderr
    assert "column 'diagnosis' is the target" in stderr
    label = "models.rules.typo={when: '`mean area` > 1', then: malignent, else: benign}"
    code, _, stderr = cli("train", "--config", str(config), "--set", label, "--force")
    assert code == 1 and stderr.splitlines()[-1].startswith(
        "error: models.rules.typo.then: 'malignent' is not a class of the target"
    ), stderr
    # Raised before any training: no run was started.
    after = client.search_runs([client.get_experiment_by_name("breast-cancer").experiment_id])
    assert len(after) == runs_before
