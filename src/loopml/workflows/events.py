"""How workflows report progress without printing: the edge passes a ``Reporter``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


class Reporter(Protocol):
    def stage(self, message: str) -> None:
        """A step of the workflow starts."""

    def warn(self, message: str) -> None:
        """Something the user should know that does not stop the work."""

    def progress(self, task: str, done: int, total: int) -> None:
        """``done`` of ``total`` units of ``task`` are finished."""


class SilentReporter:
    """Reports nowhere: for library use and tests."""

    def stage(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def progress(self, task: str, done: int, total: int) -> None:
        pass


class RichReporter:
    """Stages as lines, long work as progress bars (one per task name), warnings in yellow,
    on ``console`` (default: a Rich console on stderr; in Jupyter, under the cell).

    Workers may report from several threads at once (Rich's Progress locks).
    """

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True, soft_wrap=True)
        self.started = time.perf_counter()
        self._bar: Progress | None = None
        self._tasks: dict[str, Any] = {}

    def stage(self, message: str) -> None:
        from rich.markup import escape

        self._close_bar()
        elapsed = time.perf_counter() - self.started
        self.console.print(f"[dim]{elapsed:6.1f}s[/] [cyan]•[/] {escape(message)}", highlight=False)

    def warn(self, message: str) -> None:
        from rich.markup import escape

        self.console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)

    def progress(self, task: str, done: int, total: int) -> None:
        from rich.markup import escape
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        if self._bar is None:
            self._bar = Progress(
                TextColumn("        {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.start()
        if task not in self._tasks:
            self._tasks[task] = self._bar.add_task(escape(task), total=total)
        self._bar.update(self._tasks[task], completed=done, total=total)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._tasks = {}

    def close(self) -> None:
        self._close_bar()


class Shown:
    """How a result shows in a terminal or a Jupyter notebook: one summary line and one
    table (a DataFrame), instead of a dataclass's field-by-field repr (which dumps every
    array it holds). A subclass says which, in ``_shown``."""

    def _shown(self) -> tuple[str, Any]:
        """(the summary line, the table)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        summary, table = self._shown()
        return f"{summary}\n{table.to_string(index=False)}"

    def _repr_html_(self) -> str:
        from html import escape

        summary, table = self._shown()
        return f"<p>{escape(summary)}</p>" + table.to_html(index=False, na_rep="")
