"""MLflow's errors turned into loopml's, in one place: the tracking boundary.

MLflow raises ``MlflowException`` with an ``error_code`` (a name from
``mlflow.protos.databricks_pb2.ErrorCode``) and a message that may run to many lines (a
server's traceback, an SQL statement). SQLAlchemy and SQLite raise their own errors when
the store's database is locked or unreachable. Tracking code wraps each MLflow call in
``mlflow_errors(...)``: what leaves it is a ``ModelNotFoundError`` (the thing asked for does
not exist) or a ``TrackingError`` (the store refused or failed), with one line that says
what loopml was doing and keeps MLflow's first line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from loopml.errors import LoopmlError, ModelNotFoundError, TrackingError, first_line

#: MLflow error codes that mean "no such run, experiment, model, version or alias": a
#: ``ModelNotFoundError``. Every other code is a ``TrackingError``.
NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})


def error_type(code: str) -> type[LoopmlError]:
    """The loopml error type for an MLflow error code.

    Parameters
    ----------
    code : str
        ``MlflowException.error_code``: a name from ``databricks_pb2.ErrorCode``.

    Returns
    -------
    type[LoopmlError]
        ``ModelNotFoundError`` for the codes in ``NOT_FOUND_CODES``, else ``TrackingError``.
    """
    return ModelNotFoundError if code in NOT_FOUND_CODES else TrackingError


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is MLflow saying that what was asked for does not exist."""
    from mlflow.exceptions import MlflowException

    return isinstance(exc, MlflowException) and exc.error_code in NOT_FOUND_CODES


def is_absent(exc: BaseException) -> bool:
    """Whether a failed artifact download means the artifact is not there: MLflow's
    not-found codes, or an ``OSError`` (a local file missing; an HTTP artifact server's
    404 arrives as ``requests.HTTPError``, an ``OSError``)."""
    return isinstance(exc, OSError) or is_not_found(exc)


def loopml_error(
    exc: BaseException, doing: str, *, uri: str | None = None, hint: str = ""
) -> LoopmlError | None:
    """The loopml error for an MLflow, SQLAlchemy or SQLite error; None for any other.

    Parameters
    ----------
    exc : BaseException
        The error MLflow (or the store's database driver) raised.
    doing : str
        What loopml was doing, e.g. ``"registering breast-cancer"``; the message starts
        ``"<doing> failed: "``.
    uri : str, optional
        The tracking URI, named in the message when the store is locked.
    hint : str, optional
        What to do, appended after ``"; "``.

    Returns
    -------
    LoopmlError or None
        A ``ModelNotFoundError`` or ``TrackingError`` whose one-line message keeps the
        first line of MLflow's; None when ``exc`` comes from neither MLflow nor a database.
    """
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    from loopml.tracking.local_store import locked_message

    locked = locked_message(exc, uri or "the tracking store")
    if locked is not None:
        return TrackingError(f"{doing} failed: {locked}")
    if isinstance(exc, MlflowException):
        kind = error_type(exc.error_code)
    elif isinstance(exc, SQLAlchemyError | sqlite3.Error):
        kind = TrackingError
    else:
        return None
    return kind(f"{doing} failed: {first_line(exc)}" + (f"; {hint}" if hint else ""))


def failure_line(exc: BaseException, doing: str, *, uri: str | None = None) -> str:
    """One line for any error raised while ``doing``: ``loopml_error``'s message for an
    MLflow or database error, else ``"<doing> failed: <first line of exc>"``."""
    mapped = loopml_error(exc, doing, uri=uri)
    return str(mapped) if mapped is not None else f"{doing} failed: {first_line(exc)}"


@contextmanager
def mlflow_errors(doing: str, *, uri: str | None = None, hint: str = "") -> Iterator[None]:
    """Run the block; raise MLflow and database errors as loopml errors (``loopml_error``).

    Parameters
    ----------
    doing, uri, hint : str
        As for ``loopml_error``.

    Raises
    ------
    ModelNotFoundError
        MLflow said that what was asked for does not exist (``NOT_FOUND_CODES``).
    TrackingError
        Any other MLflow error, or a database error (a locked SQLite store among them).
    """
    try:
        yield
    except LoopmlError:
        raise
    except Exception as exc:
        mapped = loopml_error(exc, doing, uri=uri, hint=hint)
        if mapped is None:
            raise
        raise mapped from exc
