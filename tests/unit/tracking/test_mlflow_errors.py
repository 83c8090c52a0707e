"""MLflow's errors become loopml's at the tracking boundary: every error code maps to a
loopml error type, in one line that keeps MLflow's first."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2
from sqlalchemy.exc import OperationalError
from tests.conftest import free_port

from loopml.config import TrackingConfig
from loopml.errors import LoopmlError, ModelNotFoundError, TrackingError
from loopml.tracking import registry
from loopml.tracking.mlflow_errors import NOT_FOUND_CODES, error_type, mlflow_errors
from loopml.tracking.store import Tracker

CODES = sorted(databricks_pb2.ErrorCode.keys())


def test_the_not_found_codes_are_mlflow_codes() -> None:
    assert NOT_FOUND_CODES <= set(CODES)


@pytest.mark.parametrize("code", CODES)
def test_every_mlflow_error_code_maps_to_a_loopml_error_keeping_the_first_line(code: str) -> None:
    raised = MlflowException(
        f"Registered Model with name=houses failed ({code})\nTraceback (most recent call last):\n"
        "  File ...",
        getattr(databricks_pb2, code),
    )
    expected = ModelNotFoundError if code in NOT_FOUND_CODES else TrackingError

    with pytest.raises(LoopmlError) as caught:
        with mlflow_errors("reading houses", hint="see `loopml runs`"):
            raise raised

    assert type(caught.value) is expected is error_type(code)
    assert str(caught.value) == (
        f"reading houses failed: Registered Model with name=houses failed ({code}); "
        "see `loopml runs`"
    )
    assert caught.value.__cause__ is raised


def test_a_locked_sqlite_store_is_one_line_naming_the_file() -> None:
    locked = OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))

    with pytest.raises(TrackingError) as caught:
        with mlflow_errors("registering houses", uri="sqlite:////p/.loopml/mlflow.db"):
            raise locked

    message = str(caught.value)
    assert message.startswith("registering houses failed: /p/.loopml/mlflow.db: the tracking ")
    assert "locked" in message and "\n" not in message


def test_other_database_errors_are_tracking_errors() -> None:
    with pytest.raises(TrackingError, match=r"^reading houses failed: no such table: runs$"):
        with mlflow_errors("reading houses"):
            raise sqlite3.OperationalError("no such table: runs")


def test_loopml_and_other_errors_pass_unchanged() -> None:
    with pytest.raises(ModelNotFoundError, match=r"^mine$"):
        with mlflow_errors("reading houses"):
            raise ModelNotFoundError("mine")
    with pytest.raises(KeyError):
        with mlflow_errors("reading houses"):
            raise KeyError("x")


def test_a_real_store_miss_is_a_model_not_found_error(tmp_path: Path) -> None:
    cfg = TrackingConfig(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifacts=str(tmp_path))
    tracker = Tracker(cfg, "errors-test", "houses")

    with pytest.raises(ModelNotFoundError) as caught:
        with mlflow_errors("reading houses v1"):
            tracker.client.get_model_version("houses", "1")

    assert str(caught.value).startswith("reading houses v1 failed: ")
    assert "\n" not in str(caught.value)
    assert tracker.run_exists("0" * 32) is False
    assert tracker.registry_snapshot() == {"versions": [], "aliases": {}}


def test_an_unreachable_store_is_a_tracking_error_not_a_missing_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hot reload keeps serving on a TrackingError but would drop to "no champion" on None:
    a server that does not answer must not read as an alias that does not exist."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    uri = f"http://127.0.0.1:{free_port()}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)

    with pytest.raises(TrackingError) as caught:
        registry.alias_version(client, "houses", "champion")

    assert not isinstance(caught.value, ModelNotFoundError)
    assert str(caught.value).startswith("reading alias 'champion' of model 'houses' failed: ")
    assert "\n" not in str(caught.value)
