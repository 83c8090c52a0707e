"""The Python API, as a notebook uses it: loopml.Project runs the loop the CLI runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

import loopml
from loopml.errors import ConfigError
from loopml.workflows.init import init_project

pytestmark = pytest.mark.integration


def test_the_public_names_are_locked() -> None:
    assert loopml.__all__ == ["Outcome", "Project", "__version__", "load_model"]
    assert all(getattr(loopml, name) is not None for name in loopml.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'Projekt'"):
        loopml.__getattr__("Projekt")


def test_a_project_runs_predicts_explains_and_evaluates_from_python(tmp_path: Path) -> None:
    init_project(tmp_path, "breast_cancer")
    config = tmp_path / "loopml.yaml"
    body = yaml.safe_load(config.read_text())
    body["models"] = {"candidates": {"logistic_regression": {}}}
    config.write_text(yaml.safe_dump(body))
    project = loopml.Project.from_yaml(config, ["split.seed=7"], progress=False)
    assert project.config.split.seed == 7

    outcome = project.run()
    assert "logistic_regression v1 won on f1_macro" in outcome.summary
    assert "gate passed: promoted to champion" in outcome.summary
    board = outcome.leaderboard
    assert set(board["candidate"]) == {"logistic_regression", "baseline"}
    assert board.loc[board["winner"], "candidate"].tolist() == ["logistic_regression"]
    assert "<table" in outcome._repr_html_() and "cv_mean" in repr(outcome)
    assert outcome.result.promoted and outcome.result.training.registered.version == "1"

    rows = pd.read_csv(tmp_path / "data" / "score_me.csv").head(5)
    predicted = project.predict(rows)
    same = loopml.load_model(
        "models:/breast-cancer@champion", tracking_uri=project.config.tracking.uri
    ).score_frame(rows)
    pd.testing.assert_frame_equal(predicted, same)
    explained = project.explain(rows)
    assert explained.contributions.shape == (5, 30)

    again = project.run()  # unchanged data and config
    assert again.summary.startswith("skipped: data and config unchanged")
    evaluation = project.evaluate()
    assert evaluation.report.is_file() and evaluation.evaluation.metrics["f1_macro"] > 0.9
    # in a notebook: a summary line and the gate's rules, not every array the result holds
    assert repr(evaluation).startswith("breast-cancer v1: test ") and "gate passes" in repr(
        evaluation
    )
    assert len(repr(evaluation)) < 2000 and "<table" in evaluation._repr_html_()
    assert list(evaluation.table.columns) == ["rule", "passed", "detail"]
    promotion = project.promote()
    assert repr(promotion).startswith("breast-cancer v1 is already champion")


def test_a_bad_override_is_one_config_error(tmp_path: Path) -> None:
    init_project(tmp_path, "breast_cancer")
    with pytest.raises(ConfigError, match=r"split\.sed"):
        loopml.Project.from_yaml(tmp_path / "loopml.yaml", ["split.sed=7"])
