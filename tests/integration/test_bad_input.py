"""Bad input end to end: exit 1, one clear line, and nothing written to the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.tracking.store import Tracker
from tests.integration.conftest import Project, cli

pytestmark = pytest.mark.integration


def _state(project: Project) -> tuple[dict[str, object], list[str]]:
    cfg = project.cfg
    tracker = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name)
    runs = tracker.client.search_runs([tracker.experiment_id()], run_view_type=3)  # all runs
    return tracker.registry_snapshot(), sorted(r.info.run_id for r in runs)


@pytest.fixture()
def project(breast_cancer: Project) -> Project:
    return breast_cancer


def _assert_clean_failure(project: Project, *args: str, expect: str) -> None:
    before = _state(project)
    code, stdout, stderr = cli(*args)
    assert code == 1, stderr
    assert stdout == "", "a failed command printed a result"
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert expect in lines[0]
    assert _state(project) == before, "the registry or the runs changed after a failed command"


def test_missing_data_file(project: Project) -> None:
    _assert_clean_failure(
        project,
        "run",
        "-c",
        str(project.config_path),
        "--set",
        "data.source=nope.csv",
        expect="nope.csv: no such file",
    )


def test_wrong_target_name_suggests_the_right_one(project: Project) -> None:
    _assert_clean_failure(
        project,
        "run",
        "-c",
        str(project.config_path),
        "--set",
        "data.target=diagnosys",
        expect="did you mean 'diagnosis'",
    )


def test_empty_csv(project: Project, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _assert_clean_failure(
        project,
        "run",
        "-c",
        str(project.config_path),
        "--set",
        f"data.source={empty}",
        expect="the file is empty",
    )


def test_header_only_csv(project: Project, tmp_path: Path) -> None:
    header = tmp_path / "header.csv"
    header.write_text("patient_id,mean radius,diagnosis\n")
    _assert_clean_failure(
        project,
        "run",
        "-c",
        str(project.config_path),
        "--set",
        f"data.source={header}",
        expect="has no rows",
    )


def test_config_typo(project: Project, tmp_path: Path) -> None:
    text = project.config_path.read_text().replace("target:", "tagret:")
    broken = project.folder / "broken.yaml"
    broken.write_text(text)
    _assert_clean_failure(
        project, "run", "-c", str(broken), expect="data.tagret: unknown key; did you mean 'target'?"
    )


def test_unknown_model_name(project: Project) -> None:
    _assert_clean_failure(
        project,
        "run",
        "-c",
        str(project.config_path),
        "--set",
        "models.candidates=[xgbost]",
        expect="models.candidates.xgbost: unknown model",
    )


def test_metric_of_the_wrong_task(project: Project) -> None:
    _assert_clean_failure(
        project,
        "run",
        "-c",
        str(project.config_path),
        "--set",
        "metric=r2",
        expect="'r2' is a regression metric",
    )


def test_one_class_target(project: Project, tmp_path: Path) -> None:
    rows = tmp_path / "one_class.csv"
    rows.write_text("x,y\n" + "".join(f"{i},same\n" for i in range(30)))
    _assert_clean_failure(
        project,
        "run",
        "-c",
        str(project.config_path),
        "--set",
        f"data.source={rows}",
        "--set",
        "data.target=y",
        expect="has one class",
    )


def test_verbose_shows_the_traceback(project: Project) -> None:
    code, _, stderr = cli(
        "--verbose", "run", "-c", str(project.config_path), "--set", "data.source=nope.csv"
    )
    assert code == 1
    assert "Traceback" in stderr
