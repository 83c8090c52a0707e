"""Parity of the compiled (ONNX) model on public data: titanic and Made-With-ML text."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from loopml.config import load_config
from loopml.core import models
from loopml.core.compile import compile_pipeline
from loopml.core.scoring import column_specs
from loopml.tracking.models import load_with_compiled
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare
from tests.conftest import shared_file, write_project
from tests.integration.conftest import train_cli

pytestmark = [pytest.mark.integration, pytest.mark.shared_data]


def _project(folder: Path, name: str, source: str, target: str, **rest: object) -> Path:
    data = {"source": str(shared_file(source)), "target": target, **rest.pop("data", {})}  # type: ignore[dict-item]
    return write_project(folder, {"name": name, "data": data, **rest})


def test_titanic_registers_a_compiled_model_with_parity_figures(tmp_path: Path) -> None:
    config = _project(
        tmp_path,
        "titanic",
        "titanic_train.csv",
        "Survived",
        data={"columns": {"text": ["Name"], "ignore": ["PassengerId", "Ticket"]}},
        models={"candidates": {"random_forest": {"n_estimators": 100}, "lightgbm": {}}},
        # parity is the registered model's, whichever wins: a short search is enough
        tuning={"budget": {"trials": 4}, "learning_curve": False},
    )
    run_id = train_cli(config)
    cfg = load_config(config)
    metrics = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri).get_run(run_id).data.metrics
    assert metrics["onnx_parity_ok"] == 1.0
    assert metrics["onnx_label_agreement"] >= 0.999
    assert metrics["onnx_max_proba_diff"] <= 1e-4
    loaded = load_with_compiled("models:/titanic@champion", tracking_uri=cfg.tracking.uri)
    assert loaded.compiled is not None
    assert loaded.compiled.report.rows == 178  # the validation split (20% of 891 rows)


@pytest.mark.parametrize("estimator", ["logistic_regression", "lightgbm"])
def test_text_with_tfidf_compiles_with_parity(tmp_path: Path, estimator: str) -> None:
    config = _project(
        tmp_path,
        "tags",
        "madewithml_dataset.csv",
        "tag",
        data={"columns": {"text": ["title", "description"], "datetime": ["created_on"]}},
    )
    data = prepare(load_config(config), SilentReporter())
    features = list(data.roles.features)
    pipeline = models.build_pipeline(
        data.roles, models.make_estimator(estimator, {}, "classification", 42)
    ).fit(data.splits.train[features], data.splits.train[data.target])
    compiled, report = compile_pipeline(
        pipeline,
        column_specs(data.roles),
        "classification",
        list(pipeline.classes_),
        data.splits.validation[features],
    )
    assert report.ok, report.reason
    assert report.label_agreement is not None and report.label_agreement >= 0.999
    assert report.max_proba_diff is not None and report.max_proba_diff <= 1e-4
    assert compiled is not None and {s.role for s in compiled.inputs} == {"text", "datetime"}
