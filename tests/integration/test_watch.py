"""`loopml watch` rounds that must not retrain: no log yet, healthy traffic, a bad interval."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml.tracking.store import Tracker
from loopml.workflows.watch import watch
from tests.integration.conftest import Project, cli
from tests.integration.logged import write_frame

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
    cfg.serve.prediction_log.url = f"sqlite:///{tmp_path / 'absent.db'}"
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
    url = f"sqlite:///{tmp_path / 'log.db'}"
    write_frame(url, data[model.feature_names], predicted, model="breast-cancer", prefix="h")
    before = _runs_of_kind(breast_cancer, "monitoring")
    code, stdout, stderr = cli(
        "watch", "-c", str(breast_cancer.config_path), "--every", "1s", "--max-ticks", "1",
        "--set", f"serve.prediction_log.url={url}", "--set", "monitoring.drift.min_rows=100",
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


def test_the_schedule_fires_when_the_champion_is_older(
    breast_cancer: Project, tmp_path: Path
) -> None:
    from loopml.workflows.monitor import monitor
    from loopml.workflows.watch import fired_trigger

    cfg = breast_cancer.cfg
    data = pd.read_csv(breast_cancer.folder / "data" / "breast_cancer.csv")
    current = tmp_path / "current.csv"
    data.to_csv(current, index=False)
    cfg.monitoring.drift.min_rows = 100
    watched = monitor(cfg, current=current, output=tmp_path)
    assert watched.assessment.status == "healthy"
    tracker = Tracker.from_config(cfg)
    cfg.retraining.trigger, cfg.retraining.schedule = ["drift", "schedule"], "1s"
    trigger = fired_trigger(cfg, tracker, watched)
    assert trigger is not None and trigger.kinds == ("schedule",)
    assert "breast-cancer v1 is older than 1s" in trigger.reasons[0]
    cfg.retraining.schedule = "3650d"
    assert fired_trigger(cfg, tracker, watched) is None


def test_since_last_training_keeps_newer_rows_and_a_reference_window(tmp_path: Path) -> None:
    from loopml.config import load_config
    from loopml.core.reference import ReferenceProfile
    from loopml.errors import ConfigError
    from loopml.workflows.watch import retraining_data
    from tests.conftest import write_project

    days = pd.date_range("2024-01-01", periods=10, freq="D")
    pd.DataFrame({"day": days.astype(str), "x": range(10), "y": range(10)}).to_csv(
        tmp_path / "warehouse.csv", index=False
    )
    body = {
        "name": "p",
        "data": {"source": "warehouse.csv", "target": "y"},
        "retraining": {"data": {"since": "last_training", "time_column": "day"}},
    }
    cfg = load_config(write_project(tmp_path, body))
    profile = ReferenceProfile(
        created="2024-01-06", task="regression", target="y", rows=6, features={},
        data_end="2024-01-06T00:00:00",
    )  # fmt: skip
    assert retraining_data(cfg, profile)["x"].tolist() == [6, 7, 8, 9]
    cfg.retraining.data.reference_days = 2
    assert retraining_data(cfg, profile)["x"].tolist() == [4, 5, 6, 7, 8, 9]
    cfg.retraining.data.time_column = None
    with pytest.raises(ConfigError, match="since: last_training needs a time column"):
        retraining_data(cfg, profile)
