"""Rule baselines: the YAML entry, the scikit-learn estimator, the pre-training check, the gate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.utils.validation import check_is_fitted

from loopml.config import GateConfig, ProjectConfig, RuleConfig
from loopml.core import rules
from loopml.core.evaluation import gate, metrics
from loopml.errors import ConfigError

FRAME = pd.DataFrame(
    {
        "mean area": [100.0, 800.0, 900.0, np.nan, 50.0],
        "title": ["a", "a long title here", "short", "b", "another long title"],
        "fare": [10.0, 20.0, 30.0, 40.0, 50.0],
    }
)
LABELS = pd.Series(["benign", "malignant", "benign", "benign", "malignant"])


def rule(when: str, then: object, else_: object) -> RuleConfig:
    return RuleConfig.model_validate({"when": when, "then": then, "else": else_})


def test_yaml_entry_parses_with_else_and_dumps_it_back() -> None:
    raw = {
        "name": "p",
        "data": {"source": "d.csv", "target": "y"},
        "models": {"rules": {"big": {"when": "`mean area` > 700", "then": "m", "else": "b"}}},
        "gate": {"beat_rules": True},
    }
    cfg = ProjectConfig.model_validate(raw)
    assert cfg.models.rules["big"].else_ == "b" and cfg.gate.beat_rules
    dumped = cfg.model_dump(mode="json")["models"]["rules"]["big"]
    assert dumped == {"when": "`mean area` > 700", "then": "m", "else": "b"}
    assert (
        ProjectConfig.model_validate(cfg.model_dump(mode="json")).models.rules == cfg.models.rules
    )
    with pytest.raises(ValueError, match="register_rule 'nope' is not a rule"):
        ProjectConfig.model_validate({**raw, "models": {**raw["models"], "register_rule": "nope"}})
    with pytest.raises(ValueError, match=r"gate\.beat_rules is true but models\.rules declares no"):
        ProjectConfig.model_validate({**raw, "models": {}})


def test_classifier_follows_the_estimator_contract() -> None:
    model = rules.make("big", rule("`mean area` > 700", "malignant", "benign"), "classification")
    assert is_classifier(model) and clone(model).get_params() == model.get_params()
    fitted = model.fit(FRAME, LABELS)
    check_is_fitted(fitted)
    assert list(fitted.classes_) == ["benign", "malignant"]
    assert list(fitted.predict(FRAME)) == ["benign", "malignant", "malignant", "benign", "benign"]
    proba = fitted.predict_proba(FRAME)
    assert proba.shape == (5, 2) and (proba.sum(axis=1) == 1).all()
    assert list(proba[:, 1]) == [0, 1, 1, 0, 0]  # missing area: the rule does not fire


def test_integer_labels_match_yaml_values_of_either_type() -> None:
    model = rules.make("r", rule("fare > 25", "1", 0), "classification")
    model.fit(FRAME, pd.Series([0, 1, 0, 1, 1]))
    assert model.predict(FRAME).tolist() == [0, 0, 1, 1, 1]


def test_regression_rule_takes_numbers_or_expressions() -> None:
    model = rules.make("v", rule("title.str.len() > 10", "fare * 2", 1), "regression")
    assert is_regressor(model)
    assert model.fit(FRAME, FRAME["fare"]).predict(FRAME).tolist() == [1, 40, 1, 1, 100]
    bad = rules.make("v", rule("fare > 1", "title.str.upper()", 0), "regression")
    with pytest.raises(ConfigError, match=r"models.rules.v.then: 'title.str.upper\(\)' gives no"):
        bad.fit(FRAME, FRAME["fare"])


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("`mean aera` > 700", "(unknown column 'mean aera'; did you mean 'mean area'?)"),
        ("titel.str.len() > 4", "(unknown column 'titel'; did you mean 'title'?)"),
        ("y == 'benign'", "(column 'y' is the target: a rule cannot read the answer)"),
        ("pid > 3", "(column 'pid' is not a feature (an id or ignored column)"),
        ("mean area > 700", "a name with spaces goes in backticks: `mean area`"),
        ("fare + 1", "does not give true/false per row"),
    ],
)
def test_check_names_the_rule_the_expression_and_the_column(when: str, message: str) -> None:
    frame = FRAME.assign(y=LABELS, pid=range(5))
    rules_ = {"big": rule(when, "malignant", "benign")}
    with pytest.raises(ConfigError) as caught:
        rules.check(rules_, frame, ["mean area", "title", "fare"], "y", "classification")
    text = str(caught.value)
    assert text.startswith(f"models.rules.big.when: {when!r}") or text.startswith(
        f"models.rules.big.when: cannot evaluate {when!r}"
    ), text
    assert message in text and "\n" not in text


def test_check_refuses_a_label_that_is_not_a_class() -> None:
    frame = FRAME.assign(y=LABELS)
    with pytest.raises(ConfigError, match=r"models\.rules\.r\.then: 'malignent' is not a class"):
        rules.check(
            {"r": rule("fare > 1", "malignent", "benign")}, frame, ["fare"], "y", "classification"
        )


def _inputs(model_score: float, rule_scores: dict[str, float]) -> gate.GateInputs:
    metric = metrics.METRICS["f1_macro"]
    fit = gate.overfit(metric, 1.0, 0.9, model_score)
    return gate.GateInputs(
        "classification", metric, {"f1_macro": model_score}, fit, rules=rule_scores
    )


def test_gate_beat_rules_compares_with_the_best_rule_with_numbers() -> None:
    cfg = GateConfig(beat_champion=None, behavioral="report", beat_rules=True)
    passed = gate.decide(cfg, _inputs(0.95, {"big": 0.86, "concave": 0.90}))
    assert passed.passed
    assert passed.rules[0].detail == (
        "test f1_macro 0.9500 beats the best of 2 rule(s), concave, 0.9000 (+0.0500)"
    )
    failed = gate.decide(cfg, _inputs(0.88, {"big": 0.86, "concave": 0.90}))
    assert not failed.passed and "does not beat" in failed.reasons()
    assert "(-0.0200)" in failed.reasons()
    assert not gate.decide(cfg, _inputs(0.90, {"concave": 0.90})).passed  # a tie is no win
    assert not gate.decide(cfg, _inputs(math.nan, {"concave": 0.9})).passed
