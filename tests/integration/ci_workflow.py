"""The GitHub Actions workflow `loopml init` writes, read and run step by step as a runner would.

A `run:` step is executed as GitHub runs `shell: bash` (`bash --noprofile --norc -eo pipefail
{0}`) with the job's `env:`; `${{ vars.NAME }}` and `${{ vars.NAME || 'default' }}` are
filled from the repository variables given, and any other expression in `env:` fails the
test, so the template cannot grow one that the dry run would silently skip.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(".github") / "workflows" / "loopml.yml"
JOB = "model"
_VARIABLE = re.compile(r"^\$\{\{\s*vars\.(\w+)(?:\s*\|\|\s*'([^']*)')?\s*\}\}$")


def load(project: Path) -> dict[str, Any]:
    """The workflow file of ``project`` as YAML (the key ``on`` reads as True in YAML 1.1)."""
    workflow: dict[str, Any] = yaml.safe_load((project / WORKFLOW).read_text(encoding="utf-8"))
    return workflow


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of the job, in order."""
    return list(workflow["jobs"][JOB]["steps"])


def step(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    """The step called ``name``."""
    found = [s for s in steps(workflow) if s.get("name") == name]
    assert len(found) == 1, f"the workflow has {len(found)} steps named {name!r}"
    return found[0]


def job_env(workflow: dict[str, Any], variables: dict[str, str]) -> dict[str, str]:
    """The job's ``env:`` with the repository ``variables`` filled in (unset reads as '')."""
    env = {}
    for key, value in workflow["jobs"][JOB].get("env", {}).items():
        text = str(value)
        if "${{" in text:
            match = _VARIABLE.match(text)
            assert match, f"env {key}: {text!r} is not vars.NAME [|| 'default']"
            text = variables.get(match[1]) or match[2] or ""
        env[key] = text
    return env


def run_step(
    workflow: dict[str, Any], name: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run the `run:` script of the step ``name`` as `shell: bash` does on a GitHub runner."""
    assert workflow["defaults"]["run"]["shell"] == "bash"
    script = step(workflow, name)["run"]
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


def loopml_commands(workflow: dict[str, Any]) -> list[list[str]]:
    """argv of every `loopml ...` step, up to a redirection or a pipe."""
    commands = []
    for s in steps(workflow):
        if s.get("run", "").startswith("loopml "):
            argv = shlex.split(s["run"])
            ends = [i for i, part in enumerate(argv) if part == "|" or part.startswith("2>")]
            commands.append(argv[: min(ends, default=len(argv))])
    return commands
