"""The whole loop, `loopml run`: train, then evaluate the version registered, check the
gate and promote it when every rule passes. The CLI and ``loopml.Project.run`` call this."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from loopml.config import ProjectConfig
from loopml.errors import LoopmlError
from loopml.workflows.events import Reporter, SilentReporter
from loopml.workflows.promote import PromotionResult, promote_after_training
from loopml.workflows.train import TrainResult, time_limit_clock, train


@dataclass
class RunResult:
    """What one run did. ``promotion`` is None when training was skipped (data and config
    unchanged) or the evaluation failed (``gate_problem`` says why, in one line)."""

    training: TrainResult
    promotion: PromotionResult | None = None
    gate_problem: str = ""

    @property
    def promoted(self) -> bool:
        return self.promotion is not None and self.promotion.promoted


def run(
    cfg: ProjectConfig,
    *,
    reporter: Reporter | None = None,
    force: bool = False,
    resume: bool = False,
    started: float | None = None,
) -> RunResult:
    """Train as ``workflows.train.train`` does; unless skipped, evaluate the registered
    version, write its report and promote it if the gate passes. A failing evaluation is
    reported (``gate_problem``), not raised: the trained version stays registered as
    challenger, and ``loopml promote`` checks again.

    ``tuning.budget.time_limit`` times all of it, from ``started`` (``time.monotonic()``
    when the command started; None: now) to the gate's verdict."""
    reporter = reporter or SilentReporter()
    clock = time_limit_clock(cfg, evaluates=True, started=started)
    training = train(cfg, reporter=reporter, force=force, resume=resume, clock=clock)
    if training.skipped:
        return RunResult(training)
    try:
        promotion = promote_after_training(cfg, training.run_id, reporter=reporter)
    except LoopmlError as exc:
        problem = f"evaluation failed, so the gate was not checked: {exc}"
        reporter.warn(problem)
        return RunResult(training, None, problem)
    if promotion.promoted and training.registered is not None:
        aliases = (*training.registered.aliases, "champion")
        training.registered = dataclasses.replace(training.registered, aliases=aliases)
    return RunResult(training, promotion)
