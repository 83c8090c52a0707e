"""loopml's load paths leave the caller's MLflow URIs as they were (registry.using_store)."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking._model_registry import utils as registry_utils

from loopml.errors import ModelNotFoundError
from loopml.tracking.models import load_with_compiled
from loopml.tracking.registry import using_store


def test_the_callers_uris_and_environment_come_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    loopmls = f"sqlite:///{tmp_path / 'loopml.db'}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)  # as in a fresh process
    mlflow.set_tracking_uri(mine)
    try:
        with using_store(loopmls):
            assert mlflow.get_tracking_uri() == loopmls
            assert mlflow.get_registry_uri() == loopmls
        assert mlflow.get_tracking_uri() == mine
        assert mlflow.get_registry_uri() == mine  # follows the tracking URI again
        assert os.environ.get("MLFLOW_REGISTRY_URI") is None
        assert os.environ["MLFLOW_TRACKING_URI"] == mine
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def test_a_failed_load_leaves_them_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)  # as in a fresh process
    mlflow.set_tracking_uri(mine)
    try:
        with pytest.raises(ModelNotFoundError):
            load_with_compiled(
                "models:/absent@champion", tracking_uri=f"sqlite:///{tmp_path / 'l.db'}"
            )
        assert mlflow.get_tracking_uri() == mine
        assert mlflow.get_registry_uri() == mine
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
