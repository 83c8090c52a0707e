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


@pytest.mark.parametrize(
    ("override", "expect"),
    [
        ("data.source=nope.csv", "nope.csv: no such file"),
        ("data.target=diagnosys", "did you mean 'diagnosis'"),
        ("models.candidates=[xgbost]", "models.candidates.xgbost: unknown model"),
        ("metric=r2", "'r2' is a regression metric"),
        ("split.test=0.8", "leaves under 10% to train"),
    ],
)
def test_bad_setting(project: Project, override: str, expect: str) -> None:
    _assert_clean_failure(
        project, "run", "-c", str(project.config_path), "--set", override, expect=expect
    )


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ("", "the file is empty"),
        ("patient_id,mean radius,diagnosis\n", "has no rows"),
    ],
)
def test_empty_data(project: Project, tmp_path: Path, content: str, expect: str) -> None:
    source = tmp_path / "data.csv"
    source.write_text(content)
    _assert_clean_failure(
        project,
        "run",
        "-c",
        str(project.config_path),
        "--set",
        f"data.source={source}",
        expect=expect,
    )


def test_config_typo(project: Project, tmp_path: Path) -> None:
    text = project.config_path.read_text().replace("target:", "tagret:")
    broken = project.folder / "broken.yaml"
    broken.write_text(text)
    _assert_clean_failure(
        project, "run", "-c", str(broken), expect="data.tagret: unknown key; did you mean 'target'?"
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
