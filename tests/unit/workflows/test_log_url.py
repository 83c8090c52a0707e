"""Where monitoring finds the server's prediction log: any SQLAlchemy URL, refused ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import ProjectConfig
from loopml.errors import ConfigError
from loopml.workflows.monitor import log_url


def _config(url: str) -> ProjectConfig:
    cfg = ProjectConfig.model_validate(
        {"name": "p", "data": {"source": "d.csv", "target": "y"},
         "serve": {"prediction_log": {"url": url}}}
    )  # fmt: skip
    cfg._root = Path("/projects/p")
    return cfg


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///.loopml/predictions.db", "sqlite:////projects/p/.loopml/predictions.db"),
        ("sqlite:////var/log/p.db", "sqlite:////var/log/p.db"),
        ("postgresql://me:pw@db:5432/logs", "postgresql://me:pw@db:5432/logs"),
    ],
)
def test_relative_sqlite_paths_are_taken_from_the_project_folder(url: str, expected: str) -> None:
    assert log_url(_config(url)) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("predictions.db", r"'predictions\.db' is not a database URL; set it to sqlite:///PATH"),
        ("sqlite:///:memory:", r"an in-memory log is lost with the server"),
        ("sqlite://", r"an in-memory log is lost with the server"),
    ],
)
def test_urls_monitoring_cannot_read_are_one_line_naming_the_key(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^serve\.prediction_log\.url: .*{message}") as caught:
        log_url(_config(url))
    assert "\n" not in str(caught.value)
