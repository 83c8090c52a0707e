"""The `loopml` command: parses flags, calls workflows, prints.

Data and IDs go to stdout; logs, progress and errors to stderr. A ``LoopmlError``
becomes one red line per problem and exit code 1 (``--verbose`` adds the traceback).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loopml import __version__
from loopml.config import CONFIG_FILE, ProjectConfig, json_schema, load_config
from loopml.errors import LoopmlError

app = typer.Typer(
    name="loopml",
    help="The whole supervised-ML loop: data -> tuned, tracked, registered, served model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect loopml.yaml.", no_args_is_help=True)
app.add_typer(config_app, name="config")

# Off a terminal (pipes, CI, CliRunner) Rich would wrap at 80 columns and split one-line
# messages; keep lines whole and give tables room instead.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
_state = {"verbose": False}
F = TypeVar("F", bound=Callable[..., Any])

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Path of loopml.yaml.", show_default=True)
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a key for this command: a.b=value (repeatable)."),
]


def handles_errors(fn: F) -> F:
    """Turn a LoopmlError into red lines on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LoopmlError as exc:
            if _state["verbose"]:
                err.print_exception()
            for line in str(exc).splitlines() or [type(exc).__name__]:
                err.print(f"[bold red]error:[/] {line}", highlight=False, markup=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


class RichReporter:
    """Stages as lines, long work as a progress bar, warnings in yellow; all on stderr."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self._bar: Progress | None = None
        self._task: Any = None

    def stage(self, message: str) -> None:
        self._close_bar()
        elapsed = time.perf_counter() - self.started
        err.print(f"[dim]{elapsed:6.1f}s[/] [cyan]•[/] {message}", highlight=False)

    def warn(self, message: str) -> None:
        err.print(f"[yellow]warning:[/] {message}", highlight=False)

    def progress(self, task: str, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = Progress(
                TextColumn("        {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(task, total=total)
        self._bar.update(self._task, completed=done, total=total, description=task)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def close(self) -> None:
        self._close_bar()


@app.callback()
def main_options(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and library logs.")
    ] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(__version__)
        raise typer.Exit(0)
    _state["verbose"] = verbose
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    if not verbose:
        warnings.filterwarnings("ignore")
        for noisy in ("mlflow", "alembic", "urllib3", "skops"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


def _load(config: Path, overrides: list[str] | None) -> ProjectConfig:
    return load_config(config, overrides or [])


@app.command()
@handles_errors
def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    example: Annotated[
        str,
        typer.Option(help="breast_cancer (binary), wine (multiclass) or diabetes (regression)."),
    ] = "breast_cancer",
) -> None:
    """Create a project: loopml.yaml, example data and a file of rows to score."""
    from loopml.workflows.init import init_project

    result = init_project(folder, example)
    for path in result.files:
        err.print(f"[green]created[/] {path}", highlight=False)
    err.print(f"Next: cd {folder} && loopml run", highlight=False)


@app.command()
@handles_errors
def run(
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    force: Annotated[
        bool, typer.Option(help="Train even if data and config are unchanged.")
    ] = False,
) -> None:
    """Validate, split, fit the baseline and candidates, evaluate, log and register."""
    from loopml.workflows.train import train

    cfg = _load(config, set_)
    reporter = RichReporter()
    try:
        result = train(cfg, reporter=reporter, force=force)
    finally:
        reporter.close()
    _print_roles(result.roles)
    if result.skipped:
        err.print(
            f"[green]Skipped:[/] data (fingerprint {result.fingerprint}) and config are unchanged "
            f"since run {result.run_id}; use --force to train again",
            highlight=False,
        )
        out.print(result.run_id)
        return
    _print_leaderboard(result)
    out.print(result.run_id)


def _print_roles(roles: Any) -> None:
    if not roles.inferred:
        return
    table = Table(
        title="Inferred column roles (declare them in data.columns to change)", title_justify="left"
    )
    table.add_column("role")
    table.add_column("columns (why)")
    by_role: dict[str, list[str]] = {}
    for column, why in roles.inferred.items():
        role, _, reason = why.partition(" ")
        by_role.setdefault(role, []).append(f"{column} {reason}")
    for role, entries in by_role.items():
        shown = ", ".join(entries[:6]) + (
            f", … {len(entries) - 6} more" if len(entries) > 6 else ""
        )
        table.add_row(f"{role} ({len(entries)})", shown)
    err.print(table)


def _print_leaderboard(result: Any) -> None:
    table = Table(
        title=f"Candidates ({result.metric}, {result.split_how} split {result.split_sizes})",
        title_justify="left",
    )
    for name in ("model", f"train {result.metric}", f"validation {result.metric}", "fit s", "note"):
        table.add_column(name, justify="left" if name in ("model", "note") else "right")
    for row in result.leaderboard:
        note = "winner" if row.name == result.winner else (row.error or "")
        style = "bold green" if row.name == result.winner else None
        table.add_row(
            row.name,
            _num(row.train_score),
            _num(row.validation_score),
            f"{row.fit_seconds:.2f}",
            note[:60],
            style=style,
        )
    err.print(table)
    test, base = result.test, result.baseline_test
    err.print(
        f"Test {result.metric}: [bold]{_num(test.selection)}[/] ({result.winner}) vs "
        f"{_num(base.selection)} (baseline)",
        highlight=False,
    )
    reg = result.registered
    err.print(
        f"Registered [bold]{reg.name}[/] version {reg.version} as {', '.join(reg.aliases)}",
        highlight=False,
    )


def _num(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"


@app.command()
@handles_errors
def runs(
    config: ConfigOption = Path(CONFIG_FILE),
    limit: Annotated[int, typer.Option(help="How many of the latest runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Table of training runs: id, winning model, validation/test metric, registry alias."""
    from loopml.tracking.store import Tracker

    cfg = _load(config, None)
    rows = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name).list_runs(limit)
    if as_json:
        out.print_json(json.dumps([_row_dict(r) for r in rows]))
        return
    metric = rows[0].metric if rows else ""
    table = Table(
        title=f"Runs of {cfg.experiment_name} ({metric}; {cfg.tracking.uri})", title_justify="left"
    )
    table.add_column("run id", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("model")
    for name in ("validation", "test", "baseline test", "version"):
        table.add_column(name, justify="right")
    table.add_column("aliases")
    for r in rows:
        table.add_row(
            r.run_id,
            r.started.strftime("%m-%d %H:%M"),
            r.winner,
            _num(r.validation),
            _num(r.test),
            _num(r.baseline_test),
            r.version or "",
            ", ".join(r.aliases),
        )
    out.print(table if rows else "no runs yet; train one with `loopml run`")


def _row_dict(row: Any) -> dict[str, Any]:
    values = dict(row.__dict__)
    values["started"] = row.started.isoformat()
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


@app.command()
@handles_errors
def ui(
    config: ConfigOption = Path(CONFIG_FILE),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the MLflow UI.")] = 5000,
) -> None:
    """Open the MLflow UI on this project's tracking store."""
    cfg = _load(config, None)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        cfg.tracking.uri,
        "--host",
        host,
        "--port",
        str(port),
    ]
    err.print(
        f"MLflow UI for {cfg.tracking.uri} at http://{host}:{port} (Ctrl+C stops it)",
        highlight=False,
    )
    raise typer.Exit(subprocess.call(command))


@app.command()
@handles_errors
def server(
    backend_store_uri: Annotated[
        str,
        typer.Option(
            envvar="LOOPML_BACKEND_STORE_URI",
            help="Database for runs and the registry: postgresql://USER:PASSWORD@HOST:5432/DB.",
        ),
    ],
    artifacts: Annotated[
        str,
        typer.Option(
            envvar="LOOPML_ARTIFACTS",
            help="Artifact root: a folder or an object store URL (s3://bucket/path).",
        ),
    ] = "./mlflow-artifacts",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the tracking server.")] = 5000,
    workers: Annotated[int, typer.Option(help="Server worker processes.")] = 2,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(help="Host headers to accept when clients use a name (e.g. 'mlflow:5000')."),
    ] = None,
) -> None:
    """Run a shared MLflow tracking server (PostgreSQL store); clients set tracking.uri."""
    import os

    from loopml.workflows import server as tracking_server

    settings = tracking_server.check(
        tracking_server.ServerSettings(
            backend_store_uri, artifacts, host, port, workers, allowed_hosts
        )
    )
    store = tracking_server.redact(settings.backend_store)
    err.print(
        f"MLflow tracking server on http://{host}:{port} (store {store}, artifacts "
        f"{settings.artifacts}); set tracking.uri: http://{host}:{port} in loopml.yaml",
        highlight=False,
    )
    argv = tracking_server.command(settings)
    os.execv(argv[0], argv)  # the server becomes this process: signals reach it directly


@app.command()
@handles_errors
def serve(
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    model: Annotated[str | None, typer.Option(help="Alias, version, run id or model URI.")] = None,
    host: Annotated[
        str | None, typer.Option(help="Address; default serve.host (127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port; default serve.port (8000).")] = None,
) -> None:
    """Serve a registered model over HTTP (the 'champion' alias by default)."""
    import uvicorn

    from loopml.serving.app import create_app
    from loopml.tracking.models import load
    from loopml.workflows.predict import model_uri

    cfg = _load(config, set_)
    uri = model_uri(cfg, model)
    scorer = load(uri, tracking_uri=cfg.tracking.uri)
    bind_host, bind_port = host or cfg.serve.host, port if port is not None else cfg.serve.port
    err.print(
        f"Serving [bold]{scorer.describe()}[/] ({uri}) on http://{bind_host}:{bind_port} "
        f"— POST /predict, GET /health, docs at /docs",
        highlight=False,
    )
    uvicorn.run(create_app(scorer), host=bind_host, port=bind_port, log_level="warning")


@app.command()
@handles_errors
def predict(
    source: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON-lines file to score.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write (.parquet or .csv).")
    ],
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    model: Annotated[str | None, typer.Option(help="Alias, version, run id or model URI.")] = None,
) -> None:
    """Score a file in chunks; ids are kept beside the predictions."""
    from loopml.workflows.predict import predict_file

    cfg = _load(config, set_)
    reporter = RichReporter()
    try:
        result = predict_file(cfg, source, output, model=model, reporter=reporter)
    finally:
        reporter.close()
    err.print(
        f"Wrote {result.rows:,} predictions from {result.model} to {result.output}", highlight=False
    )
    out.print(str(result.output))


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON schema of loopml.yaml (for editor completion)."""
    out.print_json(json.dumps(json_schema()))


@config_app.command("show")
@handles_errors
def config_show(config: ConfigOption = Path(CONFIG_FILE), set_: SetOption = None) -> None:
    """Print the resolved configuration, defaults and overrides included."""
    import yaml

    cfg = _load(config, set_)
    out.print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
