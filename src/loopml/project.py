"""The Python API: a project's loop as methods, for a notebook or a script.

>>> import loopml
>>> project = loopml.Project.from_yaml("loopml.yaml")
>>> result = project.run()            # train, evaluate, gate, promote: as `loopml run`
>>> result.leaderboard                # a DataFrame (shown as a table in Jupyter)
>>> project.predict(frame)            # the champion's predictions for a DataFrame

Every method calls the workflow its CLI command calls, with the same effects (MLflow runs,
registry aliases, reports); errors are ``loopml.errors.LoopmlError`` subclasses, one line
each. Progress goes to stderr (under the cell in Jupyter) unless ``progress=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from loopml.config import CONFIG_FILE, ProjectConfig
from loopml.workflows.events import Reporter, RichReporter, Shown, SilentReporter

if TYPE_CHECKING:
    from loopml.core.explain import Explanations
    from loopml.workflows.evaluate import EvaluateResult
    from loopml.workflows.monitor import MonitorResult
    from loopml.workflows.promote import PromotionResult
    from loopml.workflows.run import RunResult
    from loopml.workflows.train import TrainResult


@dataclass(frozen=True, repr=False)
class Outcome(Shown):
    """What ``Project.run`` or ``Project.train`` did, for people: ``leaderboard`` (one row
    per candidate), ``summary`` (one line) and the workflow's full ``result``."""

    summary: str
    leaderboard: pd.DataFrame
    result: Any

    def _shown(self) -> tuple[str, pd.DataFrame]:
        return self.summary, self.leaderboard


class Project:
    """A loopml project: its typed ``loopml.yaml`` (``config``) and the loop's steps."""

    def __init__(self, config: ProjectConfig, *, progress: bool = True):
        self.config = config
        self.progress = progress

    @classmethod
    def from_yaml(
        cls, path: str | Path = CONFIG_FILE, overrides: Sequence[str] = (), *, progress: bool = True
    ) -> Project:
        """Read ``path`` (relative paths in it are relative to its folder) with ``overrides``
        as ``--set`` takes them (``"split.seed=7"``), and check the project's local tracking
        store (moved with its folder, as the CLI does). Raises ``ConfigError`` naming the key."""
        from loopml.tracking.local_store import load_project

        return cls(load_project(Path(path), overrides), progress=progress)

    def run(self, *, force: bool = False, resume: bool = False) -> Outcome:
        """Train, evaluate the registered version, check the gate, promote if it passes."""
        from loopml.workflows.run import run

        found: RunResult = self._with(run, force=force, resume=resume)
        summary = _training_line(found.training)
        if found.promotion is not None:
            decision = found.promotion.decision
            state = "promoted to champion" if found.promoted else "stays challenger"
            summary += f"; gate {'passed' if decision.passed else 'failed'}: {state}"
        elif found.gate_problem:
            summary += f"; {found.gate_problem}"
        return Outcome(summary, leaderboard(found.training), found)

    def train(self, *, force: bool = False, resume: bool = False) -> Outcome:
        """Train and register the winner as challenger (no gate): ``loopml train``."""
        from loopml.workflows.train import train

        found: TrainResult = self._with(train, force=force, resume=resume)
        return Outcome(_training_line(found), leaderboard(found), found)

    def evaluate(self, model: str | None = None) -> EvaluateResult:
        """The full evaluation of ``model`` (default: the challenger) and its HTML report."""
        from loopml.workflows.evaluate import evaluate

        return self._with(evaluate, model)

    def promote(self, model: str | None = None) -> PromotionResult:
        """Check the gate for ``model`` (default: the challenger); promote it if it passes."""
        from loopml.workflows.promote import promote

        return self._with(promote, model)

    def predict(self, frame: pd.DataFrame, model: str | None = None) -> pd.DataFrame:
        """Predictions (and ``proba_<class>`` columns) for each row of ``frame``, written as
        the data file is (values are read by the model's data contract), by ``model``
        (default: ``serve.alias``). Raises ``DataContractError`` naming row, column, value."""
        return self._model(model).score_frame(frame)

    def explain(self, frame: pd.DataFrame, model: str | None = None) -> Explanations:
        """Attributions of each row of ``frame`` to the input columns (``core.explain``)."""
        return self._model(model).explain(frame)

    def monitor(self, current: str | Path | None = None) -> MonitorResult:
        """Drift and decay of the served model against its reference, on ``current`` (a
        file) or the prediction log; writes the reports: ``loopml monitor``."""
        from loopml.workflows.monitor import monitor

        path = None if current is None else Path(current)
        return self._with(monitor, current=path, notify=False)

    def _model(self, model: str | None) -> Any:
        from loopml.tracking.models import load
        from loopml.workflows.predict import model_uri

        return load(model_uri(self.config, model), tracking_uri=self.config.tracking.uri)

    def _with(self, work: Any, *args: Any, **kwargs: Any) -> Any:
        reporter: Reporter = RichReporter() if self.progress else SilentReporter()
        try:
            return work(self.config, *args, reporter=reporter, **kwargs)
        finally:
            if isinstance(reporter, RichReporter):
                reporter.close()


def leaderboard(result: TrainResult) -> pd.DataFrame:
    """One row per candidate: cross-validation mean and SD, validation and train scores (the
    project's metric), trials, fit seconds, milliseconds per predicted row, parameters."""
    rows = [
        {
            "candidate": fitted.name,
            "cv_mean": fitted.cv_mean,
            "cv_std": fitted.cv_std,
            "validation": fitted.validation_score,
            "train": fitted.train_score,
            "trials": fitted.trials,
            "fit_seconds": fitted.fit_seconds,
            "latency_ms": fitted.latency_ms,
            "winner": fitted.name == result.winner,
            "params": fitted.shown_params,
            "error": fitted.error or "",
        }
        for fitted in result.leaderboard
    ]
    columns = [
        *("candidate", "cv_mean", "cv_std", "validation", "train", "trials", "fit_seconds"),
        *("latency_ms", "winner", "params", "error"),
    ]
    return pd.DataFrame(rows, columns=columns)


def _training_line(result: TrainResult) -> str:
    if result.skipped:
        return f"skipped: data and config unchanged since run {result.run_id}"
    version = f" v{result.registered.version}" if result.registered else ""
    score = ""
    if result.test is not None:
        score = f", test {result.metric} {result.test.selection:.4f}"
    return f"{result.winner}{version} won on {result.metric}{score} (run {result.run_id})"


__all__ = ["Outcome", "Project", "leaderboard"]
