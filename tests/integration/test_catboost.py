"""CatBoost end to end: a quiet run registers it, plain MLflow loads it, serving says why
it runs natively, and its categories (an unseen one, a missing one) score as in training."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.config import load_config
from loopml.serving.engine import choose_engine
from loopml.tracking.models import load_with_compiled
from tests.conftest import write_project
from tests.integration.test_quiet_run import NOISE, run

pytestmark = pytest.mark.integration
pytest.importorskip("catboost")


def _project(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 300
    city = rng.choice(["oslo", "rome", "lima", "kyiv"], n).astype(object)
    city[::13] = None
    size = rng.normal(size=n).round(3)
    label = np.where(np.isin(city, ["rome", "kyiv"]) ^ (size > 1.0), "yes", "no")
    folder.mkdir(parents=True)
    pd.DataFrame({"size": size, "city": city, "label": label}).to_csv(
        folder / "data.csv", index=False
    )
    return write_project(
        folder,
        {
            "name": "cats",
            "data": {"source": "data.csv", "target": "label"},
            "models": {"candidates": {"catboost": {"iterations": 40}}},
            "tuning": {"budget": {"trials": 2}, "learning_curve": False},
            "tracking": {"uri": "sqlite:///.loopml/mlflow.db"},
        },
    )


def test_catboost_runs_quietly_registers_and_loads_with_plain_mlflow(tmp_path: Path) -> None:
    config = _project(tmp_path / "p")
    done = run(config)
    assert done.returncode == 0, done.stderr
    noise = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if any(n in line for n in (*NOISE, "catboost_info", "Learn:", "bestTest"))
    ]
    assert noise == []
    assert not (tmp_path / "p" / "catboost_info").exists()  # allow_writing_files=False

    uri = load_config(config).tracking.uri  # resolved beside loopml.yaml
    rows = pd.DataFrame({"size": [0.1, 0.2, 2.0], "city": ["atlantis", None, "rome"]})
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)  # an in-process loopml run of another test set it
    plain = mlflow.pyfunc.load_model("models:/cats@champion")
    predicted = list(plain.predict(rows))
    assert set(predicted) <= {"yes", "no"}

    loaded = load_with_compiled("models:/cats@champion", tracking_uri=uri)
    assert type(loaded.model.pipeline[-1]).__name__ == "CatBoostLabelClassifier"
    assert loaded.compiled is None
    _, why = choose_engine(loaded, "auto")
    assert why.startswith("native engine, because not compiled: CatBoost's ONNX export")
    champion = loopml.load_model("models:/cats@champion", tracking_uri=uri)
    assert list(champion.predict(rows)) == predicted
    alone = [champion.predict(rows.iloc[[i]])[0] for i in range(len(rows))]
    assert alone == predicted
