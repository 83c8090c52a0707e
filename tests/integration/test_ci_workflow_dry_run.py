"""A dry run of the GitHub Actions workflow `loopml init` writes, on a fresh `loopml init` project.

The steps are read from the written YAML file itself and run in its order, as a runner runs
them (`shell: bash`, the job's `env:` with no repository variable but LOOPML_REQUIREMENT set
to the pinned `loopml==<this version>`), so the test and the template cannot drift. What a
local machine cannot do the same way is said, step by step, in the test's output:

- `actions/checkout`: the project folder is the checkout;
- `actions/setup-python`: this test's Python 3.11 (the venv) is the one set up;
- "Install loopml": substituted by this venv's loopml (its `bin/` first on PATH); the next
  step, "Check the installed loopml", runs for real against it;
- `actions/upload-artifact`: not uploaded; every path it names must exist and hold files.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from loopml import __version__
from tests.integration import ci_workflow
from tests.integration.conftest import cli

pytestmark = pytest.mark.integration
VENV_BIN = Path(sys.executable).parent
SUBSTITUTED = {
    "actions/checkout": "the project folder is the checkout",
    "actions/setup-python": f"Python {sys.version.split()[0]} of {VENV_BIN.parent} is set up",
    "Install loopml": f"substituted: loopml {__version__} of the local venv {VENV_BIN.parent}",
}
UPLOAD = "actions/upload-artifact"


@pytest.mark.timeout(900)
@pytest.mark.slow
def test_the_workflow_steps_run_in_order_on_a_fresh_project(tmp_path: Path) -> None:
    project = tmp_path / "churn"
    code, _, stderr = cli("init", str(project), "--example", "wine")
    assert code == 0, stderr
    workflow = ci_workflow.load(project)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = ci_workflow.job_env(workflow, {"LOOPML_REQUIREMENT": f"loopml=={__version__}"})
    env |= {
        "CI": "true",
        "GITHUB_WORKSPACE": str(project),
        "RUNNER_TEMP": str(runner_temp),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
    }
    done: list[str] = []
    uploads: list[dict[str, str]] = []
    for step in ci_workflow.steps(workflow):
        name = step.get("name") or step["uses"]
        action = step.get("uses", "").split("@")[0]
        if action == UPLOAD:
            uploads.append(step["with"])
            done.append(f"{name}: checked below, not uploaded")
        elif action or name in SUBSTITUTED:
            assert action in SUBSTITUTED or name in SUBSTITUTED, f"no dry run for step {name!r}"
            done.append(f"{name}: {SUBSTITUTED.get(action) or SUBSTITUTED[name]}")
        else:
            ran = ci_workflow.run_step(workflow, name, project, env)
            assert ran.returncode == 0, f"step {name!r}:\n{ran.stdout[-3000:]}{ran.stderr[-3000:]}"
            done.append(f"{name}: ran, exit 0")
    print("dry run of", project / ci_workflow.WORKFLOW, *done, sep="\n  ")

    assert len(done) == len(ci_workflow.steps(workflow))
    assert (project / ".loopml" / "requirements-ci.txt").read_text() == f"loopml=={__version__}\n"
    assert [upload["if-no-files-found"] for upload in uploads] == ["error"]
    for path in uploads[0]["path"].split():
        kept = project / path
        assert kept.exists(), f"the upload step names {path}, which the steps did not write"
        files = [kept] if kept.is_file() else [p for p in kept.rglob("*") if p.is_file()]
        assert files, f"the upload step names {path}, which holds no file"
    reports = sorted(p.name for p in (project / "reports").glob("*.html"))
    assert reports == ["evaluation-wine-v1.html"]
