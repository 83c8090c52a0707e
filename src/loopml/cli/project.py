"""Commands about the project and its stores: `loopml init`, `runs`, `ui`, `server`,
`config schema` and `config show`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from loopml.cli import render
from loopml.cli.errors import handles_errors
from loopml.cli.options import ConfigOption, SetOption, load
from loopml.cli.render import err, out
from loopml.config import CONFIG_FILE, json_schema
from loopml.errors import ConfigError


@handles_errors
def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    data: Annotated[
        Path | None,
        typer.Option(help="Start from your own .csv/.parquet/.jsonl file (with --target)."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="With --data: the column to predict.")] = None,
    example: Annotated[
        str | None,
        typer.Option(
            help="Without --data: breast_cancer (binary, the default), wine (multiclass) "
            "or diabetes (regression)."
        ),
    ] = None,
) -> None:
    """Create a project: loopml.yaml for your data file, or an example with rows to score."""
    from loopml.workflows.init import init_from_data, init_project

    if data is not None and example is not None:
        raise ConfigError("--data and --example: give one; --data starts from your own file")
    if (data is None) != (target is None):
        given, missing = ("--data", "--target COLUMN") if data else ("--target", "--data FILE")
        raise ConfigError(f"{given} needs {missing}: loopml init --data FILE --target COLUMN")
    if data is not None and target is not None:
        result = init_from_data(folder, data, target)
    else:
        result = init_project(folder, example or "breast_cancer")
    for line in result.found:
        err.print(f"[cyan]•[/] {escape(line)}", highlight=False)
    for path in result.files:
        err.print(f"[green]created[/] {escape(str(path))}", highlight=False)
    check = "check loopml.yaml, then " if data is not None else ""
    err.print(escape(f"Next: {check}cd {folder} && loopml run"), highlight=False)


@handles_errors
def runs(
    config: ConfigOption = Path(CONFIG_FILE),
    limit: Annotated[int, typer.Option(help="How many of the latest runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Table of training runs: id, winning model, validation/test metric, registry alias."""
    from loopml.workflows.runs import list_runs, run_record

    cfg = load(config, None)
    rows = list_runs(cfg, limit)
    if as_json:
        out.print_json(json.dumps([run_record(r) for r in rows]))
        return
    render.print_runs(rows, cfg.experiment_name, cfg.tracking.uri)


@handles_errors
def ui(
    config: ConfigOption = Path(CONFIG_FILE),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the MLflow UI.")] = 5000,
) -> None:
    """Open the MLflow UI on this project's tracking store."""
    from loopml.workflows.server import ui_command

    cfg = load(config, None)
    err.print(
        f"MLflow UI for {cfg.tracking.uri} at http://{host}:{port} (Ctrl+C stops it)",
        highlight=False,
    )
    raise typer.Exit(subprocess.call(ui_command(cfg.tracking.uri, host, port)))


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


def config_schema() -> None:
    """Print the JSON schema of loopml.yaml (for editor completion)."""
    out.print_json(json.dumps(json_schema()))


@handles_errors
def config_show(config: ConfigOption = Path(CONFIG_FILE), set_: SetOption = None) -> None:
    """Print the resolved configuration, defaults and overrides included."""
    import yaml

    cfg = load(config, set_)
    out.print(
        yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), highlight=False, markup=False
    )
