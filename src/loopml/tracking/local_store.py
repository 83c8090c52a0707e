"""The project's own SQLite tracking store: opened honestly, and portable with its folder.

``open_store`` runs before a command touches MLflow, and does nothing for other stores:

- a store file that is gone while the project's artifact folder still holds runs is
  refused (MLflow would silently create an empty store, and `loopml runs` would say
  "no runs yet");
- a store locked by another process is retried a few times with a short backoff, then
  refused in one line naming the file and the fix (MLflow would retry for about a minute
  and end in a 100-line traceback);
- artifact locations are resolved relative to the project: MLflow records absolute
  paths (``file:///old/folder/.loopml/artifacts/…``), so a copied project would log into
  the original's folder and a moved one would find no model. When the recorded root is
  not the project's ``tracking.artifacts`` but that folder holds the recorded runs (the
  project was copied or moved with it), the recorded paths are rewritten, in one
  transaction, to the project's folder. A root the user changed on purpose (the old runs
  are not in the new folder) is left alone.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlparse

from loopml.config import ProjectConfig, TrackingConfig, load_config
from loopml.errors import TrackingError

BACKOFF_S = (0.2, 0.5, 1.0, 2.0)  # waits between attempts on a locked store
BUSY_TIMEOUT_S = 1.0  # how long one attempt waits for the lock inside SQLite
LOCKED_FIX = (
    "another process holds it (a loopml or mlflow command, or a tool that opened the "
    "file); wait for it to finish or stop it, then run this again"
)
# Every column where MLflow records an absolute artifact location.
_LOCATIONS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def store_file(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` tracking URI (absolute once the config is loaded)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///"))


def open_store(cfg: TrackingConfig, experiment: str) -> None:
    """Check and relocate the project's local store; nothing for other stores."""
    path = store_file(cfg.uri)
    if path is None or "://" in cfg.artifacts:
        return
    artifacts = Path(cfg.artifacts)
    if not path.exists():
        _refuse_if_vanished(path, artifacts)
        return
    _with_retries(path, lambda conn: _relocate(conn, experiment, artifacts))


def _refuse_if_vanished(path: Path, artifacts: Path) -> None:
    runs = [p for p in artifacts.iterdir() if p.is_dir()] if artifacts.is_dir() else []
    if runs:
        raise TrackingError(
            f"{path}: the tracking store is missing, but {artifacts} holds the artifacts of "
            f"{len(runs)} runs or models of this project; restore the file from a backup "
            f"(an empty store would lose every run, version and alias), or move {artifacts} "
            "away to start afresh"
        )


def _with_retries(path: Path, work: Callable[[sqlite3.Connection], None]) -> None:
    """Run ``work(connection)`` in one transaction; retry while the store is locked."""
    waited = 0.0
    for pause in (*BACKOFF_S, None):
        try:
            with closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)) as conn, conn:
                work(conn)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise TrackingError(f"{path}: cannot open the tracking store ({exc})") from None
            waited += BUSY_TIMEOUT_S
            if pause is None:
                break
            time.sleep(pause)
            waited += pause
    raise TrackingError(
        f"{path}: the tracking store is locked (tried for {waited:.0f} s); {LOCKED_FIX}"
    )


def locked_message(exc: BaseException, uri: str) -> str | None:
    """One line for an exception that ends in SQLite's 'database is locked', else None."""
    seen: BaseException | None = exc
    while seen is not None:
        if "database is locked" in str(seen):
            return f"{store_file(uri) or uri}: the tracking store is locked; {LOCKED_FIX}"
        seen = seen.__cause__ or seen.__context__
    return None


def _relocate(conn: sqlite3.Connection, experiment: str, artifacts: Path) -> None:
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    if "experiments" not in tables:
        return  # a store MLflow has not initialised yet
    row = conn.execute(
        "SELECT artifact_location FROM experiments WHERE name = ?", (experiment,)
    ).fetchone()
    expected = artifacts.resolve().as_uri()
    if row is None or not str(row[0]).startswith("file://") or row[0] == expected:
        return
    recorded = str(row[0]).rstrip("/")
    if not _holds_recorded_runs(conn, recorded, artifacts):
        return
    for table, column in _LOCATIONS:
        if table in tables:
            conn.execute(
                f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                f"WHERE substr({column}, 1, ?) = ? "
                f"AND (length({column}) = ? OR substr({column}, ?, 1) = '/')",
                (expected, len(recorded) + 1, len(recorded), recorded, len(recorded),
                 len(recorded) + 1),
            )  # fmt: skip


def _holds_recorded_runs(conn: sqlite3.Connection, recorded: str, artifacts: Path) -> bool:
    """Whether the project's artifact folder holds a run recorded under ``recorded``."""
    uris = conn.execute(
        "SELECT artifact_uri FROM runs WHERE substr(artifact_uri, 1, ?) = ? LIMIT 20",
        (len(recorded) + 1, recorded + "/"),
    ).fetchall()
    for (uri,) in uris:
        relative = unquote(urlparse(uri).path)[len(unquote(urlparse(recorded).path)) :]
        if (artifacts / relative.strip("/")).parent.is_dir():
            return True
    return False


def load_project(path: Path, overrides: Sequence[str] = ()) -> ProjectConfig:
    """A project's config as every edge (the CLI, ``loopml.Project``) opens it: the file read
    with its ``--set`` overrides, then its local tracking store checked and moved with its
    folder (``open_store``). Raises ``ConfigError`` naming the file or key."""

    cfg = load_config(path, list(overrides))
    open_store(cfg.tracking, cfg.experiment_name)
    return cfg
