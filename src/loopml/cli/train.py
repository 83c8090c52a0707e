"""Commands that train: `loopml train`, `run` (train + gate) and `distill`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from loopml.cli import render
from loopml.cli.errors import handles_errors
from loopml.cli.options import (
    ConfigOption,
    DataVariantOption,
    ForceOption,
    ResumeOption,
    SetOption,
    TimeLimitOption,
    load,
    with_time_limit,
    with_variant,
)
from loopml.config import CONFIG_FILE


@handles_errors
def train(
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    force: ForceOption = False,
    resume: ResumeOption = False,
    data_variant: DataVariantOption = None,
    time_limit: TimeLimitOption = None,
) -> None:
    """Validate, split, baseline, tune, test, log and register the winner as challenger."""
    started = time.monotonic()
    from loopml.workflows.train import time_limit_clock
    from loopml.workflows.train import train as run_training

    cfg = load(config, with_time_limit(with_variant(set_, data_variant), time_limit))
    clock = time_limit_clock(cfg, started=started)
    result = render.reported(run_training, cfg, force=force, resume=resume, clock=clock)
    render.print_training(result, None)


@handles_errors
def run(
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    force: ForceOption = False,
    resume: ResumeOption = False,
    data_variant: DataVariantOption = None,
    time_limit: TimeLimitOption = None,
) -> None:
    """The whole loop: train as `loopml train` does, then evaluate; promote if the gate passes."""
    started = time.monotonic()
    from loopml.workflows.run import run as run_loop

    cfg = load(config, with_time_limit(with_variant(set_, data_variant), time_limit))
    loop = render.reported(run_loop, cfg, force=force, resume=resume, started=started)
    render.print_training(loop.training, loop.promotion)


@handles_errors
def distill(
    run: Annotated[
        str | None, typer.Argument(help="Run id, alias or version of the teacher.")
    ] = None,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
) -> None:
    """Train a smaller, faster student on a model's predictions; register it if close enough."""
    from loopml.workflows.distill import distill as distill_model

    result = render.reported(distill_model, load(config, set_), run)
    render.print_distillation(result)
