"""The monitoring and retraining sections of loopml.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import write_project

from loopml.config import duration_seconds, load_config
from loopml.errors import ConfigError

BASE = {"name": "p", "data": {"source": "d.csv", "target": "y"}}


def test_durations() -> None:
    assert duration_seconds("10m") == 600 and duration_seconds("1.5h") == 5400


def test_defaults_of_the_sections(tmp_path: Path) -> None:
    cfg = load_config(write_project(tmp_path, BASE))
    assert cfg.monitoring.window.rows == 5000 and cfg.monitoring.drift.method == "auto"
    assert cfg.retraining.trigger == ["drift", "decay"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"monitoring": {"window": {"rows": 10, "hours": 2}}}, "monitoring.window: set either"),
        ({"retraining": {"trigger": ["schedule"]}}, "needs retraining.schedule"),
        ({"retraining": {"schedule": "weekly"}}, "'weekly' is not a duration like 30s"),
        ({"monitoring": {"drift": {"methd": "psi"}}}, "drift.methd: unknown key; did you mean"),
        ({"monitoring": {"drift": {"method": "magic"}}}, "monitoring.drift.method"),
    ],
)
def test_bad_sections_name_the_key(tmp_path: Path, section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write_project(tmp_path, {**BASE, **section}))
