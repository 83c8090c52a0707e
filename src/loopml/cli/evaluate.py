"""Commands that judge a model: `loopml evaluate`, `test`, `promote`, `rollback`.

A blocked gate and failed behavioural tests leave through the one error handler: the
workflows' results give them as ``GateFailedError`` / ``BehavioralTestError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.cli import render
from loopml.cli.errors import handles_errors
from loopml.cli.options import (
    ConfigOption,
    ModelArgument,
    OpenOption,
    OutputOption,
    SetOption,
    load,
    open_report,
)
from loopml.cli.render import err, out
from loopml.config import CONFIG_FILE


@handles_errors
def evaluate(
    model: ModelArgument = None,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    output: OutputOption = None,
    open_: OpenOption = False,
) -> None:
    """Full evaluation of a model: metrics, slices, calibration, behavior; an HTML report."""
    from loopml.workflows.evaluate import evaluate as run_evaluation

    result = render.reported(run_evaluation, load(config, set_), model, output=output)
    render.print_evaluation(result.label, result.evaluation, result.decision)
    err.print(f"Report: {result.report} (logged to run {result.run_id})", highlight=False)
    open_report(result.report, open_)
    out.print(str(result.report))


@handles_errors
def behavioral_test(
    model: ModelArgument = None,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
) -> None:
    """Run the behavioral tests of loopml.yaml against a model; exit 1 if any fails."""
    from loopml.workflows.behavioral import run_tests

    outcome = render.reported(run_tests, load(config, set_), model)
    render.print_behavioral(outcome)
    if (failure := outcome.failure()) is not None:
        raise failure


@handles_errors
def promote(
    model: ModelArgument = None,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
) -> None:
    """Make a model the champion, only if every gate rule passes (else exit 1)."""
    from loopml.workflows.promote import promote as run_promotion

    result = render.reported(run_promotion, load(config, set_), model)
    render.print_gate_table(result.decision)
    if result.evaluation.simpson:
        render.warning(result.evaluation.simpson)
    if (blocked := result.blocked()) is not None:
        raise blocked
    if result.promoted:
        before = f" (was v{result.champion_before})" if result.champion_before else ""
        err.print(f"[green]Promoted[/] {result.label} to champion{before}", highlight=False)
    else:
        err.print(f"{result.label} passes the gate and is already the champion", highlight=False)
    out.print(result.version)


@handles_errors
def rollback(
    version: Annotated[
        str | None,
        typer.Argument(
            help="Version to make champion again (default: the newest earlier one that "
            "passed the gate).",
            show_default=False,
        ),
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Why: recorded on the version with who and when.")
    ] = "",
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
) -> None:
    """Move champion back to an earlier version that passed the gate; a server follows."""
    from loopml.workflows.rollback import rollback as run_rollback

    result = run_rollback(load(config, set_), version, reason)
    err.print(
        f"[green]Rolled back[/] champion from v{result.previous} to v{result.version}; "
        "a running `loopml serve` switches at its next reload check",
        highlight=False,
    )
    out.print(result.version)
