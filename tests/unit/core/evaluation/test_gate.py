"""The promotion gate: each rule passes or fails with its numbers; bad rules are ConfigErrors."""

from __future__ import annotations

import pytest

from loopml.config import BeatChampionConfig, GateConfig
from loopml.core.evaluation import gate, metrics
from loopml.core.evaluation.behavioral import BehavioralResult
from loopml.core.evaluation.significance import Comparison
from loopml.errors import ConfigError

F1 = metrics.METRICS["f1_macro"]


def inputs(**changes: object) -> gate.GateInputs:
    base: dict[str, object] = {
        "task": "classification",
        "metric": F1,
        "test_metrics": {"f1_macro": 0.8, "log_loss": 0.4, "accuracy": 0.85},
        "overfit": gate.overfit(F1, train=0.95, validation=0.82, test=0.8),
    }
    return gate.GateInputs(**{**base, **changes})  # type: ignore[arg-type]


def comparison(delta: float, p_value: float) -> Comparison:
    return Comparison("f1_macro", "bootstrap", 0.8, 0.8 - delta, delta, p_value, rows=200)


def rule(decision: gate.GateDecision, name: str) -> gate.RuleResult:
    return next(r for r in decision.rules if r.rule == name)


def test_overfit_gap_is_the_largest_train_minus_held_out_difference() -> None:
    assert gate.overfit(F1, 0.95, 0.82, 0.8).gap == pytest.approx(0.15)
    lower_better = gate.overfit(metrics.METRICS["log_loss"], 0.2, 0.35, 0.3)
    assert lower_better.gap == pytest.approx(0.15)


def test_min_and_max_rules_report_the_numbers() -> None:
    cfg = GateConfig(min={"f1_macro": 0.75, "accuracy": 0.9}, max={"log_loss": 0.5})

    decision = gate.decide(cfg, inputs())

    assert rule(decision, "min.f1_macro").passed
    assert rule(decision, "max.log_loss").detail == "test log_loss 0.4000 <= 0.5"
    failed = rule(decision, "min.accuracy")
    assert not failed.passed and failed.detail == "test accuracy 0.8500 < 0.9"
    assert not decision.passed
    assert decision.reasons() == "min.accuracy: test accuracy 0.8500 < 0.9"


def test_overfit_rule() -> None:
    decision = gate.decide(GateConfig(max_overfit_gap=0.1, beat_champion=None), inputs())

    assert not decision.passed
    assert "gap 0.1500 > 0.1" in rule(decision, "max_overfit_gap").detail


def test_beat_champion_needs_a_significant_improvement() -> None:
    cfg = GateConfig(beat_champion=BeatChampionConfig(significance=0.05))
    champion = {"champion": "1"}

    better = gate.decide(cfg, inputs(**champion, comparison=comparison(0.05, 0.01)))
    lucky = gate.decide(cfg, inputs(**champion, comparison=comparison(0.01, 0.3)))
    worse = gate.decide(cfg, inputs(**champion, comparison=comparison(-0.05, 0.99)))

    assert better.passed
    assert not lucky.passed and "p=0.3 >= 0.05" in rule(lucky, "beat_champion").detail
    assert not worse.passed and "(-0.0500)" in rule(worse, "beat_champion").detail


def test_beat_champion_passes_without_a_champion_or_for_the_champion_itself() -> None:
    cfg = GateConfig()

    assert gate.decide(cfg, inputs()).passed
    assert gate.decide(cfg, inputs(champion="2", is_champion=True)).passed


def test_a_champion_that_cannot_be_compared_fails_the_rule() -> None:
    decision = gate.decide(
        GateConfig(), inputs(champion="1", comparison_problem="champion v1 cannot score")
    )

    assert rule(decision, "beat_champion").detail == "champion v1 cannot score"


def test_behavioral_must_pass_lists_the_failed_tests() -> None:
    failing = BehavioralResult("invariance of name", "invariance", False, 0.8, 1.0, 100, "")
    passing = BehavioralResult("examples", "examples", True, 1.0, 1.0, 2, "")

    strict = gate.decide(GateConfig(), inputs(behavioral=[failing, passing]))
    lenient = gate.decide(GateConfig(behavioral="report"), inputs(behavioral=[failing]))

    assert rule(strict, "behavioral").detail == "1 of 2 failed: invariance of name (0.80 < 1.00)"
    assert lenient.passed and all(r.rule != "behavioral" for r in lenient.rules)


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (
            GateConfig(min={"f1_macr": 0.7}),
            "gate.min.f1_macr: unknown metric 'f1_macr'; did you mean 'f1_macro'?",
        ),
        (GateConfig(min={"r2": 0.7}), "gate.min.r2: 'r2' is not a classification metric"),
        (
            GateConfig(min={"log_loss": 0.7}),
            "gate.min.log_loss: log_loss is better when lower; put it under gate.max",
        ),
        (
            GateConfig(max={"accuracy": 0.7}),
            "gate.max.accuracy: accuracy is better when higher; put it under gate.min",
        ),
        (
            GateConfig(beat_champion=BeatChampionConfig(metric="acc")),
            "gate.beat_champion.metric: unknown metric 'acc'",
        ),
    ],
)
def test_nonsense_gate_rules_are_one_line_config_errors(cfg: GateConfig, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        gate.check_config(cfg, "classification", F1)

    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
