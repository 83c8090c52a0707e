"""`loopml test`: run the behavioral tests of loopml.yaml against a model and log the results."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from loopml.config import ProjectConfig
from loopml.core.evaluation import behavioral
from loopml.core.evaluation.assess import behave
from loopml.errors import BehavioralTestError, ConfigError
from loopml.tracking import evaluations as results
from loopml.tracking.store import Tracker
from loopml.workflows.evaluate import load
from loopml.workflows.events import Reporter, SilentReporter

NO_TESTS = (
    "behavioral: no tests in loopml.yaml; declare some, e.g. "
    "behavioral: [{kind: invariance, column: name, values: [Ana, Wei]}]"
)


@dataclass(frozen=True)
class BehavioralOutcome:
    label: str
    run_id: str
    results: list[behavioral.BehavioralResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def failure(self) -> BehavioralTestError | None:
        """The failed tests as an error, None when every test passed.

        Returns
        -------
        BehavioralTestError or None
            One message line per failed test: its name, its agreement against the required
            agreement (fractions of rows, 0 to 1) and the detail.
        """
        failed = [r for r in self.results if not r.passed]
        if not failed:
            return None
        return BehavioralTestError(
            "\n".join(
                f"behavioral test failed: {r.name}: agreement {r.agreement:.3f} < "
                f"{r.required:.3f} ({r.detail})"
                for r in failed
            )
        )


def run_tests(
    cfg: ProjectConfig, ref: str | None = None, *, reporter: Reporter | None = None
) -> BehavioralOutcome:
    """Run every declared test on the model's test split; log the results to its run."""
    reporter = reporter or SilentReporter()
    if not cfg.behavioral:
        raise ConfigError(NO_TESTS)
    tracker = Tracker.from_config(cfg)
    loaded = load(cfg, tracker, ref, reporter)
    reporter.stage(f"Running {len(cfg.behavioral)} behavioral tests on {loaded.label}")
    found = []
    for done, test in enumerate(cfg.behavioral, start=1):
        found.append(behave(loaded.model, test, loaded.data.splits.test, cfg.split.seed))
        reporter.progress("behavioral tests", done, len(cfg.behavioral))
    passed = all(r.passed for r in found)
    with tempfile.TemporaryDirectory() as folder:
        document = Path(folder) / "results.json"
        document.write_text(
            json.dumps([r.as_dict() for r in found], indent=2, default=str), encoding="utf-8"
        )
        results.log_results(
            tracker,
            loaded.ref.run_id,
            "behavioral",
            [document],
            {
                "behavioral_passed": sum(r.passed for r in found),
                "behavioral_failed": sum(not r.passed for r in found),
            },
            {"loopml.behavioral": "passed" if passed else "failed"},
        )
    return BehavioralOutcome(loaded.label, loaded.ref.run_id, found)
