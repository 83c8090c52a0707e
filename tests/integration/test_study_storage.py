"""The durable study on a real SQLite file: a resumed search keeps its finished trials."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.core.study import run_study
from tests.unit.core.test_tuning import _task

pytestmark = pytest.mark.integration


def test_a_finished_study_resumes_without_new_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    space = {"C": {"low": 1e-3, "high": 10.0, "log": True}}
    first = run_study(_task("random", space, 4, pruning=False), url, "s", resume=False)
    again = run_study(_task("random", space, 6, pruning=False), url, "s", resume=True)
    assert again.resumed_trials == 4
    assert len(again.trials) == 6
    assert [t.params for t in again.trials[:4]] == [t.params for t in first.trials]


def test_a_trial_left_running_by_a_killed_process_is_failed_and_not_counted(
    tmp_path: Path,
) -> None:
    import optuna

    url = f"sqlite:///{tmp_path}/s.db"
    space = {"C": {"low": 1e-3, "high": 10.0, "log": True}}
    run_study(_task("random", space, 2, pruning=False), url, "s", resume=False)
    optuna.load_study(study_name="s", storage=url).ask()  # as if killed mid-trial
    again = run_study(_task("random", space, 3, pruning=False), url, "s", resume=True)
    assert again.resumed_trials == 2
    assert [t.state for t in again.trials] == ["complete"] * 3
    states = [t.state.name for t in optuna.load_study(study_name="s", storage=url).trials]
    assert states.count("FAIL") == 1 and states.count("COMPLETE") == 3
