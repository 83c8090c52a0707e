"""`loopml init` writes DESIGN.md, a GitHub Actions workflow of real commands, and .gitignore."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import cli
from tests.integration.scaleout import check_loopml_command

pytestmark = pytest.mark.integration
DESIGN_SECTIONS = [
    "Problem",
    "Users",
    "Objectives",
    "Metrics",
    "Evaluation plan",
    "Batch vs online inference",
    "Feedback loop",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("templated") / "churn"
    code, _, stderr = cli("init", str(folder), "--example", "wine")
    assert code == 0, stderr
    assert f"created {folder / 'DESIGN.md'}" in stderr
    return folder


def test_design_md_asks_the_questions_of_every_ml_project(project: Path) -> None:
    text = (project / "DESIGN.md").read_text(encoding="utf-8")
    assert text.startswith("# churn: design")
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == DESIGN_SECTIONS
    assert "`cultivar`" in text and "`f1_macro`" in text  # filled from the example
    assert "{" not in text  # no placeholder left unfilled


def test_gitignore_keeps_the_local_store_out(project: Path) -> None:
    assert ".loopml/" in (project / ".gitignore").read_text(encoding="utf-8").splitlines()


def _workflow_commands(project: Path) -> list[list[str]]:
    workflow = yaml.safe_load((project / ".github/workflows/loopml.yml").read_text())
    assert "push" in workflow[True]  # YAML 1.1 reads the key `on` as True
    steps = workflow["jobs"]["model"]["steps"]
    return [shlex.split(s["run"]) for s in steps if s.get("run", "").startswith("loopml ")]


def test_workflow_validates_trains_tests_and_gates_on_push(project: Path) -> None:
    commands = [argv[1] for argv in _workflow_commands(project)]
    assert commands == ["run", "test", "promote"]


@pytest.mark.parametrize("step", [0, 1, 2])
def test_each_workflow_step_is_a_real_loopml_command(project: Path, step: int) -> None:
    argv = _workflow_commands(project)[step]
    check_loopml_command(argv[1:], "the workflow")


def test_init_keeps_an_existing_design_and_workflow(tmp_path: Path) -> None:
    (tmp_path / "DESIGN.md").write_text("ours\n", encoding="utf-8")
    code, _, stderr = cli("init", str(tmp_path))
    assert code == 0, stderr
    assert (tmp_path / "DESIGN.md").read_text(encoding="utf-8") == "ours\n"
    assert "created" in stderr and f"created {tmp_path / 'DESIGN.md'}" not in stderr
