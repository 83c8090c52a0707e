"""The project's SQLite tracking store: portable with its folder, honest when gone or locked.

A copy of the trained example project logs into its own folder (never the original's), and
the copy, moved elsewhere, predicts, evaluates and serves unchanged. Its store file gone
while its artifacts remain is refused in one line, not recreated empty; a store locked by
another process is retried briefly, then refused in one line; so is a version whose
recorded files are gone.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from loopml.serving.runner import ServeArgs, build_app
from tests.integration.conftest import LiveServer, Project, cli

pytestmark = pytest.mark.integration


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _locations(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT artifact_uri FROM runs UNION ALL SELECT storage_location FROM model_versions "
            "UNION ALL SELECT artifact_location FROM experiments WHERE name = 'breast-cancer'"
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_a_copied_and_moved_project_uses_its_own_folder(
    breast_cancer: Project, tmp_path: Path
) -> None:
    original = breast_cancer.folder
    before = _files(original)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    code, _, stderr = cli("evaluate", "champion", "-c", str(copy / "loopml.yaml"))
    assert code == 0, stderr
    assert _files(original) == before  # nothing of the copy's evaluation went there
    assert all(
        f"{copy}/.loopml/artifacts" in uri for uri in _locations(copy / ".loopml" / "mlflow.db")
    )
    assert list((copy / ".loopml" / "artifacts").glob("*/artifacts/evaluation/report.html"))

    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    copy.rename(moved)
    config = str(moved / "loopml.yaml")
    rows = str(moved / "data" / "score_me.csv")
    code, stdout, stderr = cli(
        "predict",
        rows,
        "-o",
        str(tmp_path / "out.csv"),
        "-c",
        config,
    )
    assert code == 0, stderr
    assert len(pd.read_csv(tmp_path / "out.csv")) == 50
    with LiveServer(build_app(ServeArgs(config, ["serve.reload_interval=0"]))) as live:
        record = pd.read_csv(moved / "data" / "score_me.csv").head(1).to_dict("records")[0]
        answer = httpx.post(f"{live.url}/predict", json={"records": [record]}, timeout=30)
    assert answer.status_code == 200 and answer.json()["model"]["version"] == "1"
    assert all(
        f"{moved}/.loopml/artifacts" in u for u in _locations(moved / ".loopml" / "mlflow.db")
    )

    # the store file gone while the artifacts remain: refused, not recreated empty
    store = moved / ".loopml" / "mlflow.db"
    store.rename(tmp_path / "kept.db")
    code, stdout, stderr = cli("runs", "-c", config)
    assert code == 1 and stdout == ""
    assert stderr.startswith(f"error: {store}: the tracking store is missing, but ")
    assert "restore the file from a backup" in stderr and len(stderr.strip().splitlines()) == 1
    assert not store.exists()
    (tmp_path / "kept.db").rename(store)

    # locked by another process: retried, then one line; released in time: it goes through
    holder = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    started = time.monotonic()
    code, stdout, stderr = cli("promote", "-c", config)
    took = time.monotonic() - started
    assert code == 1 and stdout == ""
    assert stderr.strip() == (
        f"error: {store}: the tracking store is locked (tried for 9 s); another process holds "
        "it (a loopml or mlflow command, or a tool that opened the file); wait for it to "
        "finish or stop it, then run this again"
    )
    assert took < 15
    threading.Timer(1.0, holder.rollback).start()
    code, stdout, stderr = cli("runs", "-c", config)
    holder.close()
    assert code == 0, stderr
    assert "champion" in stdout

    # the files a version is recorded at, gone: one line naming that path
    models = moved / ".loopml" / "artifacts" / "models"
    models.rename(tmp_path / "models-kept")
    code, stdout, stderr = cli("predict", rows, "-o", str(tmp_path / "again.csv"), "-c", config)
    assert code == 1 and stdout == ""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"keeps its files at {models}/m-" in errors[0], stderr
    assert "which does not exist; restore that folder" in errors[0]
