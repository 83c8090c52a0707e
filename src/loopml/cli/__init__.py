"""The `loopml` command: parses flags, calls workflows, prints.

Data and IDs go to stdout; logs, progress and errors to stderr. Every failure leaves
through ``errors.handles_errors``: a ``LoopmlError`` becomes one red line per problem and
its ``exit_code`` (``--verbose`` adds the traceback).

One module per group of commands, registered below in the order ``loopml --help`` lists
them:

- ``project``: init, runs, ui, server, config schema/show
- ``train``: train, run (train + gate), distill
- ``serve``: serve, loadtest, predict, explain
- ``evaluate``: evaluate, test, promote, rollback
- ``data``: profile, data issues
- ``monitor``: monitor, feedback, label-queue, log prune, watch

``render`` prints (consoles, tables), ``options`` holds the shared flags, ``errors`` the
one exit path.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Annotated

import typer

from loopml import __version__
from loopml.cli import data, evaluate, monitor, project, serve, train
from loopml.cli.errors import state
from loopml.cli.render import out

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

app.command()(project.init)
app.command()(train.train)
app.command()(train.run)
app.command()(project.runs)
app.command()(project.ui)
app.command()(project.server)
app.command()(serve.serve)
app.command()(serve.loadtest)
app.command()(serve.predict)
app.command()(serve.explain)
app.command()(evaluate.evaluate)
data_app.command("issues")(data.data_issues)
app.command("test")(evaluate.behavioral_test)
app.command()(evaluate.promote)
app.command()(evaluate.rollback)
app.command()(data.profile)
app.command()(monitor.monitor)
app.command()(monitor.feedback)
app.command("label-queue")(monitor.label_queue)
log_app.command("prune")(monitor.log_prune)
app.command()(monitor.watch)
app.command()(train.distill)
config_app.command("schema")(project.config_schema)
config_app.command("show")(project.config_show)


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
    state["verbose"] = verbose
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        # without --verbose only loopml's own notices get through (e.g. a renamed key):
        # written like the rest of the CLI's warnings
        format="%(levelname)s:%(name)s:%(message)s" if verbose else "warning: %(message)s",
    )
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


def main() -> None:
    """The console script ``loopml`` (and ``python -m loopml``, ``python -m loopml.cli``)."""
    app()
