"""Which candidates' searches get ``target_transform``: added where the target is skewed and
non-negative, kept where the user set it, refused in one line where it cannot apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.conftest import write_project

from loopml.config import load_config
from loopml.core import tuning
from loopml.errors import ConfigError
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import Prepared, prepare
from loopml.workflows.tune import specs, with_target_transform


def _prepared(folder: Path, y: np.ndarray, candidates: dict[str, Any]) -> Prepared:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=len(y)).round(4), "y": y})
    frame.to_csv(folder / "rows.csv", index=False)
    config = write_project(
        folder,
        {
            "name": "t",
            "data": {"source": "rows.csv", "target": "y"},
            "models": {"candidates": candidates},
        },
    )
    return prepare(load_config(config), SilentReporter())


def _specs(data: Prepared, folder: Path) -> tuple[dict[str, tuning.Space], str | None]:
    cfg = load_config(folder / "loopml.yaml")
    found, line = with_target_transform(specs(cfg, data.task), data)
    return {s.name: s.space for s in found}, line


def test_a_skewed_target_adds_the_choice_except_where_the_user_set_it(tmp_path: Path) -> None:
    y = np.random.default_rng(1).lognormal(2, 1, 300).round(3)
    data = _prepared(tmp_path, y, {"ridge": {}, "knn": {"target_transform": "none"}})
    spaces, line = _specs(data, tmp_path)
    assert spaces["ridge"]["target_transform"] == tuning.Choice(("none", "log1p"))
    assert spaces["knn"]["target_transform"] == tuning.Fixed("none")
    assert line is not None and "target 'y' has skewness" in line and "log1p" in line


def test_a_symmetric_target_adds_nothing_and_says_nothing(tmp_path: Path) -> None:
    y = np.random.default_rng(1).normal(50, 5, 300).round(3)
    spaces, line = _specs(_prepared(tmp_path, y, {"ridge": {}}), tmp_path)
    assert "target_transform" not in spaces["ridge"] and line is None


def test_log1p_on_a_target_below_minus_one_is_one_line_naming_key_column_and_value(
    tmp_path: Path,
) -> None:
    y = np.random.default_rng(1).normal(0, 5, 300).round(3)
    data = _prepared(tmp_path, y, {"ridge": {"target_transform": ["none", "log1p"]}})
    fitted_on = pd.concat([data.splits.train, data.splits.validation])["y"].min()
    with pytest.raises(ConfigError) as caught:
        _specs(data, tmp_path)
    message = str(caught.value)
    assert message.startswith("models.candidates.ridge.target_transform: log1p needs")
    assert "'y'" in message and f"{fitted_on:g}" in message and "\n" not in message


@pytest.mark.parametrize(
    ("value", "says"),
    [({"low": 0, "high": 1}, "unknown transform 0"), ("log", "unknown transform 'log'")],
)
def test_a_bad_value_is_one_line(tmp_path: Path, value: Any, says: str) -> None:
    y = np.random.default_rng(1).lognormal(2, 1, 300).round(3)
    with pytest.raises(ConfigError, match=says):
        _specs(_prepared(tmp_path, y, {"ridge": {"target_transform": value}}), tmp_path)


def test_a_classifier_with_a_transform_is_refused(tmp_path: Path) -> None:
    y = np.array(["a", "b"] * 150)
    data = _prepared(tmp_path, y, {"logistic_regression": {"target_transform": ["none", "log1p"]}})
    with pytest.raises(ConfigError, match="regression only"):
        _specs(data, tmp_path)
