"""`loopml profile`: an EDA report of the project's data, as HTML and logged to MLflow.

It reads and splits the data as `loopml run` would, but reports problems (a leaking column,
duplicates) in the report instead of stopping, so it can be run before fixing them.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.config import ProjectConfig
from loopml.core.data import profile as data_profile
from loopml.reports import profile as profile_report
from loopml.tracking import evaluations as results
from loopml.tracking.store import FINGERPRINT_TAG, Tracker
from loopml.workflows.events import Reporter, SilentReporter
from loopml.workflows.prepare import prepare


@dataclass(frozen=True)
class ProfileResult:
    report: Path
    run_id: str
    highlights: dict[str, Any]


def profile(
    cfg: ProjectConfig, *, reporter: Reporter | None = None, output: Path | None = None
) -> ProfileResult:
    reporter = reporter or SilentReporter()
    data = prepare(cfg, reporter, leak_stops=False)
    frame, splits, fingerprint = data.frame, data.splits, data.fingerprint
    reporter.stage(f"Profiling {len(frame):,} rows x {frame.shape[1]} columns")
    found = data_profile.build(
        frame, cfg.data.target, data.task, data.roles, splits, list(data.warnings)
    )
    header = {
        "project": cfg.name,
        "source": cfg.data.source,
        "fingerprint": fingerprint,
        "split": splits.sizes(),
        "split_how": splits.how,
    }
    reporter.stage("Writing the profile report")
    html = profile_report.render(found, header, cfg.split.seed)
    target = output or cfg.root / cfg.evaluation.reports / f"profile-{cfg.name}.html"
    tracker = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name)
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "profile.html"
        page.write_text(html, encoding="utf-8")
        run_id = results.log_report_run(
            tracker,
            f"{cfg.name}-profile",
            "profile",
            page,
            {FINGERPRINT_TAG: fingerprint},
            found.summary(),
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target)
    return ProfileResult(target, run_id, found.highlights())
