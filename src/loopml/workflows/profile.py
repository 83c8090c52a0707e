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

from loopml.config import ProjectConfig
from loopml.core.data import ingest
from loopml.core.data import profile as data_profile
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
    cfg: ProjectConfig, *, reporter: Reporter | None = None, output: Path | None = None
) -> ProfileResult:
    reporter = reporter or SilentReporter()
    if cfg.compute.backend == "ray":
        data, whole = _on_ray(cfg, reporter)
    else:
        data, whole = prepare(cfg, reporter, leak_stops=False), None
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
            {} if found.sampled else {FINGERPRINT_TAG: fingerprint},
            found.summary(),
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target)
    return ProfileResult(target, run_id, found.highlights())


def _on_ray(cfg: ProjectConfig, reporter: Reporter) -> tuple[Prepared, data_profile.WholeData]:
    """A sample prepared as locally, and the column statistics of every row, from Ray Data."""
    from loopml.compute import ray_profile
    from loopml.compute.ray_data import ray_session, worker_errors

    source = cfg.data.source
    ray_profile.refuse_sql(cfg.data, "compute.backend ray profiles", "set compute.backend: local")
    with ray_session(cfg.compute), worker_errors(source, "profiling"):
        reporter.stage(f"Reading {source} on Ray")
        dataset, found = ray_profile.read(source, cfg.data.csv)
        frame, rows = ray_profile.sample(dataset, source, cfg.profile.sample_rows, cfg.split.seed)
        if rows > len(frame):
            reporter.stage(f"Sampled {len(frame):,} of {rows:,} rows for the row-level sections")
        table = ingest.Table(frame, source, found)  # CSV cells as text, as locally
        data = prepare(cfg, reporter, leak_stops=False, table=table)
        reporter.stage(f"Column statistics of all {rows:,} rows on Ray")
        whole = ray_profile.whole_data(
            dataset, data.contract, data.roles, data.target, data.task == "classification"
        )
    return data, whole
