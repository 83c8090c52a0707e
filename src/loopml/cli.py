"""The `loopml` command: parses flags, calls workflows, prints.

Data and IDs go to stdout; logs, progress and errors to stderr. A ``LoopmlError``
becomes one red line per problem and exit code 1 (``--verbose`` adds the traceback).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loopml import __version__
from loopml.config import CONFIG_FILE, ProjectConfig, json_schema, load_config
from loopml.errors import LoopmlError, storage_error
from loopml.workflows import events

app = typer.Typer(
    name="loopml",
    help="The whole supervised-ML loop: data -> tuned, tracked, registered, served model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect loopml.yaml.", no_args_is_help=True)
app.add_typer(config_app, name="config")
log_app = typer.Typer(help="Look after the prediction log.", no_args_is_help=True)
app.add_typer(log_app, name="log")
data_app = typer.Typer(
    help="Improve the data: rows whose label is likely wrong.", no_args_is_help=True
)
app.add_typer(data_app, name="data")

# Off a terminal (pipes, CI, CliRunner) Rich would wrap at 80 columns and split one-line
# messages; keep lines whole and give tables room instead.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
_state: dict[str, Any] = {"verbose": False}
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

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
            _fail(str(exc).splitlines() or [type(exc).__name__])
        except Exception as exc:
            from loopml.tracking.local_store import locked_message

            locked = locked_message(exc, str(_state.get("tracking_uri", "the tracking store")))
            storage = storage_error(exc, kwargs.get("output"))
            if locked is None and storage is None:
                raise
            _fail([locked or str(storage)])

    return wrapper  # type: ignore[return-value]


def _fail(lines: list[str]) -> NoReturn:
    if _state["verbose"]:
        err.print_exception()
    for line in lines:
        err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, markup=True)
    raise typer.Exit(1) from None


class RichReporter(events.RichReporter):
    """``events.RichReporter`` on the CLI's stderr console."""

    def __init__(self) -> None:
        super().__init__(err)


@app.callback(invoke_without_command=True)
def main_options(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and library logs.")
    ] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(__version__)
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())
        raise typer.Exit(0)
    _state["verbose"] = verbose
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    if not verbose:
        _quiet_libraries(tunes=ctx.invoked_subcommand in _TUNING_COMMANDS)


# Libraries whose logs a run shows only with --verbose (their errors stay, one line each).
_NOISY = (
    *("mlflow", "alembic", "urllib3", "skops", "optuna", "ray", "lightgbm", "xgboost"),
    *("sklearn", "joblib", "git", "httpx", "matplotlib", "PIL", "filelock", "numexpr"),
)
# Commands that may run an Optuna search (watch and monitor retrain).
_TUNING_COMMANDS = {"train", "run", "distill", "watch", "monitor"}


class _OneLinePerProblem(logging.Filter):
    """Passes loopml's own records; of the other libraries' only errors, as one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "loopml" or record.name.startswith("loopml."):
            return True
        if record.levelno < logging.ERROR:
            return False
        lines = record.getMessage().strip().splitlines()
        record.msg, record.args = (lines[0] if lines else record.levelname), ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def _quiet_libraries(*, tunes: bool) -> None:
    """Without --verbose no third-party log line, warning or traceback reaches the terminal.

    Python warnings are ignored here and, through PYTHONWARNINGS, in worker processes
    (joblib's loky workers start fresh interpreters); MLflow's download bars are off;
    every handler of the root logger drops other libraries' records below ERROR and cuts
    the rest to one line. Optuna has its own handler (set up when it is imported, and its
    level is reset by the search), so for commands that tune its records are sent through
    the root logger's filtered handler instead. LightGBM's C++ messages are silenced by
    ``verbose=-1`` in the model catalog.
    """
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _OneLinePerProblem) for f in handler.filters):
            handler.addFilter(_OneLinePerProblem())
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if tunes:
        import optuna

        optuna.logging.disable_default_handler()
        optuna.logging.enable_propagation()


def _load(config: Path, overrides: list[str] | None) -> ProjectConfig:
    """The project's config, its local tracking store checked and relocated to its folder."""
    from loopml.tracking.local_store import open_store

    cfg = load_config(config, overrides or [])
    open_store(cfg.tracking, cfg.experiment_name)
    _state["tracking_uri"] = cfg.tracking.uri
    return cfg


@app.command()
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
    from loopml.errors import ConfigError
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


@app.command()
@handles_errors
def train(
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    force: ForceOption = False,
    resume: ResumeOption = False,
    data_variant: DataVariantOption = None,
) -> None:
    """Validate, split, baseline, tune, test, log and register the winner as challenger."""
    settings = _with_variant(set_, data_variant)
    _train_and_print(config, settings, force=force, resume=resume, promote=False)


@app.command()
@handles_errors
def run(
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    force: ForceOption = False,
    resume: ResumeOption = False,
    data_variant: DataVariantOption = None,
) -> None:
    """The whole loop: train as `loopml train` does, then evaluate; promote if the gate passes."""
    settings = _with_variant(set_, data_variant)
    _train_and_print(config, settings, force=force, resume=resume, promote=True)


def _with_variant(set_: list[str] | None, variant: str | None) -> list[str] | None:
    """``--data-variant NAME`` is ``--set data.variant=NAME``."""
    return set_ if variant is None else [*(set_ or []), f"data.variant={variant}"]


def _train_and_print(
    config: Path, set_: list[str] | None, *, force: bool, resume: bool, promote: bool
) -> None:
    from loopml.workflows.run import run
    from loopml.workflows.train import train

    cfg = _load(config, set_)
    reporter = RichReporter()
    try:
        if promote:
            loop = run(cfg, reporter=reporter, force=force, resume=resume)
            result, promotion = loop.training, loop.promotion
        else:
            result, promotion = train(cfg, reporter=reporter, force=force, resume=resume), None
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
    if promotion is not None:
        _print_promotion(promotion)
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
        by_role.setdefault(role, []).append(escape(f"{column} {reason}"))
    for role, entries in by_role.items():
        shown = ", ".join(entries[:6]) + (
            f", … {len(entries) - 6} more" if len(entries) > 6 else ""
        )
        table.add_row(f"{role} ({len(entries)})", shown)
    err.print(table)


def _print_leaderboard(result: Any) -> None:
    from loopml.cli_tables import leaderboard

    err.print(leaderboard(result))
    if result.learning_curve:
        err.print(f"Learning curve: {result.learning_curve}", highlight=False)
    test, base = result.test, result.baseline_test
    err.print(
        f"Test {result.metric}: [bold]{_num(test.selection)}[/] ({escape(result.winner)}) vs "
        f"{_num(base.selection)} (baseline)"
        + "".join(f", {_num(v)} (rule {escape(n)})" for n, v in result.rules_test.items()),
        highlight=False,
    )
    reg = result.registered
    held = f"as {', '.join(reg.aliases)}" if reg.aliases else "(a newer version is challenger)"
    err.print(f"Registered [bold]{reg.name}[/] version {reg.version} {held}", highlight=False)


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
    rows = Tracker.from_config(cfg).list_runs(limit)
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
        # One browser on this machine: one worker starts in a third of the time of
        # MLflow's default four (22 s against 38 s measured on 2 cores).
        "--workers",
        "1",
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
    engine: Annotated[
        str | None,
        typer.Option(
            help="native, onnx or auto (onnx when it passed parity); default serve.engine."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes; default serve.workers (1).")
    ] = None,
) -> None:
    """Serve a registered model over HTTP (the 'champion' alias by default)."""
    from loopml.serving.runner import ServeArgs, build_app, run

    overrides = list(set_ or [])
    if engine is not None:
        overrides.append(f"serve.engine={engine}")
    if workers is not None:
        overrides.append(f"serve.workers={workers}")
    cfg = _load(config, overrides)
    args = ServeArgs(str(config), overrides, model)
    served = build_app(args)
    state = served.state.serving
    bind_host, bind_port = host or cfg.serve.host, port if port is not None else cfg.serve.port
    for line in state.notes():
        err.print(f"[cyan]•[/] {line}", highlight=False)
    if state.tokens.enabled:
        err.print("[cyan]•[/] bearer-token auth is on", highlight=False)
    err.print(
        f"Serving [bold]{state.champion.loaded.model.describe()}[/] on "
        f"http://{bind_host}:{bind_port} with {cfg.serve.workers} worker(s) — POST /predict, "
        "/explain, /invocations (MLflow), /v2/models/…/infer, /feedback; GET /health, /metrics, "
        "/dashboard; docs at /docs",
        highlight=False,
    )
    run(served, args, host=bind_host, port=bind_port, workers=cfg.serve.workers)


@app.command()
@handles_errors
def loadtest(
    url: Annotated[
        str, typer.Argument(help="Endpoint to load, e.g. http://127.0.0.1:8000/predict")
    ],
    csv: Annotated[
        Path | None, typer.Option(help="CSV of rows; one single-row request per row, cycled.")
    ] = None,
    body: Annotated[
        Path | None, typer.Option(help="A JSON file sent as the body of every request.")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=1024, help="Concurrent clients.")] = 8,
    requests: Annotated[int, typer.Option(min=1, help="Stop after this many requests.")] = 2000,
    duration: Annotated[float, typer.Option(min=0.1, help="Stop after this many seconds.")] = 30.0,
    token: Annotated[
        str | None, typer.Option(envvar="LOOPML_TOKEN", help="Bearer token to send.")
    ] = None,
    allow_remote: Annotated[bool, typer.Option(help="Allow a host that is not loopback.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Load-test a running server: requests/s, p50/p95/p99 latency and errors."""
    import asyncio

    from loopml.errors import ConfigError
    from loopml.serving.loadtest import bodies_from_csv, check_target, run_load

    check_target(url, allow_remote)
    if (csv is None) == (body is None):
        raise ConfigError("pass exactly one of --csv FILE (rows to send) or --body FILE (JSON)")
    if body is not None:
        if not body.is_file():
            raise ConfigError(f"--body {body}: no such file")
        bodies = [body.read_bytes()]
    else:
        assert csv is not None
        bodies = bodies_from_csv(csv, url)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    err.print(
        f"Loading {url}: {concurrency} clients, at most {requests} requests or {duration:g} s",
        highlight=False,
    )
    result = asyncio.run(
        run_load(
            url,
            bodies,
            concurrency=concurrency,
            requests=requests,
            duration_s=duration,
            headers=headers,
        )
    )
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
    else:
        _print_load(result)
    if result.first_error:
        err.print(f"[yellow]first error:[/] {escape(result.first_error)}", highlight=False)


def _print_load(result: Any) -> None:
    table = Table(title=f"Load test of {result.url}", title_justify="left")
    for name in ("clients", "requests", "errors", "seconds", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(name, justify="right")
    table.add_row(
        str(result.concurrency),
        str(result.requests),
        str(result.errors),
        f"{result.seconds:.2f}",
        f"{result.requests_per_s:,.1f}",
        f"{result.p50_ms:.2f}",
        f"{result.p95_ms:.2f}",
        f"{result.p99_ms:.2f}",
    )
    out.print(table)


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
    explain: Annotated[
        bool, typer.Option(help="Add each row's contribution per input column (attributions).")
    ] = False,
    top_k: Annotated[
        int | None,
        typer.Option(min=1, help="With --explain: only the K columns of largest |contribution|."),
    ] = None,
) -> None:
    """Score a file in chunks; ids are kept beside the predictions."""
    from loopml.workflows.predict import predict_file

    cfg = _load(config, set_)
    if top_k is not None and not explain:
        from loopml.errors import ConfigError

        raise ConfigError("--top-k applies to explanations; add --explain")
    reporter = RichReporter()
    try:
        result = predict_file(
            cfg, source, output, model=model, reporter=reporter, explain=explain, top_k=top_k
        )
    finally:
        reporter.close()
    err.print(
        f"Wrote {result.rows:,} predictions from {result.model} ({result.engine} engine) "
        f"to {result.output}",
        highlight=False,
    )
    out.print(str(result.output))


@app.command()
@handles_errors
def explain(
    model: Annotated[
        str | None, typer.Argument(help="Alias, version, run id or model URI (default: champion).")
    ] = None,
    row: Annotated[int, typer.Option(help="Row of the file, 1 = first under the header.")] = 1,
    file: Annotated[
        Path | None, typer.Option(help="CSV, Parquet or JSON-lines file (default: data.source).")
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, help="Columns shown, largest first.")] = 15,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
) -> None:
    """Why the model predicted what it did for one row: a bar per input column."""
    from loopml.workflows.explain import explain_row

    cfg = _load(config, set_)
    with err.status("Explaining…"):
        found = explain_row(cfg, model=model, source=file, row=row)
    print_explanation(found, top_k)


def print_explanation(found: Any, top_k: int) -> None:
    """The row's prediction, then one bar per column (green raises the output, red lowers)."""
    from rich.table import Table
    from rich.text import Text

    e = found.explanation
    out.print(
        f"[bold]{escape(found.model)}[/], row {found.row} of {escape(str(found.source))}: "
        f"prediction [bold]{escape(str(found.prediction))}[/]"
        + (
            " (" + ", ".join(f"{escape(k)}: {v:.3f}" for k, v in found.probabilities.items()) + ")"
            if found.probabilities
            else ""
        ),
        highlight=False,
    )
    out.print(f"Explained: {escape(e.note)}", highlight=False)
    out.print(f"Method: {escape(e.method)}", highlight=False)
    ranked = e.ranked(0, top_k)
    widest = max((abs(v) for _, v in ranked), default=0.0) or 1.0
    table = Table(box=None, pad_edge=False)
    for name, justify in (("column", "left"), ("value", "left"), ("contribution", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("", justify="left")
    for column, value in ranked:
        bar = Text("█" * max(1, round(20 * abs(value) / widest)) if value else "")
        bar.stylize("green" if value > 0 else "red")
        shown = str(found.values.get(column, ""))
        table.add_row(escape(column), escape(shown[:40]), f"{value:+.4f}", bar)
        for word, weight in (e.words.get(column) or [{}])[0].items():
            table.add_row("", f"  '{escape(word)}'", f"{weight:+.4f}", "")
    out.print(table)
    rest = len(e.columns) - len(ranked)
    base, output = e.base_values[0], e.outputs[0]
    out.print(
        f"base value {base:+.4f} + contributions {output - base:+.4f} = output {output:+.4f} "
        f"({e.space})" + (f"; {rest} more column(s) not shown (--top-k)" if rest > 0 else ""),
        highlight=False,
    )


def _print_notes(ev: Any) -> None:
    """What the evaluation could not do (attributions, the learning curve), and why."""
    for note in ev.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def _print_promotion(promotion: Any) -> None:
    _print_fairness(promotion.evaluation)
    _print_notes(promotion.evaluation)
    if promotion.evaluation.simpson:
        err.print(f"[yellow]warning:[/] {escape(promotion.evaluation.simpson)}", highlight=False)
    if promotion.decision.passed:
        state = "is now the champion" if promotion.promoted else "is the champion"
        err.print(
            f"[green]Gate passed[/] ({promotion.decision.reasons()}): {promotion.label} {state}",
            highlight=False,
        )
    else:
        err.print(
            f"[yellow]Gate failed[/]: {promotion.label} stays challenger "
            "(`loopml promote` checks again):",
            highlight=False,
        )
        for rule in promotion.decision.failed:
            err.print(f"  [red]✗[/] {escape(rule.rule)}: {escape(rule.detail)}", highlight=False)
    if promotion.report is not None:
        err.print(f"Evaluation report: {promotion.report}", highlight=False)


def _reported(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a workflow with progress on stderr."""
    reporter = RichReporter()
    try:
        return work(*args, reporter=reporter, **kwargs)
    finally:
        reporter.close()


OpenOption = Annotated[bool, typer.Option("--open", help="Open the report in a browser.")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Where to write the HTML report.")
]
ModelArgument = Annotated[
    str | None,
    typer.Argument(help="Run id, version or alias (default: challenger).", show_default=False),
]


@app.command()
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

    result = _reported(run_evaluation, _load(config, set_), model, output=output)
    _print_evaluation(result.label, result.evaluation, result.decision)
    err.print(f"Report: {result.report} (logged to run {result.run_id})", highlight=False)
    _open(result.report, open_)
    out.print(str(result.report))


@data_app.command("issues")
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

    result = _reported(find_issues, _load(config, set_), model, output=output)
    table = result.table
    shown = Table(
        title=escape(
            f"{len(table):,} likely label issues in {result.rows:,} rows "
            f"({result.model}, {result.folds}-fold out-of-fold predictions)"
        ),
        title_justify="left",
        caption=f"showing the top {min(top, len(table))}; -o FILE writes all"
        if len(table)
        else None,
        caption_justify="left",
    )
    for column in table.columns:
        shown.add_column(escape(str(column)), overflow="fold")
    for _, row in table.head(top).iterrows():
        shown.add_row(*(escape(str(v)) for v in row))
    out.print(shown)
    if output is not None:
        err.print(f"Wrote {len(table):,} rows to {output}", highlight=False)


def _print_evaluation(label: str, ev: Any, decision: Any) -> None:
    table = Table(title=escape(f"{label} on {ev.rows:,} test rows"), title_justify="left")
    table.add_column("metric")
    table.add_column("test", justify="right")
    for name, value in ev.metrics.items():
        table.add_row(f"{name} (selection)" if name == ev.metric else name, _num(value))
    err.print(table)
    fit = ev.overfit
    err.print(
        f"Overfitting ({fit.metric}): train {_num(fit.train)}, validation {_num(fit.validation)}, "
        f"test {_num(fit.test)}, gap {_num(fit.gap)}",
        highlight=False,
    )
    if ev.threshold:
        err.print(
            f"Threshold {ev.threshold.threshold:.3f}: coverage {ev.threshold.coverage:.1%}, "
            f"precision {_num(ev.threshold.precision)} on test",
            highlight=False,
        )
    for s in ev.weak_slices[:5]:
        err.print(
            f"[yellow]weak slice:[/] {escape(s.name)} ({s.rows} rows): {ev.slice_metric} "
            f"{_num(s.value)}",
            highlight=False,
        )
    if ev.comparison:
        c = ev.comparison
        err.print(
            f"vs champion v{ev.champion}: {c.metric} {_num(c.challenger)} vs {_num(c.champion)} "
            f"({c.delta:+.4f}, p={c.p_value:.3g})",
            highlight=False,
        )
    if ev.simpson:
        err.print(f"[yellow]warning:[/] {escape(ev.simpson)}", highlight=False)
    if ev.behavioral:
        passed = sum(r.passed for r in ev.behavioral)
        err.print(f"Behavioral tests: {passed} of {len(ev.behavioral)} pass", highlight=False)
    _print_fairness(ev)
    _print_notes(ev)
    _print_gate_table(decision)


def _print_fairness(ev: Any) -> None:
    if ev.fairness is None or not ev.fairness.columns:
        return
    from loopml.cli_tables import fairness

    err.print(fairness(ev.fairness))
    for note in (n for c in ev.fairness.columns for n in c.notes):
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def _print_gate_table(decision: Any) -> None:
    table = Table(title="Promotion gate", title_justify="left")
    for name in ("rule", "result", "detail"):
        table.add_column(name)
    for rule in decision.rules:
        mark = "[green]pass[/]" if rule.passed else "[red]fail[/]"
        table.add_row(escape(rule.rule), mark, escape(rule.detail))
    err.print(table)


def _open(report: Path, wanted: bool) -> None:
    if wanted:
        import webbrowser

        webbrowser.open(report.resolve().as_uri())


@app.command("test")
@handles_errors
def behavioral_test(
    model: ModelArgument = None,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
) -> None:
    """Run the behavioral tests of loopml.yaml against a model; exit 1 if any fails."""
    from loopml.workflows.behavioral import run_tests

    outcome = _reported(run_tests, _load(config, set_), model)
    table = Table(title=f"Behavioral tests of {outcome.label}", title_justify="left")
    for name in ("test", "result", "agreement", "required", "detail"):
        table.add_column(name, justify="right" if name in ("agreement", "required") else "left")
    for r in outcome.results:
        mark = "[green]pass[/]" if r.passed else "[red]fail[/]"
        table.add_row(r.name, mark, f"{r.agreement:.3f}", f"{r.required:.3f}", r.detail)
    out.print(table)
    failed = [r for r in outcome.results if not r.passed]
    for r in failed:
        err.print(
            f"[bold red]error:[/] behavioral test failed: {r.name}: agreement "
            f"{r.agreement:.3f} < {r.required:.3f} ({r.detail})",
            highlight=False,
        )
    if failed:
        raise typer.Exit(1)


@app.command()
@handles_errors
def promote(
    model: ModelArgument = None,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
) -> None:
    """Make a model the champion, only if every gate rule passes (else exit 1)."""
    from loopml.workflows.promote import promote as run_promotion

    result = _reported(run_promotion, _load(config, set_), model)
    _print_gate_table(result.decision)
    if result.evaluation.simpson:
        err.print(f"[yellow]warning:[/] {escape(result.evaluation.simpson)}", highlight=False)
    if not result.decision.passed:
        for rule in result.decision.failed:
            err.print(
                f"[bold red]error:[/] gate rule {rule.rule} failed: {rule.detail}",
                highlight=False,
            )
        err.print(f"{result.label} was not promoted; the decision is tagged on it", highlight=False)
        raise typer.Exit(1)
    if result.promoted:
        before = f" (was v{result.champion_before})" if result.champion_before else ""
        err.print(f"[green]Promoted[/] {result.label} to champion{before}", highlight=False)
    else:
        err.print(f"{result.label} passes the gate and is already the champion", highlight=False)
    out.print(result.version)


@app.command()
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

    result = run_rollback(_load(config, set_), version, reason)
    err.print(
        f"[green]Rolled back[/] champion from v{result.previous} to v{result.version}; "
        "a running `loopml serve` switches at its next reload check",
        highlight=False,
    )
    out.print(result.version)


@app.command()
@handles_errors
def profile(
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
    output: OutputOption = None,
    open_: OpenOption = False,
) -> None:
    """Data profile (EDA) of the project's data as an HTML report, logged to MLflow."""
    from loopml.workflows.profile import profile as run_profile

    cfg = _load(config, set_)
    result = _reported(run_profile, cfg, output=output)
    table = Table(title=escape(f"Profile of {cfg.data.source}"), title_justify="left")
    table.add_column("")
    table.add_column("value", justify="right")
    for name, value in result.highlights.items():
        table.add_row(escape(str(name)), escape(str(value)))
    err.print(table)
    err.print(f"Report: {result.report} (logged to run {result.run_id})", highlight=False)
    _open(result.report, open_)
    out.print(str(result.report))


@app.command()
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

    cfg = _load(config, set_)
    reporter = RichReporter()
    try:
        result = run_monitor(cfg, current=current, model=model, output=output, reporter=reporter)
    finally:
        reporter.close()
    found = result.assessment
    if as_json:
        out.print_json(json.dumps(found.as_dict(), default=str))
    else:
        _print_drift(found)
    colour = "green" if found.status == "healthy" else "bold red"
    err.print(
        f"[{colour}]{found.status}[/] "
        + escape(
            f"{found.ref.describe()}: {found.drift.summary()}"
            + (f"; {found.decay.summary()}" if found.decay else "")
        ),
        highlight=False,
    )
    err.print(f"Report: {result.html} (MLflow run {result.run_id})", highlight=False)
    if result.webhook:
        err.print(f"Alert webhook: {result.webhook}", highlight=False)
    raise typer.Exit(result.exit_code)


def _print_drift(found: Any) -> None:
    table = Table(
        title=escape(f"Drift against the reference of {found.ref.describe()} ({found.source})"),
        title_justify="left",
    )
    for name in ("feature", "test", "statistic", "corrected p", "PSI", "JS", "rows", "verdict"):
        table.add_column(name, justify="left" if name in ("feature", "verdict") else "right")
    rows = list(found.drift.features) + ([found.drift.prediction] if found.drift.prediction else [])
    for f in rows:
        verdict = "drift" if f.drifted else ("stable" if f.judged else "not judged")
        table.add_row(
            escape(f.name),
            f.test,
            _num(f.statistic),
            _num(f.p_adjusted),
            _num(f.psi),
            _num(f.jensen_shannon),
            str(f.rows),
            verdict,
            style="bold red" if f.drifted else None,
        )
    out.print(table)
    attribution = found.drift.attribution
    if attribution is not None:
        style = "bold red" if attribution.shifted else ""
        out.print(
            f"Attributions ({attribution.rows} rows): {escape(attribution.summary())}",
            style=style or None,
        )
    elif found.drift.attribution_skipped:
        out.print(f"Attributions not compared: {escape(found.drift.attribution_skipped)}")


@app.command()
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

    cfg = _load(config, set_)
    outcome = record_feedback(cfg, source, label_column=label_column, reporter=RichReporter())
    result = outcome.result
    err.print(
        f"Recorded {result.received:,} labels from '{outcome.label_column}' in {outcome.log}: "
        f"{result.accepted:,} new, {result.replaced:,} replaced, 0 refused, "
        f"{outcome.duplicates:,} duplicates; {result.matched:,} match a logged prediction",
        highlight=False,
    )
    out.print(str(result.matched))


@app.command("label-queue")
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

    cfg = _load(config, set_)
    result = write_queue(cfg, output, max_rows=max_rows, model=model, reporter=RichReporter())
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    shown = Table(
        title=escape(
            f"{len(result.table):,} rows to label of {result.considered:,} unlabelled in "
            f"{result.source} ({result.model})"
        ),
        title_justify="left",
    )
    for column in ("request_id", "row", "reason", "prediction"):
        shown.add_column(column, overflow="fold")
    for _, row in result.table.head(10).iterrows():
        shown.add_row(
            *(escape(str(row.get(c, ""))) for c in ("request_id", "row", "reason", "prediction"))
        )
    out.print(shown)
    counts = ", ".join(f"{n} {kind}" for kind, n in result.counts.items())
    err.print(
        f"Wrote {len(result.table):,} rows ({counts}) to {output}; fill in "
        f"'{result.label_column}', then: loopml feedback {output}",
        highlight=False,
    )


@log_app.command("prune")
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

    pruned = prune_log(_load(config, set_), older_than, rows)
    err.print(
        f"Deleted {pruned.deleted:,} rows of the prediction log, and their labels, "
        f"from {pruned.log}",
        highlight=False,
    )
    out.print(str(pruned.deleted))


@app.command()
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

    cfg = _load(config, set_)
    err.print(f"Watching {cfg.model_name} every {every} (Ctrl+C stops)", highlight=False)

    def show(result: Any) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(result.at))
        out.print(f"{stamp} {result.status} {result.action}: {result.message}", markup=False)

    try:
        run_watch(cfg, every, max_ticks=max_ticks, on_tick=show, reporter=RichReporter())
    except KeyboardInterrupt:
        err.print("stopped", highlight=False)


@app.command()
@handles_errors
def distill(
    run: Annotated[
        str | None, typer.Argument(help="Run id, alias or version of the teacher.")
    ] = None,
    config: ConfigOption = Path(CONFIG_FILE),
    set_: SetOption = None,
) -> None:
    """Train a smaller, faster student on a model's predictions; register it if close enough."""
    from loopml.cli_tables import distillation
    from loopml.workflows.distill import distill as distill_model

    cfg = _load(config, set_)
    reporter = RichReporter()
    try:
        result = distill_model(cfg, run, reporter=reporter)
    finally:
        reporter.close()
    err.print(distillation(result))
    if result.registered:
        reg = result.registered
        err.print(
            f"Registered [bold]{reg.name}[/] version {reg.version} as {', '.join(reg.aliases)}",
            highlight=False,
        )
    else:
        err.print(
            f"Not registered: the student loses {result.drop:.4f} {result.metric}, more than "
            f"distill.max_drop={result.max_drop:g}",
            highlight=False,
        )
    out.print(result.run_id)


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
    out.print(
        yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), highlight=False, markup=False
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
