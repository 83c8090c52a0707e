"""Commands about the data: `loopml profile` and `loopml data issues`."""

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
def profile(
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    output: OutputOption = None,
    open_: OpenOption = False,
) -> None:
    """Data profile (EDA) of the project's data as an HTML report, logged to MLflow."""
    from loopml.workflows.profile import profile as run_profile

    cfg = load(config, set_)
    result = render.reported(run_profile, cfg, output=output)
    render.print_profile(cfg.data.source, result)
    open_report(result.report, open_)
    out.print(str(result.report))


@handles_errors
def data_issues(
    model: ModelArgument = None,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write every issue to this CSV file."),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Rows shown in the terminal table.")] = 20,
) -> None:
    """Rows whose given label is likely wrong (out-of-fold, cleanlab), most likely first."""
    from loopml.workflows.issues import find_issues

    result = render.reported(find_issues, load(config, set_), model, output=output)
    render.print_issues(result, top)
    if output is not None:
        err.print(f"Wrote {len(result.table):,} rows to {output}", highlight=False)
