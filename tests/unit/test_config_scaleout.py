"""compute.backend ray, compute.address and the train section of loopml.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import load_config
from loopml.errors import ConfigError

MINIMAL = "name: demo\ndata: {source: data/train.csv, target: y}\n"


def _load(tmp_path: Path, *overrides: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "loopml.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    return load_config(path, list(overrides))


def test_defaults_stay_on_the_laptop(tmp_path: Path) -> None:
    cfg = _load(tmp_path)
    assert cfg.compute.backend == "local" and cfg.compute.address is None
    assert cfg.train.distributed is False and cfg.train.n_jobs == 2
    assert cfg.train.storage == str(tmp_path / ".loopml" / "ray")


def test_ray_cluster_and_distributed_training_by_configuration(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        "compute.backend=ray",
        "compute.address=ray://head:10001",
        "train.distributed=true",
        "train.n_jobs=4",
        "train.storage=s3://bucket/ray",
    )
    assert cfg.compute.backend == "ray" and cfg.compute.address == "ray://head:10001"
    assert cfg.train.distributed and cfg.train.n_jobs == 4
    assert cfg.train.storage == "s3://bucket/ray"  # URLs are kept as they are


def test_unknown_backend_is_one_line_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "compute.backend=spark")
    assert str(info.value).startswith("command line: compute.backend: ")
    assert "'spark'" in str(info.value) and len(str(info.value).splitlines()) == 1


def test_misspelt_train_key_is_suggested(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"train\.worker: unknown key; did you mean 'n_jobs'"):
        _load(tmp_path, "train.worker=3")


def test_distributed_training_changes_the_training_key(tmp_path: Path) -> None:
    local = _load(tmp_path).training_key()
    assert _load(tmp_path, "train.distributed=true").training_key() != local
    assert _load(tmp_path, "compute.backend=ray").training_key() == local
