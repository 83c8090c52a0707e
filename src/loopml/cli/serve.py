"""Commands that use a model: `loopml serve`, `loadtest`, `predict`, `explain`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from loopml.cli import render
from loopml.cli.errors import handles_errors
from loopml.cli.options import ConfigOption, SetOption, load
from loopml.cli.render import err, out
from loopml.config import CONFIG_FILE
from loopml.errors import ConfigError


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
    n_jobs: Annotated[
        int | None,
        typer.Option("--n-jobs", "--workers", help="Server processes; default serve.n_jobs (1)."),
    ] = None,
) -> None:
    """Serve a registered model over HTTP (the 'champion' alias by default)."""
    from loopml.serving.runner import ServeArgs, build_app, run

    overrides = list(set_ or [])
    if engine is not None:
        overrides.append(f"serve.engine={engine}")
    if n_jobs is not None:
        overrides.append(f"serve.n_jobs={n_jobs}")
    cfg = load(config, overrides)
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
        f"http://{bind_host}:{bind_port} with {cfg.serve.n_jobs} worker(s) — POST /predict, "
        "/explain, /invocations (MLflow), /v2/models/…/infer, /feedback; GET /health, /metrics, "
        "/dashboard; docs at /docs",
        highlight=False,
    )
    run(served, args, host=bind_host, port=bind_port, workers=cfg.serve.n_jobs)


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
        render.print_load(result)
    if result.first_error:
        err.print(f"[yellow]first error:[/] {escape(result.first_error)}", highlight=False)


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

    cfg = load(config, set_)
    if top_k is not None and not explain:
        raise ConfigError("--top-k applies to explanations; add --explain")
    result = render.reported(
        predict_file, cfg, source, output, model=model, explain=explain, top_k=top_k
    )
    err.print(
        f"Wrote {result.rows:,} predictions from {result.model} ({result.engine} engine) "
        f"to {result.output}",
        highlight=False,
    )
    out.print(str(result.output))


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

    cfg = load(config, set_)
    with err.status("Explaining…"):
        found = explain_row(cfg, model=model, source=file, row=row)
    render.print_explanation(found, top_k)
