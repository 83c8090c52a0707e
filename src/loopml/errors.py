"""The one exception tree of loopml. Imports nothing from loopml.

Every message says what failed, shows the bad value and says what to do. Each error type
carries the two numbers its callers need, as FastAPI's ``HTTPException`` and MLflow's
``MlflowException`` do:

- ``exit_code``: the CLI prints the error as one red line and exits with it (see
  ``EXIT_CODES``);
- ``http_status``: the status a server answers with when a request raises it.
"""

from __future__ import annotations

import errno


class LoopmlError(Exception):
    """Base of every error loopml raises on purpose.

    Attributes
    ----------
    exit_code : int
        The CLI's exit status for this error (1 for every loopml error; see ``EXIT_CODES``).
    http_status : int
        The HTTP status a server answers with when a request raises it.
    """

    exit_code: int = 1
    http_status: int = 422


class ConfigError(LoopmlError):
    """loopml.yaml or a --set override is invalid."""

    http_status = 500


class DataError(LoopmlError):
    """Data could not be read (missing file, bad format, failed query)."""


class DataValidationError(DataError):
    """Data was read but fails a check that training relies on."""


class ModelNotFoundError(LoopmlError, LookupError):
    """A run, model version or alias does not exist."""

    http_status = 404


class TrackingError(LoopmlError):
    """The tracking store or model registry refused an operation."""

    http_status = 503


class TrainingError(LoopmlError):
    """No candidate could be trained (every trial failed, or a model's fit raised)."""

    http_status = 500


class ComputeError(LoopmlError):
    """The compute backend (a local process pool or a Ray cluster) failed or is unreachable."""

    http_status = 503


class GateFailedError(LoopmlError):
    """The promotion gate blocked a model; the message lists every failed rule."""

    http_status = 409


class BehavioralTestError(LoopmlError):
    """A model failed one or more behavioural tests (``loopml test``)."""

    http_status = 409


class PredictionInputError(LoopmlError, ValueError):
    """Rows given for prediction do not match the model's input schema."""


class DataContractError(DataValidationError, PredictionInputError):
    """A value does not read as its column's kind in the model's data contract.

    Raised at training for a declared kind, and at prediction (HTTP 422, or one line and
    exit 1) for any value; the message names the row, the column and the value.
    """


class StorageError(LoopmlError, OSError):
    """A file or folder cannot be written or read (read-only, full, missing, denied)."""

    http_status = 507


_PROBLEMS = {
    errno.EROFS: ("the file system is read-only", "write elsewhere (-o PATH) or remount it"),
    errno.EACCES: ("permission denied", "make the folder writable or write elsewhere"),
    errno.EPERM: ("permission denied", "make the folder writable or write elsewhere"),
    errno.ENOSPC: ("no space left on the device", "free some space or write elsewhere"),
    errno.EDQUOT: ("the disk quota is exhausted", "free some space or write elsewhere"),
    errno.ENOENT: ("no such file or folder", "create the folder or fix the path"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "choose another path"),
    errno.EISDIR: ("it is a folder", "give a file name"),
}


def storage_error(exc: BaseException, path: object = None) -> StorageError | None:
    """One line for the first file-system error in ``exc``'s chain: the path, the problem
    and the fix; None when there is none. An error that names no path (a write that
    found the disk full) is told with ``path``, the output being written, when given."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and not isinstance(seen, LoopmlError):
            where = seen.filename or (path if seen.errno in _PROBLEMS else None)
            if where:
                default = (seen.strerror or str(seen), "fix it")
                problem, fix = _PROBLEMS.get(seen.errno or 0, default)
                return StorageError(f"{where}: {problem}; {fix}")
        seen = seen.__cause__ or seen.__context__
    return None


class NotExplainableError(LoopmlError):
    """A model has no explainer here (HTTP 422 from ``/explain``); the message names the
    model kind, why, and the fix."""


def first_line(exc: BaseException) -> str:
    """The first non-blank line of ``exc``'s message, stripped; its type's name when the
    message is empty (``str(exc).splitlines()[0]`` raises IndexError there)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


#: The CLI's exit statuses, one table for every command: 0 success, 1 a loopml error (any
#: ``LoopmlError``: bad input, a blocked gate, failed behavioural tests, a store that refused),
#: 2 a usage error found by the argument parser (Click's convention), 3 an alert of
#: ``loopml monitor`` (drift or decay found: a result, not a failure), 130 interrupted (Ctrl-C).
EXIT_CODES: dict[str, int] = {"ok": 0, "error": 1, "usage": 2, "alert": 3, "interrupted": 130}
