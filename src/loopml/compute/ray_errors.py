"""Ray's exceptions as loopml errors, mapped once, where Ray's results are gathered.

A worker's own failure (``RayTaskError``, or Ray Data's ``UserCodeException``) is unwrapped:
a loopml error raised in the worker (a ``DataError``, a ``DataContractError``) is raised
again on the driver as the same type, with the file it came from; any other cause is one
``DataError`` line naming it. Ray's own failures (a timeout, a dead actor or node, the object
store full, a lost object...) are one ``ComputeError`` line naming the Ray class. Ray is not
imported here until an exception is mapped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loopml import errors
from loopml.errors import ComputeError, DataError, LoopmlError, first_line

_REMOTE_ERROR = re.compile(r"^loopml\.errors\.(\w+): (.+)$", re.MULTILINE)
_CAUSE = re.compile(r"^(?:\w+\.)*(\w+(?:Error|Invalid|Exception)): (.+)$", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Ray's own wrappers around a worker's exception: the cause worth naming is the one inside.
_RAY_WRAPPERS = {"UserCodeException", "RayTaskError", "RayError"}


def from_ray(exc: BaseException, source: Path | str, doing: str = "scoring") -> LoopmlError:
    """The loopml error for ``exc``, an exception Ray raised on the driver.

    Parameters
    ----------
    exc : BaseException
        What ``ray.get``, a Ray Dataset or a Ray Tune/Train call raised (a
        ``ray.exceptions.RayError`` subclass; anything else is mapped as a worker's failure).
    source : Path or str
        The file (or job) the work was on; it starts the message.
    doing : str
        The work, for the message: ``"scoring"``, ``"profiling"``, ``"training"``...

    Returns
    -------
    LoopmlError
        For a worker's failure, the loopml error it raised (same type, message prefixed by
        ``source``) or a ``DataError`` naming its cause; for a failure of Ray itself, a
        ``ComputeError``. Always one line.
    """
    import ray.exceptions

    worker_failure = (ray.exceptions.RayTaskError, ray.exceptions.UserCodeException)
    if isinstance(exc, worker_failure) or not isinstance(exc, ray.exceptions.RayError):
        return _worker_error(exc, source, doing)
    return ComputeError(
        f"{source}: {doing} on Ray failed ({type(exc).__name__}: {_reason(exc)}); check the "
        "Ray instance (compute.address), or run here: compute.backend: local and "
        "train.distributed: false"
    )


@contextmanager
def ray_errors(source: Path | str, doing: str) -> Iterator[None]:
    """Raise every Ray exception of the block as its loopml error (``from_ray``), in one line.

    Raises
    ------
    LoopmlError
        ``from_ray``'s error for a ``ray.exceptions.RayError`` raised in the block.
    """
    import ray.exceptions

    try:
        yield
    except ray.exceptions.RayError as exc:
        raise from_ray(exc, source, doing) from None


def _worker_error(exc: BaseException, source: Path | str, doing: str) -> LoopmlError:
    cause = _loopml_cause(exc)
    if cause is not None:
        return _loopml_type(cause)(f"{source}: {first_line(cause)}")
    # Ray Data sends some worker exceptions as traceback text only: find the class there.
    text = _ANSI.sub("", _text(exc))
    found = _REMOTE_ERROR.search(text)
    cls = getattr(errors, found[1], None) if found else None
    if found and isinstance(cls, type) and issubclass(cls, LoopmlError):
        return cls(f"{source}: {found[2]}")
    causes = _CAUSE.findall(text)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    named = [c for c in causes if c[0] not in _RAY_WRAPPERS] or causes
    reason = f"{named[-1][0]}: {named[-1][1].split('. ')[0]}" if named else _first(lines, exc)
    return DataError(
        f"{source}: {doing} on Ray failed ({reason}); check the file, or run once with "
        "compute.backend: local, whose reader names the bad line"
    )


def _loopml_cause(exc: BaseException) -> LoopmlError | None:
    """The loopml error a worker raised, if the exception object made the trip."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "cause", None)  # RayTaskError's: the worker's exception
        if isinstance(current, LoopmlError) and not isinstance(inner, BaseException):
            return current
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return None


def _loopml_type(error: LoopmlError) -> type[LoopmlError]:
    """The loopml class of ``error`` (not a class Ray derived from it and its own)."""
    return next(
        cls
        for cls in type(error).__mro__
        if issubclass(cls, LoopmlError) and cls.__module__ == LoopmlError.__module__
    )


def _reason(exc: BaseException) -> str:
    text = _ANSI.sub("", _text(exc)).strip()
    return first_line(Exception(text)) if text else "no message"


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a Ray exception built without its fields cannot always print
        return ""


def _first(lines: list[str], exc: BaseException) -> str:
    return lines[0] if lines else type(exc).__name__
