"""`loopml server` settings: the mlflow command line, password redaction, refused stores."""

from __future__ import annotations

import itertools

import pytest

from loopml.errors import ConfigError
from loopml.workflows.server import ServerSettings, check, command, redact


def test_command_serves_artifacts_from_the_chosen_root() -> None:
    argv = command(
        ServerSettings("postgresql://u:p@db:5432/mlflow", "s3://bucket/ml", "0.0.0.0", 5001, 3)
    )
    assert argv[1:4] == ["-m", "mlflow", "server"]
    pairs = dict(itertools.pairwise(argv))
    assert pairs["--backend-store-uri"] == "postgresql://u:p@db:5432/mlflow"
    assert pairs["--artifacts-destination"] == "s3://bucket/ml"
    assert pairs["--port"] == "5001" and pairs["--host"] == "0.0.0.0" and pairs["--workers"] == "3"
    assert "--serve-artifacts" in argv and "--allowed-hosts" not in argv


def test_allowed_hosts_are_passed_when_given() -> None:
    argv = command(ServerSettings("sqlite:///x.db", "/a", allowed_hosts="mlflow:5000"))
    assert argv[argv.index("--allowed-hosts") + 1] == "mlflow:5000"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://me:s3cret@db:5432/x", "postgresql://me:***@db:5432/x"),
        ("postgresql://me@db/x", "postgresql://me@db/x"),
        ("sqlite:///m.db", "sqlite:///m.db"),
    ],
)
def test_redact_hides_only_the_password(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize("url", ["http://host:5000", "./mlruns", "file:///tmp/x"])
def test_a_store_that_is_not_a_database_is_refused_in_one_line(url: str) -> None:
    with pytest.raises(ConfigError, match="not a database URL; use postgresql://") as info:
        check(ServerSettings(url, "/tmp/a"))
    assert len(str(info.value).splitlines()) == 1
