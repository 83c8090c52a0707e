"""`loopml watch` rounds that must not retrain: no log yet, healthy traffic, a bad interval."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml.tracking.prediction_log import LoggedRow, PredictionLog
from loopml.tracking.store import Tracker
from loopml.workflows.watch import watch
from tests.integration.conftest import Project, cli

pytestmark = pytest.mark.integration


def _runs_of_kind(project: Project, kind: str) -> int:
    cfg = project.cfg
    tracker = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name)
    experiment = tracker.experiment_id(create=False)
    return len(tracker.client.search_runs([experiment], f"tags.`loopml.kind` = '{kind}'"))


def test_rounds_without_a_log_report_the_error_and_keep_going(
    breast_cancer: Project, tmp_path: Path
) -> None:
    cfg = breast_cancer.cfg
    cfg.monitoring.log = str(tmp_path / "absent.db")
    seen = []
    results = watch(cfg, "1s", max_ticks=2, on_tick=seen.append)
    assert [r.action for r in results] == ["error", "error"] and seen == results
    assert "no prediction log yet" in results[0].message
    assert results[1].at - results[0].at >= 0.9
    assert _runs_of_kind(breast_cancer, "retraining") == 0


def test_a_healthy_round_monitors_and_does_not_retrain(
    breast_cancer: Project, tmp_path: Path
) -> None:
    cfg = breast_cancer.cfg
    data = pd.read_csv(breast_cancer.folder / "data" / "breast_cancer.csv").sample(
        400, random_state=3
    )
    model = loopml.load_model("models:/breast-cancer@champion", tracking_uri=cfg.tracking.uri)
    predicted = model.predict(data)
    now = time.time()
    PredictionLog(tmp_path / "log.db").append(
        [
            LoggedRow(f"h{i}", 0, now, "breast-cancer", "1", None, row, predicted[i], None, 1.0)
            for i, row in enumerate(data[model.feature_names].to_dict("records"))
        ]
    )
    before = _runs_of_kind(breast_cancer, "monitoring")
    code, stdout, stderr = cli(
        "watch", "-c", str(breast_cancer.config_path), "--every", "1s", "--max-ticks", "1",
        "--set", f"monitoring.log={tmp_path / 'log.db'}", "--set", "monitoring.drift.min_rows=100",
        "--set", f"monitoring.reports={tmp_path}",
    )  # fmt: skip
    assert code == 0, stderr
    assert " healthy none: no drift in 30 features (400 rows)" in stdout
    assert _runs_of_kind(breast_cancer, "monitoring") == before + 1
    assert _runs_of_kind(breast_cancer, "retraining") == 0


def test_a_bad_interval_is_one_error_line(breast_cancer: Project) -> None:
    code, _, stderr = cli("watch", "-c", str(breast_cancer.config_path), "--every", "soon")
    assert code == 1
    assert "error: --every: 'soon' is not a duration like 30s, 10m, 2h or 7d" in stderr
