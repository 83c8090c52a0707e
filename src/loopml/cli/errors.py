"""The CLI's one exit path for failures: every command is wrapped in ``handles_errors``.

A ``LoopmlError`` (bad input, a blocked gate, failed behavioural tests, a store that
refused) becomes one red ``error:`` line per line of its message, then its notes
(``add_note``) as plain lines, and the exit status ``exc.exit_code`` (see
``loopml.errors.EXIT_CODES``); ``--verbose`` adds the traceback first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import typer
from rich.markup import escape

from loopml.cli.render import err
from loopml.errors import (
    EXIT_CODES,
    BehavioralTestError,
    GateFailedError,
    LoopmlError,
    first_line,
    storage_error,
)

F = TypeVar("F", bound=Callable[..., Any])

#: What the handler needs from the command line: ``verbose`` (set by the main options) and
#: ``tracking_uri`` (set when a command loads its config; named in a 'locked' message).
state: dict[str, Any] = {"verbose": False}


def handles_errors(fn: F) -> F:
    """Wrap a command so a failure leaves through ``fail``: red lines and the exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:  # Ctrl-C: one line and 130, as shells report SIGINT
            err.print("interrupted", highlight=False)
            raise typer.Exit(EXIT_CODES["interrupted"]) from None
        except (GateFailedError, BehavioralTestError) as exc:  # a verdict: no traceback
            fail(exc_lines(exc), exc.exit_code, notes(exc), traceback=False)
        except LoopmlError as exc:
            fail(exc_lines(exc), exc.exit_code, notes(exc))
        # The process boundary: a library error that is a locked SQLite store or a failed
        # write (read-only, full disk) is told as one line; any other one propagates.
        except Exception as exc:
            from loopml.tracking.local_store import locked_message

            uri = str(state.get("tracking_uri", "the tracking store"))
            locked = locked_message(exc, uri)
            storage = storage_error(exc, kwargs.get("output"))
            if locked is None and storage is None:
                raise
            fail([locked or str(storage)], storage.exit_code if storage else EXIT_CODES["error"])

    return wrapper  # type: ignore[return-value]


def exc_lines(exc: BaseException) -> list[str]:
    """Every line of ``exc``'s message (its type's name when the message is empty)."""
    return str(exc).splitlines() or [first_line(exc)]


def notes(exc: BaseException) -> list[str]:
    """The notes added to ``exc`` (PEP 678), printed after its red lines."""
    return list(getattr(exc, "__notes__", ()))


def fail(
    lines: Sequence[str],
    code: int = EXIT_CODES["error"],
    after: Sequence[str] = (),
    *,
    traceback: bool = True,
) -> NoReturn:
    """Print ``lines`` as red ``error:`` lines and ``after`` as plain ones on stderr; exit
    with ``code``. With ``--verbose``, the traceback first (unless ``traceback`` is False:
    a blocked gate or failed tests are verdicts, not faults)."""
    if state["verbose"] and traceback:
        err.print_exception()
    for line in lines:
        err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, markup=True)
    for line in after:
        err.print(escape(line), highlight=False)
    raise typer.Exit(code) from None
