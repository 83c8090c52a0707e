"""Fairness as a gate rule, through the real CLI and a real MLflow registry, on titanic.

Titanic is trained once for the module with ``evaluation.sensitive: [Sex]`` and
``sensitive_is_feature: false``: Sex is audited but not a feature. Its passengers' names
(a text feature) still carry Mr/Mrs/Miss, so the model's selection rates by sex stay far
apart and ``gate.max.demographic_parity_difference: 0.1`` blocks the promotion; the same
rule with a limit just above the measured difference lets it through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm

import loopml
from loopml.config import ServeConfig
from loopml.serving.app import create_app
from loopml.tracking.models import load_with_compiled
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare
from tests.conftest import shared_file, write_project
from tests.integration.conftest import LiveServer, Project, cli

pytestmark = [pytest.mark.integration, pytest.mark.shared_data]

MAX_DP = "gate.max.demographic_parity_difference"


@dataclass(frozen=True)
class Trained:
    project: Project
    stderr: str  # of `loopml run`
    aliases: set[str]  # of every version right after it
    tags: dict[str, str]  # of version 1 right after it


@pytest.fixture(scope="module")
def titanic(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Titanic trained with `loopml run`, and the registry as that run left it."""
    folder = tmp_path_factory.mktemp("titanic_fair")
    config = write_project(
        folder,
        {
            "name": "titanic",
            "data": {
                "source": str(shared_file("titanic_train.csv")),
                "target": "Survived",
                "columns": {"text": ["Name"], "ignore": ["PassengerId", "Ticket", "Cabin"]},
            },
            "models": {"candidates": ["logistic_regression"]},
            "tuning": {"budget": {"trials": 2}, "cv": {"folds": 3}, "learning_curve": False},
            "metric": "accuracy",
            "evaluation": {
                "sensitive": ["Sex"],
                "sensitive_is_feature": False,
                "learning_curve": False,
                "importance_rows": 50,
            },
            "gate": {"max": {"demographic_parity_difference": 0.1}},
        },
    )
    code, stdout, stderr = cli("run", "--config", str(config))
    assert code == 0, stderr
    project = Project(folder, config, stdout.strip().splitlines()[-1])
    client = _client(project)
    aliases = set(client.get_registered_model("titanic").aliases)
    return Trained(project, stderr, aliases, dict(client.get_model_version("titanic", "1").tags))


def _client(project: Project) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=project.cfg.tracking.uri)


def test_the_rule_blocks_the_promotion_with_the_numbers(titanic: Trained) -> None:
    project, stderr = titanic.project, titanic.stderr
    assert "Not features, audited for fairness: Sex" in stderr
    assert "Fairness on the test rows (Fairlearn)" in stderr
    line = next(x for x in stderr.splitlines() if "max.demographic_parity_difference:" in x)
    assert "test demographic_parity_difference 0." in line
    assert "> 0.1 on 'Sex' (selection rate: male 0." in line and ", female 0." in line
    assert titanic.tags["loopml.gate.decision"] == "failed"
    assert "on 'Sex'" in titanic.tags["loopml.gate.reasons"]
    assert titanic.aliases == {"challenger"}

    code, _, promote_err = cli("promote", "--config", str(project.config_path))
    assert code == 1
    errors = [x for x in promote_err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: gate rule max.demographic_parity_difference failed: ")


def test_the_logged_difference_is_fairlearns_on_the_models_test_predictions(
    titanic: Trained,
) -> None:
    project = titanic.project
    cfg = project.cfg
    run = _client(project).get_run(project.run_id)
    logged = run.data.metrics["test_demographic_parity_difference"]
    assert run.data.metrics["test_demographic_parity_difference.Sex"] == logged
    assert "test_equalized_odds_difference" in run.data.metrics
    model = loopml.load_model(f"runs:/{project.run_id}/model", tracking_uri=cfg.tracking.uri)
    assert "Sex" not in model.feature_names and "Name" in model.feature_names
    test = prepare(cfg, SilentReporter()).splits.test
    predicted = model.predict(test)
    expected = flm.demographic_parity_difference(
        (test["Survived"] == 1).astype(int),
        (pd.Series(predicted) == 1).astype(int),
        sensitive_features=test["Sex"].to_numpy(),
    )
    assert logged == pytest.approx(expected, abs=1e-12)
    assert logged > 0.1  # names carry the passengers' sex to the model

    folder = Path(
        mlflow.artifacts.download_artifacts(
            run_id=project.run_id,
            artifact_path="evaluation/fairness",
            tracking_uri=cfg.tracking.uri,
        )
    )
    table = pd.read_csv(folder / "Sex.csv", index_col="group")
    assert list(table.index) == ["female", "male"]
    assert table["count"].sum() == len(test)
    document = json.loads((folder / "fairness.json").read_text())
    assert document["worst"]["demographic_parity_difference"] == pytest.approx(logged)
    report = next((project.folder / "reports").glob("evaluation-titanic-v1.html")).read_text()
    assert 'id="fairness"' in report and 'alt="per-group rates"' in report


def test_a_limit_above_the_measured_difference_promotes(titanic: Trained) -> None:
    project = titanic.project
    logged = (
        _client(project).get_run(project.run_id).data.metrics["test_demographic_parity_difference"]
    )
    config = str(project.config_path)
    code, _, stderr = cli("promote", "--config", config, "--set", f"{MAX_DP}={logged - 0.001}")
    assert code == 1, stderr
    code, stdout, stderr = cli("promote", "--config", config, "--set", f"{MAX_DP}={logged + 0.001}")
    assert code == 0, stderr
    assert stdout.strip() == "1"
    champion = _client(project).get_model_version_by_alias("titanic", "champion")
    assert champion.run_id == project.run_id
    assert champion.tags["loopml.gate.decision"] == "passed"


def test_served_rows_may_hold_the_sensitive_column_or_not(
    titanic: Trained,
) -> None:
    project = titanic.project
    loaded = load_with_compiled(
        f"runs:/{project.run_id}/model", tracking_uri=project.cfg.tracking.uri
    )
    rows = pd.read_csv(shared_file("titanic_train.csv")).head(8)
    without = rows.drop(columns=["Sex", "Survived", "PassengerId", "Ticket", "Cabin"])
    records = json.loads(rows.to_json(orient="records"))
    settings = ServeConfig(reload_interval=0)
    with LiveServer(create_app(loaded, settings)) as live, httpx.Client(timeout=10) as http:
        full = http.post(f"{live.url}/predict", json={"records": records})
        bare = http.post(
            f"{live.url}/predict", json={"records": json.loads(without.to_json(orient="records"))}
        )
        odd = [{**r, "Sex": "not a value it ever saw"} for r in records]
        unread = http.post(f"{live.url}/predict", json={"records": odd})
    assert full.status_code == bare.status_code == unread.status_code == 200, full.text
    assert full.json()["predictions"] == bare.json()["predictions"] == unread.json()["predictions"]
    batch = loopml.load_model(
        f"runs:/{project.run_id}/model", tracking_uri=project.cfg.tracking.uri
    )
    assert list(batch.predict(without)) == full.json()["predictions"]
    assert np.asarray(full.json()["predictions"]).shape == (8,)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "evaluation.sensitive=[gender]",
            "error: evaluation.sensitive: 'gender' is not a column of the data; columns are: "
            "PassengerId, Pclass, Name, Sex, Age",
        ),
        ("evaluation.sensitive=[Ticket]", "error: evaluation.sensitive: column 'Ticket' has 681"),
        (
            "gate.min.demographic_parity_difference=0.1",
            "error: gate.min.demographic_parity_difference: a fairness difference is better "
            "when lower; put it under gate.max",
        ),
        (
            "evaluation.pos_label=2",
            "error: evaluation.pos_label: 2 is not a class; use one of 0, 1",
        ),
    ],
)
def test_bad_fairness_settings_are_one_line_errors(
    titanic: Trained, override: str, expected: str
) -> None:
    project = titanic.project
    code, _, stderr = cli("promote", "--config", str(project.config_path), "--set", override)
    assert code == 1
    lines = [x for x in stderr.splitlines() if x.strip() and "•" not in x]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(expected), lines[0]
