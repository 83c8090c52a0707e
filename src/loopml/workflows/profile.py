"""`loopml profile`: an EDA report of the project's data, as HTML and logged to MLflow.

It reads and splits the data as `loopml run` would, but reports problems (a leaking column,
duplicates) in the report instead of stopping, so it can be run before fixing them. With
``compute.backend: ray`` the file is read by Ray's workers: the column statistics cover every
row, and the rest of the report a random sample of ``profile.sample_rows`` rows.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from loopml import compute
from loopml.config import ProjectConfig
from loopml.core.data import profile as data_profile
from loopml.errors import first_line
from loopml.reports import profile as profile_report
from loopml.tracking import evaluations as results
from loopml.tracking.store import FINGERPRINT_TAG, Tracker
from loopml.workflows.events import Reporter, SilentReporter
from loopml.workflows.prepare import Prepared, prepare


@dataclass(frozen=True)
class ProfileResult:
    report: Path
    run_id: str
    highlights: dict[str, Any]


def profile(
    cfg: ProjectConfig,
    *,
    reporter: Reporter | None = None,
    output: Path | None = None,
    tracker: Tracker | None = None,
) -> ProfileResult:
    reporter = reporter or SilentReporter()
    data, whole = compute.make(cfg.compute).profile_data(
        cfg.data,
        sample_rows=cfg.profile.sample_rows,
        seed=cfg.split.seed,
        prepare=lambda table: prepare(cfg, reporter, leak_stops=False, table=table),
        stage=reporter.stage,
    )
    frame, splits, fingerprint = data.frame, data.splits, data.fingerprint
    reporter.stage(f"Profiling {len(frame):,} rows x {frame.shape[1]} columns")
    found = data_profile.build(
        frame, cfg.data.target, data.task, data.roles, splits, list(data.warnings)
    )
    if whole is not None:
        found = data_profile.with_whole_data(found, whole)
    header = {
        "project": cfg.name,
        "source": cfg.data.source,
        "fingerprint": f"{fingerprint} of the sample" if found.sampled else fingerprint,
        "split": splits.sizes(),
        "split_how": splits.how,
        "computed_on": "Ray Data" if whole is not None else "local",
    }
    issues, issues_note = _label_issues(cfg, data, whole is not None, reporter)
    reporter.stage("Writing the profile report")
    html = profile_report.render(found, header, cfg.split.seed, issues, issues_note)
    target = output or cfg.root / cfg.evaluation.reports / f"profile-{cfg.name}.html"
    tracker = tracker or Tracker.from_config(cfg)
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "profile.html"
        page.write_text(html, encoding="utf-8")
        run_id = results.log_report_run(
            tracker,
            f"{cfg.name}-profile",
            "profile",
            page,
            {} if found.sampled else {FINGERPRINT_TAG: fingerprint},
            found.summary(),
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target)
    return ProfileResult(target, run_id, found.highlights())


PROFILE_ISSUE_ROWS = 100_000  # out-of-fold LightGBM over more rows: leave it to data issues


def _label_issues(
    cfg: ProjectConfig, data: Prepared, sampled: bool, reporter: Reporter
) -> tuple[pd.DataFrame | None, str]:
    """Rows whose label is likely wrong, before any model is trained: out-of-fold
    predictions of a default LightGBM on loopml's preprocessing (``workflows.issues``);
    (None, why not) when it is not done here."""
    from sklearn.base import clone

    from loopml.core.models import build_pipeline, make_estimator
    from loopml.workflows.issues import rank_rows

    later = "run `loopml data issues` once a model is registered"
    if sampled:
        return None, f"Not searched: the profile of Ray-read data holds a sample; {later}."
    if len(data.frame) > PROFILE_ISSUE_ROWS:
        return None, f"Not searched: {len(data.frame):,} rows > {PROFILE_ISSUE_ROWS:,}; {later}."
    reporter.stage("Looking for likely label errors (out-of-fold LightGBM)")
    try:
        estimator = make_estimator("lightgbm", {"n_estimators": 100}, data.task, cfg.split.seed)
        unfitted = build_pipeline(data.roles, estimator)
        X = data.frame[list(data.roles.features)]
        fitted = clone(unfitted).fit(X, data.frame[data.target])
        table, folds = rank_rows(unfitted, fitted, X, data, cfg, reporter)
    except Exception as exc:  # an extra of the profile: it must not lose the report
        return None, f"Not searched: {first_line(exc)}; {later}."
    return table, (
        f"{len(table):,} of {len(data.frame):,} rows carry a label a default LightGBM doubts "
        f"({folds}-fold out-of-fold predictions; cleanlab's confident learning, or residuals "
        "of 3 robust SDs; duplicates and near duplicates of another label; outliers last); "
        "the first 20 shown. `loopml data issues -o FILE` ranks them with your registered "
        "model and writes them all."
    )
