"""tuning.budget.time_limit: read as a duration, also as total_seconds; bad values one line."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from loopml.config import ProjectConfig, load_config
from loopml.errors import ConfigError

MINIMAL = "name: demo\ndata: {source: data/train.csv, target: y}\n"


def _load(tmp_path: Path, *overrides: str, body: str = MINIMAL) -> ProjectConfig:
    path = tmp_path / "loopml.yaml"
    path.write_text(body, encoding="utf-8")
    return load_config(path, list(overrides))


@pytest.mark.parametrize(
    ("written", "seconds"), [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1.5", 1.5)]
)
def test_a_time_limit_is_seconds_or_a_duration_with_its_unit(
    tmp_path: Path, written: str, seconds: float
) -> None:
    budget = _load(tmp_path, f"tuning.budget.time_limit={written}").tuning.budget
    assert budget.time_limit == pytest.approx(seconds)


def test_total_seconds_is_another_name_for_the_time_limit_in_seconds(tmp_path: Path) -> None:
    with pytest.warns(DeprecationWarning, match="total_seconds is now tuning.budget.time_limit"):
        budget = _load(tmp_path, "tuning.budget.total_seconds=120").tuning.budget
    assert budget.time_limit == 120.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        flag_wins = _load(
            tmp_path,
            "tuning.budget.time_limit=1m",
            body=MINIMAL + "tuning: {budget: {total_seconds: 600}}\n",
        )
    assert flag_wins.tuning.budget.time_limit == 60.0  # --set of one name replaces the other


def test_both_names_in_the_file_are_one_error_naming_both(tmp_path: Path) -> None:
    body = MINIMAL + "tuning: {budget: {total_seconds: 60, time_limit: 1m}}\n"
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, body=body)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert "tuning.budget.total_seconds and tuning.budget.time_limit are both set" in message


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("soon", "tuning.budget.time_limit: 'soon' is not a duration"),
        ("0", "tuning.budget.time_limit: Input should be greater than 0"),
        ("-5", "tuning.budget.time_limit: Input should be greater than 0"),
        ("5 minutes", "tuning.budget.time_limit: '5 minutes' is not a duration"),
        ("inf", "tuning.budget.time_limit: 'inf' is not a finite duration; give a duration"),
    ],
)
def test_a_bad_time_limit_is_one_line_naming_the_key(
    tmp_path: Path, written: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, f"tuning.budget.time_limit={written}")
    assert str(info.value).startswith(f"command line: {expected}")
    assert len(str(info.value).splitlines()) == 1


def test_a_bad_value_under_the_old_name_on_the_command_line_names_the_command_line(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "tuning.budget.total_seconds=0")
    assert str(info.value).startswith(
        "command line: tuning.budget.time_limit: Input should be greater than 0"
    )


def test_only_a_time_limit_leaves_trials_unlimited_unless_trials_are_set(tmp_path: Path) -> None:
    assert _load(tmp_path).tuning.budget.trials == 10  # the default without a limit
    assert _load(tmp_path, "tuning.budget.time_limit=60").tuning.budget.trials is None
    both = _load(tmp_path, "tuning.budget.time_limit=60", "tuning.budget.trials=5")
    assert both.tuning.budget.trials == 5  # whichever comes first
    in_file = _load(
        tmp_path, "tuning.budget.time_limit=60", body=MINIMAL + "tuning: {budget: {trials: 3}}\n"
    )
    assert in_file.tuning.budget.trials == 3


def test_the_time_limit_changes_the_training_key_only_when_set(tmp_path: Path) -> None:
    plain = _load(tmp_path)
    assert "time_limit" not in plain.training_settings()["tuning"]["budget"]
    limited = _load(tmp_path, "tuning.budget.time_limit=60")
    assert limited.training_key() != plain.training_key()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("compute.backend=ray", "is planned and enforced on compute.backend: local only"),
        ("train.distributed=true", "is not applied with train.distributed"),
    ],
)
def test_where_the_time_limit_cannot_apply_is_one_line(
    tmp_path: Path, override: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "tuning.budget.time_limit=60", override)
    message = str(info.value)
    assert message.startswith(f"loopml.yaml: tuning.budget.time_limit {expected}")
    assert len(message.splitlines()) == 1 and "{" not in message


@pytest.mark.parametrize("command", ["train", "run"])
def test_the_time_limit_flag_is_the_yaml_key(tmp_path: Path, command: str) -> None:
    path = tmp_path / "loopml.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    from typer.testing import CliRunner

    from loopml.cli import app

    result = CliRunner().invoke(app, [command, "-c", str(path), "--time-limit", "soon"])
    assert result.exit_code != 0
    assert "tuning.budget.time_limit: 'soon' is not a duration" in result.stderr


def test_successive_halving_needs_a_time_limit_and_changes_the_key_only_when_on(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "tuning.budget.successive_halving=true")
    message = str(info.value)
    assert message.startswith("loopml.yaml: tuning.budget.successive_halving splits a time")
    assert "set tuning.budget.time_limit (or --time-limit)" in message
    assert len(message.splitlines()) == 1 and "{" not in message
    limited = _load(tmp_path, "tuning.budget.time_limit=60")
    assert "successive_halving" not in limited.training_settings()["tuning"]["budget"]
    halving = _load(tmp_path, "tuning.budget.time_limit=60", "tuning.budget.successive_halving=1")
    assert halving.tuning.budget.successive_halving is True
    assert halving.training_key() != limited.training_key()
