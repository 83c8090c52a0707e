"""One name for parallelism (n_jobs) and one type for durations; old key names for a release."""

from __future__ import annotations

import logging
import warnings
from functools import reduce
from pathlib import Path
from typing import Any

import pytest

from loopml.config import ProjectConfig, duration_seconds, format_duration, load_config
from loopml.errors import ConfigError

MINIMAL = "name: demo\ndata: {source: data/train.csv, target: y}\n"
LOG = "serve.prediction_log"

# (old key, value written with it, new key, the value the new key then holds)
RENAMED = [
    ("serve.workers", "3", "serve.n_jobs", 3),
    ("serve.reload_interval_s", "0", "serve.reload_interval", 0.0),
    ("serve.batching.max_wait_ms", "5", "serve.batching.max_wait", 0.005),
    ("serve.limits.request_timeout_s", "2.5", "serve.limits.request_timeout", 2.5),
    (f"{LOG}.flush_interval_s", "0.5", f"{LOG}.flush_interval", 0.5),
    (f"{LOG}.retry_for_s", "3", f"{LOG}.retry_for", 3.0),
    (f"{LOG}.retention.days", "30", f"{LOG}.retention.max_age", 30 * 86400.0),
    (f"{LOG}.retention.interval_s", "60", f"{LOG}.retention.interval", 60.0),
    ("monitoring.window.hours", "24", "monitoring.window.max_age", 86400.0),
    ("retraining.data.reference_days", "2", "retraining.data.lookback", 2 * 86400.0),
    ("tuning.budget.seconds", "120", "tuning.budget.timeout", 120.0),
    ("train.workers", "4", "train.n_jobs", 4),
    ("train.cpus_per_worker", "2", "train.cpus_per_job", 2),
]  # fmt: skip


# old keys whose unit changed -> the value of RENAMED written in the new unit
UNIT_CHANGED = {
    "serve.batching.max_wait_ms": "5ms",
    f"{LOG}.retention.days": "30d",
    "monitoring.window.hours": "1d",
    "retraining.data.reference_days": "2d",
}


def _load(tmp_path: Path, *overrides: str) -> ProjectConfig:
    path = tmp_path / "loopml.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    return load_config(path, list(overrides))


def _get(cfg: Any, key: str) -> Any:
    return reduce(getattr, key.split("."), cfg)


@pytest.mark.parametrize(("old", "value", "new", "held"), RENAMED, ids=[r[0] for r in RENAMED])
def test_an_old_key_still_reads_with_one_warning_naming_the_new_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, old: str, value: str, new: str, held: Any
) -> None:
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        cfg = _load(tmp_path, f"{old}={value}")

    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    notice = f"{old} is now {new}; the old name works until the next release"
    if old in UNIT_CHANGED:  # the value to write in the new unit, so 30 days never read as 30 s
        notice += f" (in the new unit, write {new.rsplit('.', 1)[-1]}: {UNIT_CHANGED[old]})"
    assert [str(w.message) for w in deprecations] == [notice]
    assert [r.getMessage() for r in caplog.records] == [str(deprecations[0].message)]
    assert _get(cfg, new) == pytest.approx(held)


@pytest.mark.parametrize(("old", "value", "new", "held"), RENAMED, ids=[r[2] for r in RENAMED])
def test_the_new_key_holds_the_same_value_without_a_warning(
    tmp_path: Path, old: str, value: str, new: str, held: Any
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = _load(tmp_path, f"{new}={held}")
    assert _get(cfg, new) == pytest.approx(held)
    with pytest.warns(DeprecationWarning, match=f"{old} is now {new}"):
        assert _get(cfg, old) == pytest.approx(float(value))  # read in the old unit


@pytest.mark.parametrize(("old", "value", "new", "held"), RENAMED, ids=[r[0] for r in RENAMED])
def test_old_and_new_key_together_in_the_file_is_one_error_naming_both(
    tmp_path: Path, old: str, value: str, new: str, held: Any
) -> None:
    import yaml

    raw = yaml.safe_load(MINIMAL)
    for key, given in ((old, yaml.safe_load(value)), (new, held)):
        *sections, last = key.split(".")
        reduce(lambda node, k: node.setdefault(k, {}), sections, raw)[last] = given
    path = tmp_path / "loopml.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, [])
    message = str(info.value)
    assert message.startswith(f"loopml.yaml: {old} and {new} are both set")
    assert message.endswith(f"keep only {new}") and len(message.splitlines()) == 1


def test_setting_an_old_attribute_sets_the_new_one_in_its_unit(tmp_path: Path) -> None:
    cfg = _load(tmp_path)
    with pytest.warns(DeprecationWarning, match="retention.days is now"):
        cfg.serve.prediction_log.retention.days = 7
    assert cfg.serve.prediction_log.retention.max_age == 7 * 86400
    with pytest.warns(DeprecationWarning, match="serve.reload_interval_s is now"):
        cfg.serve.reload_interval_s = 0
    assert cfg.serve.reload_interval == 0


@pytest.mark.parametrize(
    ("override", "key", "seconds"),
    [
        ("serve.batching.max_wait=2ms", "serve.batching.max_wait", 0.002),
        ("serve.limits.request_timeout=30s", "serve.limits.request_timeout", 30.0),
        (f"{LOG}.retention.max_age=30d", f"{LOG}.retention.max_age", 2592000.0),
        ("monitoring.window.max_age=24h", "monitoring.window.max_age", 86400.0),
        ("monitoring.alerts.timeout=1.5", "monitoring.alerts.timeout", 1.5),
        ("retraining.schedule=7d", "retraining.schedule", 604800.0),
        ("tuning.budget.timeout=2m", "tuning.budget.timeout", 120.0),
        ("serve.reload_interval='90'", "serve.reload_interval", 90.0),
    ],
)  # fmt: skip
def test_a_duration_is_seconds_or_a_string_with_its_unit(
    tmp_path: Path, override: str, key: str, seconds: float
) -> None:
    assert _get(_load(tmp_path, override), key) == pytest.approx(seconds)


def test_a_duration_in_no_known_form_is_one_line_naming_key_and_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "serve.reload_interval=soon")
    message = str(info.value)
    assert message.startswith("command line: serve.reload_interval: 'soon' is not a duration")
    assert "30s, 10m, 2h or 7d" in message and len(message.splitlines()) == 1


def test_durations_read_and_print_in_their_units() -> None:
    assert duration_seconds("500ms") == 0.5 and duration_seconds(90) == 90.0
    assert [format_duration(s) for s in (604800, 7200, 600, 30, 0.002, 1.5)] == [
        "7d",
        "2h",
        "10m",
        "30s",
        "2ms",
        "1500ms",
    ]
    with pytest.raises(ValueError, match="is not a duration"):
        duration_seconds("0s")


def test_the_training_key_does_not_move_with_the_renamed_budget_key(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = _load(tmp_path, "tuning.budget.seconds=60")
    new = _load(tmp_path, "tuning.budget.timeout=1m")
    assert old.training_key() == new.training_key()
    assert new.training_settings()["tuning"]["budget"] == {"trials": 10, "seconds": 60.0}
    assert _load(tmp_path, "tuning.budget.timeout=2m").training_key() != new.training_key()


def test_a_misspelt_old_key_suggests_the_new_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"serve\.worker: unknown key; did you mean 'n_jobs'"):
        _load(tmp_path, "serve.worker=2")


@pytest.mark.parametrize(
    ("in_file", "flag", "new", "held"),
    [
        ("serve: {workers: 4}", "serve.n_jobs=2", "serve.n_jobs", 2),
        ("serve: {n_jobs: 4}", "serve.workers=2", "serve.n_jobs", 2),
        ("serve: {reload_interval_s: 30}", "serve.reload_interval=0", "serve.reload_interval", 0),
    ],
)
def test_a_flag_replaces_the_same_setting_under_its_other_name_in_the_file(
    tmp_path: Path, in_file: str, flag: str, new: str, held: Any
) -> None:
    path = tmp_path / "loopml.yaml"
    path.write_text(MINIMAL + in_file + "\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cfg = load_config(path, [flag])
    assert _get(cfg, new) == held


def test_settings_loopml_logged_itself_read_old_names_without_a_notice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from loopml.config import quietly

    logged = {"name": "demo", "data": {"source": "x.csv", "target": "y"}, "serve": {"workers": 3}}
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        with quietly():
            cfg = ProjectConfig.model_validate(logged)
    assert cfg.serve.n_jobs == 3
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert not caplog.records
