"""How workflows report progress without printing: the edge passes a ``Reporter``."""

from __future__ import annotations

from typing import Protocol


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
