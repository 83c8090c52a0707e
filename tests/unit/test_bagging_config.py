"""models.bagging.folds: off (0) or k >= 2, one line naming the key otherwise; it changes
the training key only when on, so runs made before it existed stay current."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import ProjectConfig, load_config
from loopml.errors import ConfigError

MINIMAL = "name: demo\ndata: {source: data/train.csv, target: y}\n"


def _load(tmp_path: Path, *overrides: str) -> ProjectConfig:
    path = tmp_path / "loopml.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    return load_config(path, list(overrides))


def test_bagging_is_off_by_default_and_takes_k_folds(tmp_path: Path) -> None:
    assert _load(tmp_path).models.bagging.folds == 0
    assert _load(tmp_path, "models.bagging.folds=5").models.bagging.folds == 5


@pytest.mark.parametrize("folds", ["1", "-2"])
def test_a_bad_fold_count_is_one_line_naming_the_key(tmp_path: Path, folds: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, f"models.bagging.folds={folds}")
    message = str(info.value)
    assert message.startswith("loopml.yaml: models.bagging")
    assert f"folds is {folds}: write 0 (off) or at least 2" in message
    assert len(message.splitlines()) == 1


def test_bagging_changes_the_training_key_only_when_on(tmp_path: Path) -> None:
    plain = _load(tmp_path)
    assert "bagging" not in plain.training_settings()["models"]
    assert _load(tmp_path, "models.bagging.folds=0").training_key() == plain.training_key()
    assert _load(tmp_path, "models.bagging.folds=5").training_key() != plain.training_key()
