"""`loopml promote`: move the `champion` alias to a model only if every gate rule passes.

The decision and its reasons are tagged on the model version either way. ``loopml run``
calls ``promote_after_training`` on the version it just registered: full evaluation with
its report, then the same gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from loopml.config import ProjectConfig
from loopml.core.evaluation import gate
from loopml.core.evaluation.assess import Evaluation
from loopml.errors import GateFailedError, ModelNotFoundError
from loopml.tracking import registry
from loopml.tracking.store import CHAMPION, Tracker
from loopml.workflows.evaluate import Loaded, load, measure, write_report
from loopml.workflows.events import Reporter, Shown, SilentReporter

DECISION_TAG = "loopml.gate.decision"
REASONS_TAG = "loopml.gate.reasons"


@dataclass(frozen=True, repr=False)
class PromotionResult(Shown):
    label: str
    version: str
    decision: gate.GateDecision
    promoted: bool  # the champion alias moved to this version now
    champion_before: str | None
    evaluation: Evaluation
    report: Path | None = None

    @property
    def summary(self) -> str:
        """Whether ``version`` is champion now, and why."""
        if self.promoted:
            return f"{self.label} promoted to champion (was {self.champion_before or 'none'})"
        if self.is_champion:
            return f"{self.label} is already champion"
        return f"{self.label} not promoted: {self.decision.reasons()}"

    def _shown(self) -> tuple[str, pd.DataFrame]:
        return self.summary, self.table

    @property
    def table(self) -> pd.DataFrame:
        """One row per gate rule: rule, passed, detail."""
        return pd.DataFrame(
            [(r.rule, r.passed, r.detail) for r in self.decision.rules],
            columns=["rule", "passed", "detail"],
        )

    @property
    def is_champion(self) -> bool:
        return self.promoted or self.champion_before == self.version

    def blocked(self) -> GateFailedError | None:
        """The gate's refusal as an error, None when every rule passed.

        Returns
        -------
        GateFailedError or None
            One message line per failed rule (``gate rule NAME failed: DETAIL``) and a note
            (``add_note``) saying the version was not promoted and the decision is tagged.
        """
        if self.decision.passed:
            return None
        problem = GateFailedError(
            "\n".join(
                f"gate rule {rule.rule} failed: {rule.detail}" for rule in self.decision.failed
            )
        )
        problem.add_note(f"{self.label} was not promoted; the decision is tagged on it")
        return problem


def promote(
    cfg: ProjectConfig, ref: str | None = None, *, reporter: Reporter | None = None
) -> PromotionResult:
    """Check the gate for ``ref`` (the challenger by default); promote it if it passes."""
    reporter = reporter or SilentReporter()
    tracker = Tracker.from_config(cfg)
    loaded = load(cfg, tracker, ref, reporter)
    found = measure(cfg, tracker, loaded, reporter, full=False)
    return _decide(cfg, tracker, loaded, found, None, reporter)


def promote_after_training(
    cfg: ProjectConfig, run_id: str, *, reporter: Reporter | None = None
) -> PromotionResult:
    """Evaluate the version a run registered, write its report, and promote it if it passes."""
    reporter = reporter or SilentReporter()
    tracker = Tracker.from_config(cfg)
    loaded = load(cfg, tracker, run_id, reporter)
    found = measure(cfg, tracker, loaded, reporter, full=True)
    decision = gate.decide(cfg.gate, found.gate_inputs())
    report = write_report(cfg, tracker, loaded, found, decision, None, reporter)
    return _decide(cfg, tracker, loaded, found, report, reporter)


def _decide(
    cfg: ProjectConfig,
    tracker: Tracker,
    loaded: Loaded,
    found: Evaluation,
    report: Path | None,
    reporter: Reporter,
) -> PromotionResult:
    version = loaded.ref.version
    if version is None:
        raise ModelNotFoundError(
            f"run {loaded.ref.run_id} has no registered model version; nothing to promote"
        )
    reporter.stage(f"Checking the gate for {loaded.label}")
    decision = gate.decide(cfg.gate, found.gate_inputs())
    before = tracker.alias_version(CHAMPION)
    registry.tag_version(tracker, version, _decision_tags(decision, before))
    promoted = decision.passed and before != version
    if promoted:
        registry.set_alias(tracker, CHAMPION, version)
    return PromotionResult(loaded.label, version, decision, promoted, before, found, report)


def _decision_tags(decision: gate.GateDecision, champion: str | None) -> dict[str, str]:
    return {
        DECISION_TAG: "passed" if decision.passed else "failed",
        REASONS_TAG: decision.reasons(),
        "loopml.gate.rules": json.dumps([r.as_dict() for r in decision.rules]),
        "loopml.gate.champion_before": champion or "",
        "loopml.gate.checked_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
