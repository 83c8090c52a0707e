"""Commands that look after the served model: `loopml monitor`, `watch`, `feedback`,
`label-queue` and `log prune`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from loopml.cli import render
from loopml.cli.errors import handles_errors
from loopml.cli.options import ConfigOption, SetOption, load
from loopml.cli.render import err, out
from loopml.config import CONFIG_FILE


@handles_errors
def monitor(
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    current: Annotated[
        Path | None,
        typer.Option(help="Judge this file of recent rows instead of the prediction log."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Alias, version, run id or model URI.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder for monitor.html and .json.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Drift and decay of the served model; exit 0 healthy, 3 alert, 1 error."""
    from loopml.workflows.monitor import monitor as run_monitor

    cfg = load(config, set_)
    result = render.reported(run_monitor, cfg, current=current, model=model, output=output)
    render.print_monitor(result, as_json=as_json)
    raise typer.Exit(result.exit_code)


@handles_errors
def watch(
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    every: Annotated[str, typer.Option(help="Time between rounds: 30s, 10m, 1h, 1d.")] = "10m",
    max_ticks: Annotated[
        int | None, typer.Option(help="Stop after this many rounds (default: run until Ctrl+C).")
    ] = None,
) -> None:
    """Monitor on a schedule; on drift, decay or schedule retrain, gate and promote."""
    from loopml.workflows.watch import watch as run_watch

    cfg = load(config, set_)
    err.print(f"Watching {cfg.model_name} every {every} (Ctrl+C stops)", highlight=False)

    def show(result: Any) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(result.at))
        out.print(f"{stamp} {result.status} {result.action}: {result.message}", markup=False)

    try:
        run_watch(cfg, every, max_ticks=max_ticks, on_tick=show, reporter=render.RichReporter())
    except KeyboardInterrupt:
        err.print("stopped", highlight=False)


@handles_errors
def feedback(
    source: Annotated[Path, typer.Argument(help="CSV/Parquet/JSON lines: request_id, label.")],
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    label_column: Annotated[
        str | None, typer.Option(help="Column holding the true label (default: the target).")
    ] = None,
) -> None:
    """Record true labels for logged predictions, joined by request id."""
    from loopml.workflows.feedback import record_feedback

    cfg = load(config, set_)
    outcome = render.reported(record_feedback, cfg, source, label_column=label_column)
    result = outcome.result
    err.print(
        f"Recorded {result.received:,} labels from '{outcome.label_column}' in {outcome.log}: "
        f"{result.accepted:,} new, {result.replaced:,} replaced, 0 refused, "
        f"{outcome.duplicates:,} duplicates; {result.matched:,} match a logged prediction",
        highlight=False,
    )
    out.print(str(result.matched))


@handles_errors
def label_queue(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The CSV to write (fill in the label column).")
    ],
    model: Annotated[
        str | None,
        typer.Argument(help="Run id, version or alias (default: serve.alias, the served one)."),
    ] = None,
    max_rows: Annotated[
        int, typer.Option("--max", min=1, help="Queue at most this many rows.")
    ] = 100,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
) -> None:
    """Served rows worth labelling: abstained, least confident, from drifted regions."""
    from loopml.workflows.label_queue import write_queue

    cfg = load(config, set_)
    result = render.reported(write_queue, cfg, output, max_rows=max_rows, model=model)
    render.print_label_queue(result)
    counts = ", ".join(f"{n} {kind}" for kind, n in result.counts.items())
    err.print(
        f"Wrote {len(result.table):,} rows ({counts}) to {output}; fill in "
        f"'{result.label_column}', then: loopml feedback {output}",
        highlight=False,
    )


@handles_errors
def log_prune(
    older_than: Annotated[
        str | None, typer.Option(help="Delete requests logged before this: 30d, 12h.")
    ] = None,
    rows: Annotated[
        int | None, typer.Option(min=1, help="Keep at most this many logged requests.")
    ] = None,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
) -> None:
    """Delete old predictions and their labels (default: serve.prediction_log.retention)."""
    from loopml.workflows.retention import prune_log

    pruned = prune_log(load(config, set_), older_than, rows)
    err.print(
        f"Deleted {pruned.deleted:,} rows of the prediction log, and their labels, "
        f"from {pruned.log}",
        highlight=False,
    )
    out.print(str(pruned.deleted))
