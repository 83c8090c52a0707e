"""`loopml evaluate`: the full evaluation of a trained model, as an HTML report and in MLflow.

The model is scored on the same splits it was trained with: the run's own data and split
settings are read back from MLflow and the data's fingerprint must still match. Slices,
behavioral tests and gate rules come from the current loopml.yaml, so they can be added
after training.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from loopml import compute
from loopml.config import ProjectConfig
from loopml.config import quietly as config_quietly
from loopml.core.data.contract import CONTRACT_FILE
from loopml.core.evaluation import fitted_rows, gate, metrics
from loopml.core.evaluation.assess import Champion, Evaluation, Subject, assess
from loopml.core.evaluation.fitted_rows import FittedRows
from loopml.core.evaluation.inspection import GlobalAttributions
from loopml.core.scoring import ScoringModel
from loopml.errors import DataValidationError
from loopml.reports import evaluation as evaluation_report
from loopml.reports import fairness as fairness_report
from loopml.tracking import evaluations as results
from loopml.tracking import registry
from loopml.tracking.models import load as load_model
from loopml.tracking.store import CHAMPION, FINGERPRINT_TAG, Tracker
from loopml.workflows import distributed
from loopml.workflows.events import Reporter, Shown, SilentReporter
from loopml.workflows.finalize import CALIBRATION_DOCUMENT, check_settings
from loopml.workflows.prepare import Prepared


@dataclass(frozen=True)
class Loaded:
    """A registered model, the splits it was trained on and its selection metric."""

    ref: registry.ModelRef
    model: ScoringModel
    data: Prepared
    metric: metrics.Metric
    label: str


@dataclass(frozen=True, repr=False)
class EvaluateResult(Shown):
    label: str
    run_id: str
    evaluation: Evaluation
    decision: gate.GateDecision
    report: Path

    @property
    def summary(self) -> str:
        """The model, its test metrics, the gate's verdict and the report."""
        shown = ", ".join(f"{k} {v:.4g}" for k, v in self.evaluation.metrics.items())
        verdict = "passes" if self.decision.passed else "fails"
        return f"{self.label}: test {shown}; gate {verdict}; report {self.report}"

    def _shown(self) -> tuple[str, pd.DataFrame]:
        return self.summary, self.table

    @property
    def table(self) -> pd.DataFrame:
        """One row per gate rule: rule, passed, detail."""
        return pd.DataFrame(
            [(r.rule, r.passed, r.detail) for r in self.decision.rules],
            columns=["rule", "passed", "detail"],
        )


def load(cfg: ProjectConfig, tracker: Tracker, ref: str | None, reporter: Reporter) -> Loaded:
    """The model ``ref`` names, with its run's data re-split exactly as at training."""
    found = registry.resolve(tracker, ref)
    label = found.describe()
    reporter.stage(f"Loading {label} (run {found.run_id})")
    model = load_model(found.uri, tracking_uri=cfg.tracking.uri)
    tags = results.run_tags(tracker, found.run_id)
    data = _training_data(cfg, tracker, found.run_id, tags, reporter)
    metric = metrics.resolve(tags.get("loopml.metric") or cfg.metric, data.task)
    check_settings(cfg, data, metric)
    return Loaded(found, model, data, metric, label)


def _training_data(
    cfg: ProjectConfig, tracker: Tracker, run_id: str, tags: dict[str, str], reporter: Reporter
) -> Prepared:
    logged = results.run_document(tracker, run_id, "config/loopml.json")
    run_cfg = cfg
    if logged:
        try:
            with config_quietly():  # written by loopml, perhaps under old key names
                trained = ProjectConfig.model_validate(logged)
            update = {"data": trained.data, "split": trained.split, "train": trained.train}
            run_cfg = cfg.model_copy(update=update)
        except ValidationError:
            reporter.warn(f"run {run_id} was trained with settings this loopml cannot read")
    data = _read(run_cfg)
    expected = tags.get(FINGERPRINT_TAG)
    if expected and expected != data.fingerprint:
        raise DataValidationError(
            f"{run_cfg.data.source}: the data changed since run {run_id} was trained "
            f"(fingerprint {data.fingerprint}, trained on {expected}); "
            "train again with `loopml run` and evaluate the new run"
        )
    return data


def _read(cfg: ProjectConfig) -> Prepared:
    """The data as the run was trained on it: whole, or a sample read on Ray (distributed)."""
    backend = compute.make(cfg.compute, cfg.train)
    with backend.training_session(cfg.data.source):
        return distributed.training_data(cfg, SilentReporter(), backend, whole=False)


def champion_of(cfg: ProjectConfig, tracker: Tracker) -> Champion | None:
    version = tracker.alias_version(CHAMPION)
    if version is None:
        return None
    model = load_model(f"models:/{cfg.model_name}/{version}", tracking_uri=cfg.tracking.uri)
    run_id = registry.resolve(tracker, version).run_id
    document = results.run_document(tracker, run_id, fitted_rows.DOCUMENT)
    return Champion(version, model, FittedRows.from_document(document) if document else None)


def measure(
    cfg: ProjectConfig, tracker: Tracker, loaded: Loaded, reporter: Reporter, *, full: bool
) -> Evaluation:
    """Everything the gate (and, with ``full``, the report) needs."""
    reporter.stage(
        f"Evaluating {loaded.label} on {len(loaded.data.splits.test):,} test rows"
        + (" of the sample (train.sample_rows)" if loaded.data.whole_rows else "")
        + (" (slices, calibration, importance, behavior)" if full else "")
    )
    subject = Subject(
        loaded.model,
        loaded.data.splits,
        loaded.data.roles,
        loaded.data.target,
        loaded.metric,
        cfg.split.seed,
    )
    return assess(
        subject,
        cfg.evaluation,
        cfg.behavioral,
        cfg.gate,
        champion=champion_of(cfg, tracker),
        full=full,
        rule_baselines=cfg.models.rules,
    )


def evaluate(
    cfg: ProjectConfig,
    ref: str | None = None,
    *,
    reporter: Reporter | None = None,
    output: Path | None = None,
) -> EvaluateResult:
    """Evaluate a model (the challenger by default), write the report and log it to MLflow."""
    reporter = reporter or SilentReporter()
    tracker = Tracker.from_config(cfg)
    loaded = load(cfg, tracker, ref, reporter)
    found = measure(cfg, tracker, loaded, reporter, full=True)
    decision = gate.decide(cfg.gate, found.gate_inputs())
    report = write_report(cfg, tracker, loaded, found, decision, output, reporter)
    return EvaluateResult(loaded.label, loaded.ref.run_id, found, decision, report)


def write_report(
    cfg: ProjectConfig,
    tracker: Tracker,
    loaded: Loaded,
    found: Evaluation,
    decision: gate.GateDecision | None,
    output: Path | None,
    reporter: Reporter,
) -> Path:
    """Render the HTML report, log it (and a JSON summary) to the run, then place the file."""
    reporter.stage("Writing the evaluation report")
    calibration = results.run_document(tracker, loaded.ref.run_id, CALIBRATION_DOCUMENT)
    html = evaluation_report.render(
        found,
        _header(cfg, loaded),
        calibration,
        decision,
        importance_rows=cfg.evaluation.importance_rows,
        contract=results.run_document(tracker, loaded.ref.run_id, f"data/{CONTRACT_FILE}"),
    )
    target = output or default_report_path(cfg, loaded)
    with tempfile.TemporaryDirectory() as folder:
        page, summary = Path(folder) / "report.html", Path(folder) / "summary.json"
        page.write_text(html, encoding="utf-8")
        body = {**found.summary(), "gate": decision.as_dict() if decision else None}
        summary.write_text(json.dumps(body, indent=2, default=str), encoding="utf-8")
        results.log_results(
            tracker,
            loaded.ref.run_id,
            "evaluation",
            [page, summary],
            _logged_metrics(found, loaded.data.whole_rows is not None),
            {"loopml.evaluation.weak_slices": str(len(found.weak_slices))},
        )
        if found.attributions is not None:
            table = _attribution_table(found.attributions, Path(folder) / "attributions.csv")
            results.log_results(tracker, loaded.ref.run_id, "evaluation", [table], {}, {})
        if found.fairness is not None:
            tables = fairness_report.write_files(found.fairness, Path(folder) / "fairness")
            results.log_results(tracker, loaded.ref.run_id, "evaluation/fairness", tables, {}, {})
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target)
    return target


def _attribution_table(found: GlobalAttributions, path: Path) -> Path:
    """``evaluation/attributions.csv``: column, mean_abs, share, direction (top columns)."""
    directions = {d.column: d.text for d in found.directions}
    pd.DataFrame(
        [
            {
                "column": column,
                "mean_abs": value,
                "share": found.summary.share[column],
                "direction": directions.get(column, ""),
            }
            for column, value in found.ranked()
        ]
    ).to_csv(path, index=False)
    return path


def default_report_path(cfg: ProjectConfig, loaded: Loaded) -> Path:
    name = f"v{loaded.ref.version}" if loaded.ref.version else loaded.ref.run_id[:8]
    return cfg.root / cfg.evaluation.reports / f"evaluation-{cfg.model_name}-{name}.html"


def _header(cfg: ProjectConfig, loaded: Loaded) -> dict[str, Any]:
    return {
        "project": cfg.name,
        "model": loaded.label,
        "run_id": loaded.ref.run_id,
        "source": cfg.data.source,
        "target": loaded.data.target,
        "split": loaded.data.splits.sizes(),
        "split_how": loaded.data.splits.how,
        "fingerprint": loaded.data.fingerprint,
    }


def _logged_metrics(found: Evaluation, sampled: bool) -> dict[str, float]:
    """The evaluation's metrics; on a sample (train.distributed) they keep their own names,
    so the run's ``test_*`` stay those of every test row, scored at training."""
    test = "sample_test_" if sampled else "test_"
    values = {f"{test}{name}": value for name, value in found.metrics.items()}
    values["overfit_gap"] = found.overfit.gap
    if found.threshold:
        values[f"{test}coverage"] = found.threshold.coverage
        values[f"{test}selective_precision"] = found.threshold.precision
    if found.fairness is not None:  # the worst column's, and each column's
        values.update({f"{test}{name}": v for name, v in found.fairness.worst_values().items()})
        for column in found.fairness.columns:
            for name, value in column.differences.items():
                values[f"{test}{name}.{fairness_report.safe_name(column.column)}"] = value
    if found.behavioral:
        values["behavioral_passed"] = sum(r.passed for r in found.behavioral)
        values["behavioral_failed"] = sum(not r.passed for r in found.behavioral)
    return values
