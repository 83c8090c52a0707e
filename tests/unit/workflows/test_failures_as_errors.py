"""A blocked gate and failed behavioural tests are loopml errors: the CLI's one handler
prints them as red lines (then their notes) and exits with their exit code, 1."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from loopml.cli.errors import handles_errors
from loopml.core.evaluation.behavioral import BehavioralResult
from loopml.core.evaluation.gate import GateDecision, RuleResult
from loopml.errors import EXIT_CODES, BehavioralTestError, GateFailedError, LoopmlError
from loopml.workflows.behavioral import BehavioralOutcome
from loopml.workflows.promote import PromotionResult


def promotion(*rules: RuleResult) -> PromotionResult:
    decision = GateDecision(all(r.passed for r in rules), list(rules))
    evaluation: Any = None  # not read by blocked()
    return PromotionResult("wine v3", "3", decision, False, "2", evaluation)


def test_a_blocked_gate_names_every_failed_rule_and_says_nothing_moved() -> None:
    blocked = promotion(
        RuleResult("min.accuracy", False, "test accuracy 0.91 < 1.01"),
        RuleResult("behavioral", True, "3 of 3 pass"),
        RuleResult("max.log_loss", False, "test log_loss 0.2 > 0.0001"),
    ).blocked()

    assert isinstance(blocked, GateFailedError) and blocked.exit_code == 1
    assert str(blocked).splitlines() == [
        "gate rule min.accuracy failed: test accuracy 0.91 < 1.01",
        "gate rule max.log_loss failed: test log_loss 0.2 > 0.0001",
    ]
    assert blocked.__notes__ == ["wine v3 was not promoted; the decision is tagged on it"]
    assert promotion(RuleResult("min.accuracy", True, "0.91 >= 0.9")).blocked() is None


def test_failed_behavioural_tests_are_one_line_each() -> None:
    def result(name: str, passed: bool, agreement: float) -> BehavioralResult:
        return BehavioralResult(name, "invariance", passed, agreement, 0.95, 100, "of 100 rows")

    outcome = BehavioralOutcome(
        "wine v1", "run1", [result("a", True, 1.0), result("b", False, 0.5)]
    )
    failure = outcome.failure()

    assert isinstance(failure, BehavioralTestError) and failure.exit_code == 1
    assert str(failure) == "behavioral test failed: b: agreement 0.500 < 0.950 (of 100 rows)"
    assert BehavioralOutcome("wine v1", "run1", [result("a", True, 1.0)]).failure() is None


@pytest.mark.parametrize("error", [GateFailedError, BehavioralTestError, LoopmlError])
def test_the_handler_prints_red_lines_then_notes_and_exits_with_the_code(
    error: type[LoopmlError],
) -> None:
    app = typer.Typer()

    @app.command()
    @handles_errors
    def fails() -> None:
        problem = error("first [problem]\nsecond problem")
        problem.add_note("what happened instead")
        raise problem

    result = CliRunner().invoke(app, [])

    assert result.exit_code == error.exit_code == EXIT_CODES["error"]
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: first [problem]",
        "error: second problem",
        "what happened instead",
    ]


def test_ctrl_c_is_one_line_and_exit_130() -> None:
    app = typer.Typer()

    @app.command()
    @handles_errors
    def interrupted() -> None:
        raise KeyboardInterrupt

    result = CliRunner().invoke(app, [])

    assert result.exit_code == EXIT_CODES["interrupted"] == 130
    assert result.stderr.splitlines() == ["interrupted"]
