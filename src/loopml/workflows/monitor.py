"""`loopml monitor`: recent rows against the served model's reference profile.

Rows come from the prediction log (the window in ``monitoring.window``) or from a file
(``--current FILE``), and their values are read by the model's data contract, as the model
read them: a logged ``"15.250,00"`` and ``15250.0`` are the same value to drift statistics.
The result is drift per feature (and of how often it is missing) and of the predictions,
attribution drift (the model's reliance on each column, explained on as many current rows
as training explained held-out rows: ``core.reference.explain_sample``), decay on
rows whose labels arrived, an HTML and a JSON report, a monitoring run in MLflow,
and, on an alert, a POST to ``monitoring.alerts.webhook``.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import sqlalchemy as sa

from loopml.config import ProjectConfig, format_duration
from loopml.core import decay as decay_stats
from loopml.core import drift as drift_stats
from loopml.core.data.contract import CONTRACT_FILE, DataContract
from loopml.core.data.ingest import file_kind, read_csv_text, read_table
from loopml.core.evaluation import metrics
from loopml.core.reference import ReferenceProfile, attribution_profile
from loopml.errors import EXIT_CODES as CLI_EXIT_CODES
from loopml.errors import ConfigError, DataContractError, DataError, first_line
from loopml.reports import monitor as monitor_report
from loopml.tracking import monitoring as runs
from loopml.tracking import registry
from loopml.tracking.evaluations import run_document
from loopml.tracking.models import load
from loopml.tracking.prediction_log import PredictionLog, resolve_url
from loopml.tracking.store import Tracker
from loopml.workflows.events import Reporter, Shown, SilentReporter
from loopml.workflows.predict import FILE_FIX, model_uri, scoring_dialect

HEALTHY, ALERT = "healthy", "alert"
EXIT_CODES = {HEALTHY: CLI_EXIT_CODES["ok"], ALERT: CLI_EXIT_CODES["alert"]}  # one table


@dataclass
class Assessment:
    """Drift and decay of one model version on one set of current rows."""

    ref: runs.ModelRef
    profile: ReferenceProfile
    source: str
    drift: drift_stats.DriftReport
    decay: decay_stats.DecayReport | None
    created: str = field(
        default_factory=lambda: pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    )

    @property
    def status(self) -> str:
        return (
            ALERT if self.drift.alert or (self.decay is not None and self.decay.alert) else HEALTHY
        )

    @property
    def verdict(self) -> str:
        """``status`` for people: ``"not judged"`` instead of ``"healthy"`` when too few rows
        were there to judge drift or decay (the status and the exit code stay healthy)."""
        judged = self.drift.judged or (self.decay is not None and self.decay.judged)
        return "not judged" if self.status == HEALTHY and not judged else self.status

    def line(self) -> str:
        """The model, the drift summary and the decay summary, in one line."""
        decay = f"; {self.decay.summary()}" if self.decay else ""
        return f"{self.ref.describe()}: {self.drift.summary()}{decay}"

    @property
    def reasons(self) -> list[str]:
        """What triggered the alert: 'drift', 'decay' or both."""
        found = ["drift"] if self.drift.alert else []
        return found + (["decay"] if self.decay is not None and self.decay.alert else [])

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": self.reasons,
            "created": self.created,
            "model": {
                "name": self.ref.name,
                "version": self.ref.version,
                "run_id": self.ref.run_id,
            },
            "source": self.source,
            "drift": self.drift.as_dict(),
            "decay": self.decay.as_dict() if self.decay else None,
        }


@dataclass(repr=False)
class MonitorResult(Shown):
    assessment: Assessment
    html: Path
    json: Path
    run_id: str | None
    webhook: str = ""  # "sent to URL", "failed: …" or "" when nothing was sent

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.assessment.status]

    @property
    def summary(self) -> str:
        """The verdict and ``Assessment.line``, as ``loopml monitor`` says them."""
        return f"{self.assessment.verdict} {self.assessment.line()}"

    def _shown(self) -> tuple[str, pd.DataFrame]:
        return self.summary, self.table

    @property
    def table(self) -> pd.DataFrame:
        """One row per tested feature (and the predictions): test, statistic, corrected p,
        each registered distance, rows and whether it drifted."""
        drift = self.assessment.drift
        found = list(drift.features) + ([drift.prediction] if drift.prediction else [])
        return pd.DataFrame(
            [
                {
                    "feature": f.name,
                    "test": f.test,
                    "statistic": f.statistic,
                    "p_adjusted": f.p_adjusted,
                    **f.distances,
                    "rows": f.rows,
                    "drifted": f.drifted,
                }
                for f in found
            ]
        )


def log_url(cfg: ProjectConfig) -> str:
    """The server's prediction log, ``serve.prediction_log.url``: any SQLAlchemy URL, a
    relative SQLite path taken from the project folder."""
    url = cfg.serve.prediction_log.url
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(
            f"serve.prediction_log.url: '{url}' is not a database URL; "
            "set it to sqlite:///PATH or postgresql://USER:PASSWORD@HOST:5432/DB"
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ConfigError(
            f"serve.prediction_log.url: '{url}': an in-memory log is lost with the server and "
            "monitoring cannot read it; set it to sqlite:///PATH or a PostgreSQL URL"
        )
    return resolve_url(url, cfg.root)


def assess(
    cfg: ProjectConfig,
    *,
    current: Path | None = None,
    model: str | None = None,
    tracker: Tracker | None = None,
    reporter: Reporter | None = None,
    attributions: bool = True,
) -> Assessment:
    """Drift and decay, with no side effect: what `loopml monitor` and /dashboard show.

    ``attributions=False`` leaves attribution drift out (the dashboard, which assesses
    every few seconds, would re-explain hundreds of rows in the serving process)."""
    reporter = reporter or SilentReporter()
    tracker = tracker or Tracker.from_config(cfg)
    ref = registry.resolve(tracker, model_uri(cfg, model))
    profile = runs.load_reference(tracker, ref)
    reporter.stage(
        f"Comparing {describe_source(cfg, current)} with the reference of {ref.describe()}"
    )
    predictions: pd.Series | None
    reader = model_contract(tracker, ref, cfg)
    if current is not None:
        rows, predictions, labelled = _from_file(current, profile, ref, cfg, reader)
        source = str(current)
    else:
        rows, predictions, labelled = _from_log(cfg, ref, profile.classes)
        source = describe_source(cfg, None)
        rows = read_logged(rows, reader, list(profile.features), source, reporter)
        if len(labelled) and profile.target in reader:
            labelled = read_logged(
                labelled.rename(columns={"label": profile.target}),
                reader,
                [profile.target],
                source,
                reporter,
            ).rename(columns={profile.target: "label"})
    drift = drift_stats.compare(profile, rows, cfg.monitoring.drift, predictions)
    if attributions:
        drift = _with_attributions(cfg, ref, profile, rows, drift, reporter)
    decay = _decay(cfg, tracker, ref, profile, labelled)
    return Assessment(ref, profile, source, drift, decay)


def monitor(
    cfg: ProjectConfig,
    *,
    current: Path | None = None,
    model: str | None = None,
    output: Path | None = None,
    notify: bool = True,
    tags: dict[str, str] | None = None,
    reporter: Reporter | None = None,
) -> MonitorResult:
    """Assess, write the HTML and JSON reports, log them to MLflow and send alerts."""
    reporter = reporter or SilentReporter()
    tracker = Tracker.from_config(cfg)
    found = assess(cfg, current=current, model=model, tracker=tracker, reporter=reporter)
    folder = output or _reports_folder(cfg)
    reporter.stage(f"Writing the report to {folder}")
    html, document = _write_reports(found, folder)
    run_id = runs.log_run(tracker, _monitoring_record(found, html, document, tags or {}))
    result = MonitorResult(found, html, document, run_id)
    if notify and found.status == ALERT and cfg.monitoring.alerts.webhook:
        result.webhook = send_alert(cfg, found, result, reporter)
    return result


def describe_source(cfg: ProjectConfig, current: Path | None) -> str:
    if current is not None:
        return str(current)
    window = cfg.monitoring.window
    span = (
        f"last {window.rows} rows"
        if window.rows
        else f"last {format_duration(window.max_age or 0)}"
    )
    return f"prediction log {PredictionLog(log_url(cfg)).where} ({span})"


def _from_log(
    cfg: ProjectConfig, ref: runs.ModelRef, classes: list[str]
) -> tuple[pd.DataFrame, pd.Series | None, pd.DataFrame]:
    log = PredictionLog(log_url(cfg))
    window = cfg.monitoring.window
    rows = log.window(
        model_name=ref.name, rows=window.rows, max_age=window.max_age, classes=classes
    )
    labelled = log.labelled(
        model_name=ref.name, rows=window.rows, max_age=window.max_age, classes=classes
    )
    if ref.version is not None:
        labelled = labelled[labelled["model_version"] == ref.version]
    mine = rows["model_version"] == ref.version if ref.version else pd.Series(True, rows.index)
    predictions = rows.loc[mine, "prediction"] if len(rows) else None
    return rows, predictions, labelled


def model_contract(tracker: Tracker, ref: runs.ModelRef, cfg: ProjectConfig) -> DataContract:
    """The data contract of ``ref``: its run's ``data/data_contract.json`` (a few kB), or,
    for a model trained before contracts, the one its loaded model reads by (by role)."""
    document = run_document(tracker, ref.run_id, f"data/{CONTRACT_FILE}")
    if document is not None:
        return DataContract.from_dict(document)
    found = load(ref.uri, tracking_uri=cfg.tracking.uri).contract
    assert found is not None
    return found


def read_logged(
    frame: pd.DataFrame,
    reader: DataContract,
    columns: list[str],
    source: str,
    reporter: Reporter,
) -> pd.DataFrame:
    """Logged values read by the model's contract, column by column.

    The server logged them after reading them by the contract, so they read; a value that
    does not (logged for another version of the model, say) counts as missing, in a warning.
    """
    for name in columns:
        if name not in frame.columns or name not in reader:
            continue
        try:
            frame = reader.apply(frame, [name])
        except DataContractError:
            rule = reader.rule(name)
            readable = frame[name].map(functools.partial(_reads, rule)).astype(bool)
            reporter.warn(
                f"{source}: {int((~readable).sum())} values of column {name!r} do not read as "
                f"the model reads them ({rule.kind}); they count as missing"
            )
            frame = reader.apply(frame.assign(**{name: frame[name].where(readable, None)}), [name])
    return frame


def _reads(rule: Any, value: Any) -> bool:
    return bool(rule.reads(value))


def _from_file(
    path: Path,
    profile: ReferenceProfile,
    ref: runs.ModelRef,
    cfg: ProjectConfig,
    reader: DataContract,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Rows of ``path`` read by the model's contract (a value it cannot read: one line
    naming the file, row, column and value)."""
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; pass --current a CSV, Parquet or JSON-lines file of recent rows"
        )
    if file_kind(str(path)) == "csv":  # as `loopml predict` reads it for this model
        raw = read_csv_text(str(path), scoring_dialect(path, reader))
    else:
        raw = read_table(str(path)).frame
    frame = reader.apply(raw, source=str(path), fix=FILE_FIX)
    missing = [c for c in profile.features if c not in frame.columns]
    if missing:
        names = ", ".join(f"'{c}'" for c in missing[:10])
        raise DataError(
            f"{path}: missing {len(missing)} feature column(s) {ref.describe()} was trained on: "
            f"{names}; add them (empty values are allowed)"
        )
    if "prediction" in frame.columns:
        predictions = frame["prediction"]
    else:
        scorer = load(ref.uri, tracking_uri=cfg.tracking.uri)
        scored = scorer.score_frame(frame)
        predictions = scored["prediction"]
        frame = pd.concat([frame, scored.drop(columns="prediction")], axis=1)
    labelled = pd.DataFrame()
    if profile.target in frame.columns:
        labelled = frame.assign(
            label=frame[profile.target],
            prediction=predictions,
            timestamp=frame["timestamp"] if "timestamp" in frame else range(len(frame)),
        )
    return frame, predictions, labelled


def _with_attributions(
    cfg: ProjectConfig,
    ref: runs.ModelRef,
    profile: ReferenceProfile,
    rows: pd.DataFrame,
    drift: drift_stats.DriftReport,
    reporter: Reporter,
) -> drift_stats.DriftReport:
    """``drift`` with attribution drift (``core.drift.compare_attributions``), or with the
    reason it is not judged in ``attribution_skipped``."""
    threshold = cfg.monitoring.drift.attribution_shift
    if threshold is None or not drift.judged:
        return drift
    reason = ""
    if profile.attributions is None:
        reason = (
            "the reference has no attribution profile: the model has no exact explainer "
            "(see Why did the model say that? in the README), its explainer failed at "
            "training, or an older loopml trained it"
        )
    else:
        reporter.stage("Explaining current rows (attribution drift)")
        try:  # an extra: drift and decay are reported whatever happens here
            model = load(ref.uri, tracking_uri=cfg.tracking.uri)
            current = attribution_profile(model.explainer(), model.conform(rows))
            found = drift_stats.compare_attributions(profile.attributions, current, threshold)
        except Exception as exc:
            reason = f"the current rows could not be explained: {first_line(exc)}"
        else:
            return replace(drift, attribution=found)
    return replace(drift, attribution_skipped=reason)


def _decay(
    cfg: ProjectConfig,
    tracker: Tracker,
    ref: runs.ModelRef,
    profile: ReferenceProfile,
    labelled: pd.DataFrame,
) -> decay_stats.DecayReport | None:
    if labelled.empty:
        return None
    metric = metrics.resolve(cfg.monitoring.decay.metric or profile.metric, profile.task)
    reference = runs.run_metric(tracker, ref.run_id, f"test_{metric.name}")
    if reference is None and metric.name == profile.metric:
        reference = profile.test_score
    return decay_stats.assess(
        labelled,
        task=profile.task,
        metric=metric,
        classes=profile.classes,
        reference=reference,
        settings=cfg.monitoring.decay,
    )


def _reports_folder(cfg: ProjectConfig) -> Path:
    folder = Path(cfg.monitoring.reports)
    return folder if folder.is_absolute() else cfg.root / folder


def _write_reports(found: Assessment, folder: Path) -> tuple[Path, Path]:
    """Write monitor.html and monitor.json whole (temporary file, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "model": found.ref.describe(),
        "uri": found.ref.uri,
        "run_id": found.ref.run_id,
        "created": found.created,
        "source": found.source,
    }
    html = monitor_report.render(found.drift, found.decay, meta, found.status)
    document = json.dumps(found.as_dict(), indent=2, default=str)
    paths = folder / "monitor.html", folder / "monitor.json"
    for path, text in zip(paths, (html, document), strict=True):
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    return paths


def _monitoring_record(
    found: Assessment, html: Path, document: Path, tags: dict[str, str]
) -> runs.Logged:
    metrics_: dict[str, float] = {
        "rows": float(found.drift.rows),
        "drifted_features": float(len(found.drift.drifted)),
        "alert": float(found.status == ALERT),
    }
    logged = [d.name for d in drift_stats.DISTANCES.values() if d.logged]
    for feature in found.drift.features:
        for name in logged:
            metrics_[f"{name}.{feature.name}"] = feature.distances[name]
    if found.drift.prediction is not None:
        for name in logged:
            metrics_[f"{name}.prediction"] = found.drift.prediction.distances[name]
    if found.drift.attribution is not None:
        metrics_["attribution_shifted_columns"] = float(len(found.drift.attribution.shifted))
        for shift in found.drift.attribution.columns:
            metrics_[f"attribution_share.{shift.column}"] = shift.current
    if found.decay is not None and found.decay.current is not None:
        metrics_[f"live_{found.decay.metric}"] = found.decay.current
        metrics_["decay_drop"] = found.decay.drop if found.decay.drop is not None else float("nan")
    return runs.Logged(
        name=f"monitor {found.ref.describe()}",
        kind="monitoring",
        tags={
            "loopml.status": found.status,
            "loopml.reasons": ",".join(found.reasons),
            "loopml.model_version": found.ref.version or "",
            "loopml.model_run_id": found.ref.run_id,
            "loopml.source": found.source[:500],
            **tags,
        },
        metrics=metrics_,
        files={"monitor.html": html, "monitor.json": document},
        documents={},
    )


def send_alert(
    cfg: ProjectConfig, found: Assessment, result: MonitorResult, reporter: Reporter
) -> str:
    """POST the alert as JSON to the webhook; a failure is a warning, never an error."""
    url = cfg.monitoring.alerts.webhook
    assert url is not None
    body = {
        "event": "loopml.alert",
        "project": cfg.name,
        "model": {"name": found.ref.name, "version": found.ref.version},
        "status": found.status,
        "reasons": found.reasons,
        "drift": found.drift.summary(),
        "drifted_features": [f.name for f in found.drift.drifted],
        "attribution_shifted": [
            c.column for c in (found.drift.attribution.shifted if found.drift.attribution else [])
        ],
        "decay": found.decay.summary() if found.decay else None,
        "report": str(result.html),
        "monitoring_run_id": result.run_id,
        "sent_at": time.time(),
    }
    try:
        response = httpx.post(url, json=body, timeout=cfg.monitoring.alerts.timeout)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        reporter.warn(f"alert webhook {url} failed: {exc}; the report is at {result.html}")
        return f"failed: {exc}"
    return f"sent to {url}"
