"""Flags several commands share, and reading a project's config from them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.cli.errors import state
from loopml.config import ProjectConfig

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Path of loopml.yaml.", show_default=True)
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a key for this command: a.b=value (repeatable)."),
]
ForceOption = Annotated[bool, typer.Option(help="Train even if data and config are unchanged.")]
ResumeOption = Annotated[
    bool,
    typer.Option(help="Continue an interrupted search; finished trials are not run again."),
]
DataVariantOption = Annotated[
    str | None,
    typer.Option(
        "--data-variant",
        help="Train on this variant of data.variants (rows left out, labels corrected); "
        "the test rows are the unchanged data's (data.variant).",
    ),
]
TimeLimitOption = Annotated[
    str | None,
    typer.Option(
        "--time-limit",
        help="tuning.budget.time_limit: the whole command within this (+10%), e.g. 90s, 5m "
        "or a number of seconds; every candidate gets the same share of the search.",
        show_default=False,
    ),
]
OpenOption = Annotated[bool, typer.Option("--open", help="Open the report in a browser.")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Where to write the HTML report.")
]
ModelArgument = Annotated[
    str | None,
    typer.Argument(help="Run id, version or alias (default: challenger).", show_default=False),
]


def load(config: Path, overrides: list[str] | None) -> ProjectConfig:
    """The project's config, its local tracking store checked and relocated to its folder.

    Parameters
    ----------
    config : Path
        The ``--config`` file (loopml.yaml).
    overrides : list of str or None
        The ``--set a.b=value`` flags, applied in order.

    Returns
    -------
    ProjectConfig
        The validated config; its tracking URI is remembered for the error handler.

    Raises
    ------
    ConfigError
        The file or an override is invalid.
    """
    from loopml.tracking.local_store import load_project

    cfg = load_project(config, overrides or [])
    state["tracking_uri"] = cfg.tracking.uri
    return cfg


def with_variant(set_: list[str] | None, variant: str | None) -> list[str] | None:
    """``--data-variant NAME`` is ``--set data.variant=NAME``."""
    return set_ if variant is None else [*(set_ or []), f"data.variant={variant}"]


def with_time_limit(set_: list[str] | None, time_limit: str | None) -> list[str] | None:
    """``--time-limit X`` is ``--set tuning.budget.time_limit=X``."""
    if time_limit is None:
        return set_
    return [*(set_ or []), f"tuning.budget.time_limit={time_limit}"]


def open_report(report: Path, wanted: bool) -> None:
    """Open an HTML report in the browser when ``--open`` was given."""
    if wanted:
        import webbrowser

        webbrowser.open(report.resolve().as_uri())
