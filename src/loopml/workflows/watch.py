"""`loopml watch`: monitor on a schedule; on a trigger retrain, gate and promote.

One tick: monitor the champion (a monitoring run), decide whether a configured trigger
fired (drift, decay, or the champion being older than ``retraining.schedule``), load the
retraining data, and handle the trigger once: its key is the trigger kinds, the champion
version, the data's fingerprint, the training settings and the gate settings (a changed
gate re-judges the same trigger, without refitting a model trained on the same data).
A trigger run in MLflow records trigger -> monitoring run -> training run -> gate ->
promotion; a key that a finished trigger run already holds is never retrained again, so a
restarted watcher picks up where it stopped (a crash mid-way leaves the trigger run
unfinished and the next tick redoes it; training then finds the finished training run and
does not fit twice).

The gate is the one `loopml promote` applies (``gate`` in loopml.yaml): the retrained
version's full evaluation on its test split, every rule including beating the champion
on the same rows, and the decision tagged on the version.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.config import ProjectConfig, duration_seconds, format_duration
from loopml.core.data import ingest
from loopml.core.data.contract import DataContract
from loopml.core.reference import ReferenceProfile
from loopml.errors import ConfigError, DataError, LoopmlError, first_line
from loopml.tracking import monitoring as runs
from loopml.tracking import registry
from loopml.tracking.prediction_log import PredictionLog
from loopml.tracking.store import Tracker
from loopml.workflows.events import Reporter, SilentReporter
from loopml.workflows.monitor import (
    ALERT,
    MonitorResult,
    log_url,
    model_contract,
    monitor,
    read_logged,
)
from loopml.workflows.promote import (
    DECISION_TAG,
    REASONS_TAG,
    PromotionResult,
    promote_after_training,
)
from loopml.workflows.train import train


@dataclass(frozen=True)
class Trigger:
    kinds: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class GateOutcome:
    passed: bool
    promoted: bool
    challenger: str
    champion: str | None  # before the decision
    reason: str
    report: str | None = None

    @classmethod
    def of(cls, result: PromotionResult) -> GateOutcome:
        report = str(result.report) if result.report else None
        reason = f"v{result.version}: {result.decision.reasons()}"
        return cls(
            result.decision.passed,
            result.promoted,
            result.version,
            result.champion_before,
            reason,
            report,
        )


@dataclass
class TickResult:
    status: str  # the monitor's: healthy | alert, or error
    action: str  # none | handled-before | no-new-model | promoted | rejected | error
    message: str
    monitor_run_id: str | None = None
    trigger: Trigger | None = None
    trigger_run_id: str | None = None
    training_run_id: str | None = None
    gate: GateOutcome | None = None
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def tick(cfg: ProjectConfig, *, reporter: Reporter | None = None) -> TickResult:
    """One round: monitor, and retrain + gate + promote when a trigger fires."""
    reporter = reporter or SilentReporter()
    tracker = Tracker.from_config(cfg)
    watched = monitor(cfg, tags={"loopml.watch": "true"}, reporter=reporter)
    found = watched.assessment
    trigger = fired_trigger(cfg, tracker, watched)
    if trigger is None:
        summary = "; ".join(
            [found.drift.summary(), *([found.decay.summary()] if found.decay else [])]
        )
        return TickResult(found.status, "none", summary, watched.run_id)
    reporter.stage(f"Triggered by {', '.join(trigger.reasons)}")
    reader = model_contract(tracker, found.ref, cfg)
    frame = retraining_data(cfg, found.profile, reporter, contract=reader)
    key = _trigger_key(cfg, trigger, found.ref, ingest.fingerprint(frame))
    handled = runs.finished_trigger(tracker, key)
    if handled:
        message = f"trigger {key} was handled by run {handled}; waiting for new data"
        return TickResult(found.status, "handled-before", message, watched.run_id, trigger, handled)
    if reader is not None:
        cfg = _reading_as(cfg, reader)
    return _retrain(cfg, tracker, watched, trigger, key, frame, reporter)


def _reading_as(cfg: ProjectConfig, champion: DataContract) -> ProjectConfig:
    """The config with ``data.contract`` set to the champion's contract: the retrained model
    reads values as the champion does (the file's decimal mark, date formats, boolean words),
    though it learns from a typed snapshot."""
    folder = cfg.state_dir / "retraining"
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(champion.as_dict(), indent=2, sort_keys=True)
    # Named by its content: the same champion gives the same training settings, so a
    # trigger judged again (another gate) reuses its training instead of refitting.
    path = folder / f"contract-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    copy = cfg.model_copy(deep=True)
    copy.data.contract = str(path)
    return copy


def watch(
    cfg: ProjectConfig,
    every: str,
    *,
    max_ticks: int | None = None,
    stop: threading.Event | None = None,
    on_tick: Callable[[TickResult], None] | None = None,
    reporter: Reporter | None = None,
) -> list[TickResult]:
    """Tick every ``every`` (e.g. '10m') until ``max_ticks`` or ``stop``; errors do not stop it."""
    try:
        seconds = duration_seconds(every)
    except ValueError as exc:
        raise ConfigError(f"--every: {exc}") from None
    stop = stop or threading.Event()
    done: list[TickResult] = []
    while not stop.is_set() and (max_ticks is None or len(done) < max_ticks):
        started = time.monotonic()
        try:
            result = tick(cfg, reporter=reporter)
        except LoopmlError as exc:
            result = TickResult("error", "error", first_line(exc))
        done.append(result)
        if on_tick is not None:
            on_tick(result)
        if max_ticks is not None and len(done) >= max_ticks:
            break
        stop.wait(max(0.0, seconds - (time.monotonic() - started)))
    return done


def fired_trigger(cfg: ProjectConfig, tracker: Tracker, watched: MonitorResult) -> Trigger | None:
    """The configured triggers that this round of monitoring fired, if any."""
    found = watched.assessment
    kinds, reasons = [], []
    if found.status == ALERT:
        if "drift" in found.reasons and "drift" in cfg.retraining.trigger:
            kinds.append("drift")
            reasons.append(found.drift.summary())
        if "decay" in found.reasons and "decay" in cfg.retraining.trigger and found.decay:
            kinds.append("decay")
            reasons.append(found.decay.summary())
    if "schedule" in cfg.retraining.trigger and cfg.retraining.schedule:
        age = time.time() - runs.run_started(tracker, found.ref.run_id)
        schedule = duration_seconds(cfg.retraining.schedule)
        if age >= schedule:
            kinds.append("schedule")
            reasons.append(f"{found.ref.describe()} is older than {format_duration(schedule)}")
    return Trigger(tuple(kinds), tuple(reasons)) if kinds else None


def retraining_data(
    cfg: ProjectConfig,
    profile: ReferenceProfile,
    reporter: Reporter | None = None,
    *,
    contract: DataContract | None = None,
) -> pd.DataFrame:
    """The configured retraining data; with since: last_training, only the newer rows.

    With ``contract`` (the champion's), the columns it knows are read by it, as the
    champion reads them (a value it cannot read: one line naming the row and column);
    without, by a contract learned from the data itself.
    """
    reporter = reporter or SilentReporter()
    settings = cfg.retraining.data
    data_cfg = cfg.data.model_copy(
        update={
            "source": _resolve(cfg, settings.source) if settings.source else cfg.data.source,
            "query": settings.query if settings.source else (settings.query or cfg.data.query),
        }
    )
    reporter.stage(f"Loading the retraining data from {data_cfg.source}")
    if contract is None:
        frame = ingest.load(data_cfg)
    else:
        table = ingest.load_table(data_cfg)
        frame = contract.apply(table.frame, source=str(data_cfg.source))
    if settings.feedback:
        frame = pd.concat(
            [frame, labelled_served(cfg, profile, list(frame.columns), contract, reporter)],
            ignore_index=True,
        )
    if settings.since == "all":
        return frame
    return _since_last_training(cfg, profile, frame, str(data_cfg.source))


def labelled_served(
    cfg: ProjectConfig,
    profile: ReferenceProfile,
    columns: list[str],
    contract: DataContract | None,
    reporter: Reporter,
) -> pd.DataFrame:
    """The served rows of ``cfg.model_name`` with a label (``loopml feedback``), as rows of
    the retraining data: the logged inputs, the label as the target, the time they were
    served as the time column when the inputs lack it; other ``columns`` empty."""
    log = PredictionLog(log_url(cfg))
    empty = pd.DataFrame(columns=columns)
    if not log.exists():
        reporter.warn(f"retraining.data.feedback: no prediction log at {log.where} yet")
        return empty
    found = log.labelled(model_name=cfg.model_name, classes=profile.classes)
    reporter.stage(f"Adding {len(found):,} labelled served rows from {log.where}")
    if found.empty:
        return empty
    frame = found.rename(columns={"label": profile.target})
    time_column = cfg.retraining.data.time_column or cfg.split.time_column
    if time_column and time_column in columns and time_column not in profile.features:
        frame[time_column] = found["timestamp"].dt.tz_localize(None)
    frame = frame.reindex(columns=columns)
    if contract is None:
        return frame
    known = [c for c in columns if c in contract and c != time_column]
    return read_logged(frame, contract, known, log.where, reporter)


def _since_last_training(
    cfg: ProjectConfig, profile: ReferenceProfile, frame: pd.DataFrame, source: str
) -> pd.DataFrame:
    settings = cfg.retraining.data
    column = settings.time_column or cfg.split.time_column
    if not column:
        raise ConfigError(
            "retraining.data.since: last_training needs a time column; set "
            "retraining.data.time_column or split.time_column"
        )
    if column not in frame.columns:
        raise DataError(f"{source}: no time column '{column}' (retraining.data.time_column)")
    if profile.data_end is None:
        raise ConfigError(
            "retraining.data.since: last_training: the champion's profile has no end date "
            "(it was trained without split.time_column); use since: all"
        )
    moments = pd.to_datetime(frame[column], errors="coerce", format="mixed")
    start = pd.Timestamp(profile.data_end) - pd.Timedelta(seconds=settings.lookback)
    kept = frame[moments > start].reset_index(drop=True)
    if kept.empty:
        raise DataError(f"{source}: no rows after {start} (the end of the last training data)")
    return kept


def _resolve(cfg: ProjectConfig, source: str) -> str:
    if "://" in source:
        return source
    path = Path(source)
    return str(path if path.is_absolute() else (cfg.root / path).resolve())


def _trigger_key(cfg: ProjectConfig, trigger: Trigger, ref: runs.ModelRef, data: str) -> str:
    """Same kinds, champion, data, training settings and gate: the same trigger."""
    gate = json.dumps(cfg.gate.model_dump(), sort_keys=True)
    parts = ["+".join(sorted(trigger.kinds)), ref.version or ref.run_id, data, cfg.training_key()]
    parts.append(gate)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _retrain(
    cfg: ProjectConfig,
    tracker: Tracker,
    watched: MonitorResult,
    trigger: Trigger,
    key: str,
    frame: pd.DataFrame,
    reporter: Reporter,
) -> TickResult:
    found = watched.assessment
    trigger_run = runs.start_run(
        tracker,
        f"retrain: {'+'.join(trigger.kinds)} on {found.ref.describe()}",
        "retraining",
        {
            runs.TRIGGER_KEY_TAG: key,
            "loopml.trigger.kinds": ",".join(trigger.kinds),
            "loopml.trigger.reasons": " | ".join(trigger.reasons)[:4000],
            "loopml.monitor_run_id": watched.run_id or "",
            "loopml.champion_version": found.ref.version or "",
        },
    )
    chain: dict[str, Any] = {"trigger": asdict(trigger), "monitor_run_id": watched.run_id}
    try:
        result = _train_and_gate(cfg, tracker, trigger_run, key, frame, found.ref, chain, reporter)
    except BaseException as exc:
        chain["error"] = str(exc)
        runs.finish_run(tracker, trigger_run, {"loopml.outcome": "error"}, chain, ok=False)
        raise
    result.monitor_run_id, result.trigger, result.status = watched.run_id, trigger, found.status
    return result


def _train_and_gate(
    cfg: ProjectConfig,
    tracker: Tracker,
    trigger_run: str,
    key: str,
    frame: pd.DataFrame,
    champion: runs.ModelRef,
    chain: dict[str, Any],
    reporter: Reporter,
) -> TickResult:
    retrain_cfg = _with_snapshot(cfg, frame, key)
    trained = train(retrain_cfg, reporter=reporter)
    chain["training_run_id"] = trained.run_id
    runs.tag_run(tracker, trained.run_id, {runs.TRIGGER_RUN_TAG: trigger_run})
    if trained.run_id == champion.run_id:
        outcome, gate = "no-new-model", None
        message = f"the retraining data gives the champion's own run {trained.run_id}"
    else:
        promotion = promote_after_training(retrain_cfg, trained.run_id, reporter=reporter)
        gate = GateOutcome.of(promotion)
        registry.tag_version(tracker, gate.challenger, {runs.TRIGGER_RUN_TAG: trigger_run})
        outcome = "promoted" if gate.promoted else "rejected"
        message = gate.reason
    chain["gate"] = asdict(gate) if gate else None
    tags = {
        "loopml.outcome": outcome,
        "loopml.training_run_id": trained.run_id,
        DECISION_TAG: "" if gate is None else ("passed" if gate.passed else "failed"),
        REASONS_TAG: message[:4000],
        "loopml.promoted_version": (gate.challenger or "") if gate and gate.promoted else "",
    }
    runs.finish_run(tracker, trigger_run, tags, chain, ok=True)
    return TickResult(ALERT, outcome, message, None, None, trigger_run, trained.run_id, gate)


def _with_snapshot(cfg: ProjectConfig, frame: pd.DataFrame, key: str) -> ProjectConfig:
    """The project's config, training on a Parquet snapshot of the retraining data."""
    folder = cfg.state_dir / "retraining"
    folder.mkdir(parents=True, exist_ok=True)
    snapshot = folder / f"{key}.parquet"
    if not snapshot.exists():
        temporary = folder / f".{key}.parquet.tmp"
        frame.to_parquet(temporary, index=False)
        temporary.replace(snapshot)
    copy = cfg.model_copy(deep=True)
    copy.data.source, copy.data.query = str(snapshot), None
    return copy
