"""Helpers shared by the scale-out tests: a local Ray instance and checks of loopml commands."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from loopml.cli import app

CLI: Any = typer.main.get_command(app)
HEALTH_CHECK = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"  # a click group: .commands, each with .params


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A real local Ray instance of 2 CPUs for the module's tests.

    Ray Train's controller polls its workers every ``RAY_TRAIN_HEALTH_CHECK_INTERVAL_S``
    (2 s by default), and each report or checkpoint waits for a poll: 0.2 s here lets the
    small runs of the tests finish sooner, training the same rounds the same way.
    """
    os.environ.setdefault(HEALTH_CHECK, "0.2")  # the raylet passes it on to every worker
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'loopml[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def check_loopml_command(argv: list[str], where: str) -> None:
    """``argv`` (without the leading ``loopml``) is a real command with real options.

    A command that is not on this branch yet (another issue adds it) is a skip naming it,
    so the check tightens by itself once the command lands.
    """
    name = argv[0]
    if name not in CLI.commands:
        pytest.skip(
            f"{where} runs `loopml {name}`, which this branch does not have yet "
            f"(its issue has not landed); checked once `loopml {name}` exists"
        )
    known = {opt for param in CLI.commands[name].params for opt in param.opts}
    flags = [part.split("=")[0] for part in argv[1:] if part.startswith("--")]
    unknown = sorted(set(flags) - known)
    assert not unknown, f"`loopml {name}` has no option {unknown}; known: {sorted(known)}"
