"""`loopml evaluate`, `loopml test` and the pytest plugin on a trained project (real MLflow)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

import loopml
from loopml.config import load_config
from loopml.tracking.models import load_with_compiled
from loopml.tracking.store import Tracker
from loopml.workflows.init import init_project
from tests.integration.conftest import Project, cli, train_cli

pytestmark = pytest.mark.integration

BEHAVIORAL = [
    {"kind": "perturbation", "columns": ["mean radius"], "noise": "numeric", "scale": 0.01},
    # worst area is among the strongest signals: no sensible model ignores it (it fails)
    {"kind": "invariance", "column": "worst area", "values": [200, 4000]},
    {
        "kind": "examples",
        "rows": [
            {"mean radius": 28, "worst radius": 36, "worst area": 4000, "expect": "malignant"}
        ],
        "min_agreement": 0.0,
    },
]


@pytest.fixture(scope="module")
def with_tests(breast_cancer: Project) -> Path:
    """The session project with behavioral tests declared, in a second config beside it."""
    body = yaml.safe_load(breast_cancer.config_path.read_text())
    body["behavioral"] = BEHAVIORAL
    body["evaluation"] = {"slices": {"large": "`mean radius` > 15"}}
    config = breast_cancer.folder / "behavioral.yaml"
    config.write_text(yaml.safe_dump(body, sort_keys=False))
    return config


def test_evaluate_writes_a_report_and_logs_it_to_the_run(
    breast_cancer: Project, with_tests: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    code, stdout, stderr = cli(
        "evaluate", breast_cancer.run_id, "-c", str(with_tests), "-o", str(report)
    )

    assert code == 0, stderr
    assert stdout.strip() == str(report)
    page = report.read_text()
    for section in (
        "Confusion matrix",
        "ROC and precision-recall",
        "Calibration",
        "Confidence threshold",
        "Slices",
        "Permutation feature importance",
        "Learning curve",
        "Behavioral tests",
        "Worst errors",
        "Global attributions",
        "Likely label errors",
        "Promotion gate",
    ):
        assert section in page, section
    assert 'id="directions"' in page and "Spearman rho" in page  # direction of effect
    assert "<th>why</th>" in page  # each worst error's largest contributions
    assert "large" in page and "http://" not in page and "https://" not in page
    assert "weak slice" in stderr or "Behavioral tests: 2 of 3 pass" in stderr
    client = mlflow.MlflowClient(tracking_uri=breast_cancer.cfg.tracking.uri)
    logged = {a.path for a in client.list_artifacts(breast_cancer.run_id, "evaluation")}
    assert {
        "evaluation/report.html",
        "evaluation/summary.json",
        "evaluation/attributions.csv",
    } <= logged
    summary = mlflow.artifacts.load_dict(
        f"{client.get_run(breast_cancer.run_id).info.artifact_uri}/evaluation/summary.json"
    )
    assert summary["metrics"]["f1_macro"] > 0.9
    attributions = summary["attributions"]  # over test rows, shares adding up to 1
    assert len(attributions["mean_abs"]) == 30 and attributions["rows"] > 0
    assert abs(sum(attributions["share"].values()) - 1) < 1e-9
    assert len(attributions["directions"]) == 5
    assert summary["slices"][0]["name"] == "large"
    assert isinstance(summary["label_issues"], int)  # test rows whose label the model doubts
    assert "held-out p(" in page or "No test row carries a label the model doubts" in page
    assert client.get_run(breast_cancer.run_id).data.metrics["test_ece"] < 0.2


def test_loopml_test_exits_1_naming_the_failed_test_and_logs_results(
    breast_cancer: Project, with_tests: Path
) -> None:
    code, stdout, stderr = cli("test", breast_cancer.run_id, "-c", str(with_tests))

    assert code == 1
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: behavioral test failed: invariance of worst area")
    assert "perturbation (numeric) of mean radius" in stdout
    client = mlflow.MlflowClient(tracking_uri=breast_cancer.cfg.tracking.uri)
    run = client.get_run(breast_cancer.run_id)
    assert run.data.metrics["behavioral_failed"] == 1
    assert run.data.metrics["behavioral_passed"] == 2
    assert run.data.tags["loopml.behavioral"] == "failed"


def test_pytest_plugin_runs_the_declared_tests_and_gives_fixtures(
    breast_cancer: Project, with_tests: Path
) -> None:
    user_test = breast_cancer.folder / "test_my_model.py"
    user_test.write_text(
        "def test_accuracy(loopml_model, loopml_test_rows):\n"
        "    predicted = loopml_model.predict(loopml_test_rows)\n"
        "    assert (predicted == loopml_test_rows['diagnosis']).mean() > 0.9\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--loopml-run",
            breast_cancer.run_id,
            "--loopml-config",
            "behavioral.yaml",
            "behavioral.yaml",
            "test_my_model.py",
        ],
        cwd=breast_cancer.folder,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 failed, 3 passed" in done.stdout
    assert "invariance of worst area: agreement" in done.stdout


def test_a_bad_slice_expression_is_one_line_and_nothing_is_trained(breast_cancer: Project) -> None:
    cfg = breast_cancer.cfg
    before = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name).registry_snapshot()

    code, stdout, stderr = cli(
        "run",
        "-c",
        str(breast_cancer.config_path),
        "--force",
        "--set",
        "evaluation.slices.big=`mean radiuss` > 15",
    )

    assert code == 1 and stdout == ""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "error: evaluation.slices.big: cannot evaluate '`mean radiuss` > 15' on the data"
    )
    assert Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name).registry_snapshot() == before


def test_calibrated_model_with_a_threshold_is_registered_served_and_scored(tmp_path: Path) -> None:
    init_project(tmp_path, "wine")
    config = tmp_path / "loopml.yaml"
    run_id = train_cli(
        config,
        "--set",
        "models.candidates=[random_forest]",
        "--set",
        "evaluation.calibration=sigmoid",
        "--set",
        "evaluation.threshold={target_precision: 0.99, fallback_label: unsure}",
    )
    cfg = load_config(config)

    model = loopml.load_model(f"runs:/{run_id}/model", tracking_uri=cfg.tracking.uri)
    rows = pd.read_csv(tmp_path / "data" / "wine.csv")
    scored = model.score_frame(rows)

    assert type(model.pipeline).__name__ == "CalibratedClassifierCV"
    assert model.threshold is not None and model.threshold.target_precision == 0.99
    assert scored["abstained"].dtype == bool
    assert set(scored.loc[scored["abstained"], "prediction"]) <= {"unsure"}
    covered = scored[~scored["abstained"]]
    assert (covered["prediction"] == rows.loc[covered.index, "cultivar"]).mean() > 0.95
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    metrics = client.get_run(run_id).data.metrics
    assert 0 < metrics["validation_coverage"] <= 1
    assert metrics["calibration_log_loss_after"] > 0
    calibration = mlflow.artifacts.load_dict(
        f"{client.get_run(run_id).info.artifact_uri}/evaluation/calibration.json"
    )
    assert calibration["method"] == "sigmoid"

    code, _, stderr = cli(
        "predict",
        str(tmp_path / "data" / "score_me.csv"),
        "-o",
        str(tmp_path / "out.parquet"),
        "-c",
        str(config),
        "--model",
        run_id,
    )
    assert code == 0, stderr
    assert "abstained" in pd.read_parquet(tmp_path / "out.parquet").columns
    calibrated = load_with_compiled(f"runs:/{run_id}/model", tracking_uri=cfg.tracking.uri)
    assert calibrated.compiled is None  # skl2onnx cannot convert the calibrated pipeline
    assert "CalibratedClassifierCV" in calibrated.compile_note

    uncalibrated = train_cli(
        config, "--set", "evaluation.calibration=none", "--set",
        "evaluation.threshold={target_precision: 0.99, fallback_label: unsure}",
        "--set", "models.candidates=[random_forest]",
    )  # fmt: skip
    _compiled_engine_applies_the_threshold(f"runs:/{uncalibrated}/model", cfg.tracking.uri, rows)


def _compiled_engine_applies_the_threshold(uri: str, tracking_uri: str, rows: pd.DataFrame) -> None:
    """Calibration and threshold are in the compiled graph's answers too: the ONNX engine
    gives the labels, fallbacks and abstentions that the native pipeline gives."""
    from loopml.serving.engine import NativeEngine, choose_engine

    loaded = load_with_compiled(uri, tracking_uri=tracking_uri)
    assert loaded.compiled is not None, loaded.compile_note
    engine, note = choose_engine(loaded, "auto")
    assert engine.name == "onnx", note
    columns = {spec.name: rows[spec.name].to_numpy(dtype=float) for spec in loaded.model.columns}
    onnx, native = engine.score(columns), NativeEngine(loaded.model).score(columns)
    assert native.abstained.any() and (onnx.abstained == native.abstained).mean() >= 0.99
    assert (onnx.predictions == native.predictions).mean() >= 0.99


def test_profile_writes_a_report_and_logs_a_profile_run(breast_cancer: Project) -> None:
    code, stdout, stderr = cli("profile", "-c", str(breast_cancer.config_path))

    assert code == 0, stderr
    report = Path(stdout.strip())
    page = report.read_text()
    assert report.is_file() and "Label distribution" in page
    # likely label errors before any model: out-of-fold LightGBM, the first 20 listed
    found = re.search(r"([\d,]+) of 569 rows carry a label a default LightGBM doubts", page)
    assert found is not None and int(found.group(1).replace(",", "")) >= 1
    assert "out-of-fold p(" in page
    cfg = breast_cancer.cfg
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    runs = client.search_runs(
        [client.get_experiment_by_name(cfg.experiment_name).experiment_id],
        filter_string="tags.`loopml.kind` = 'profile'",
    )
    assert len(runs) >= 1
    summary = json.loads(
        Path(
            mlflow.artifacts.download_artifacts(
                f"{runs[0].info.artifact_uri}/report/summary.json", tracking_uri=cfg.tracking.uri
            )
        ).read_text()
    )
    assert summary["labels"] == {"benign": 357, "malignant": 212}
