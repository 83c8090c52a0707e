"""The evaluation report: one self-contained HTML file per evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loopml.core.evaluation import metrics, threshold
from loopml.core.evaluation.assess import Evaluation
from loopml.core.evaluation.gate import GateDecision
from loopml.reports import fairness, figures, html, plots

FIGURE_KEYS = (
    "confusion",
    "residuals",
    "residual_hist",
    "curves",
    "reliability",
    "coverage",
    "slices",
    "importance",
    "attributions",
    "learning",
    "fairness",
)


LABEL_ISSUES_SHOWN = 20


def render(
    ev: Evaluation,
    header: dict[str, Any],
    calibration: dict[str, Any] | None,
    decision: GateDecision | None,
    *,
    importance_rows: int = 2000,
    contract: dict[str, Any] | None = None,
) -> str:
    """The report as one HTML string; ``contract`` is the run's ``data/data_contract.json``."""
    chosen = calibration.get("threshold") if calibration else None
    worst_columns, worst_rows = _worst(ev.worst)
    issue_columns, issue_rows = _worst(
        None if ev.label_issues is None else ev.label_issues.head(LABEL_ISSUES_SHOWN)
    )
    return html.render(
        "evaluation.html.j2",
        ev=ev,
        h=header,
        cards=_cards(ev, decision),
        gate=decision,
        calibration=calibration if calibration and calibration.get("method") != "none" else None,
        figures=_figures(ev),
        fallback=chosen.get("fallback_label") if chosen else None,
        target_precision=chosen.get("target_precision") if chosen else None,
        worst_columns=worst_columns,
        worst_rows=worst_rows,
        issue_columns=issue_columns,
        issue_rows=issue_rows,
        importance_rows=importance_rows,
        contract=contract_table(contract) if contract else None,
        fairness=[fairness.table(c) for c in ev.fairness.columns] if ev.fairness else [],
        version=html.loopml_version(),
        generated=pd.Timestamp.now().strftime("%Y-%m-%d %H:%M"),
    )


def _cards(ev: Evaluation, decision: GateDecision | None) -> list[dict[str, str]]:
    shown = [ev.metric]
    extra = ("accuracy", "roc_auc", "ece") if ev.task == "classification" else ("rmse", "mae")
    shown += [m for m in extra if m != ev.metric]
    cards = [
        {"label": f"test {m}", "value": html.number(ev.metrics.get(m), 3), "css": ""} for m in shown
    ]
    if ev.threshold:
        cards.append({"label": "coverage", "value": html.percent(ev.threshold.coverage), "css": ""})
    weak = len(ev.weak_slices)
    cards.append({"label": "weak slices", "value": str(weak), "css": "fail" if weak else "pass"})
    if ev.behavioral:
        passed = sum(r.passed for r in ev.behavioral)
        css = "pass" if passed == len(ev.behavioral) else "fail"
        cards.append({"label": "behavioral", "value": f"{passed}/{len(ev.behavioral)}", "css": css})
    if decision is not None:
        value, css = ("passes", "pass") if decision.passed else ("fails", "fail")
        cards.append({"label": "gate", "value": value, "css": css})
    return cards


def _figures(ev: Evaluation) -> dict[str, str | None]:
    made: dict[str, str | None] = dict.fromkeys(FIGURE_KEYS)
    y, predicted, proba = ev.y_true, ev.test.predicted, ev.test.proba
    if ev.task == "classification":
        made["confusion"] = html.image(
            plots.confusion_matrix(y, predicted, ev.classes, "test split")
        )
    else:
        made["residuals"] = html.image(plots.residuals(y, predicted, "test split"))
        made["residual_hist"] = html.image(figures.residual_histogram(y, predicted))
    if proba is not None and ev.classes:
        made["curves"] = html.image(figures.roc_and_pr(y, proba, ev.classes))
        if ev.reliability is not None:
            made["reliability"] = html.image(
                figures.reliability(ev.reliability, ev.metrics.get("ece", float("nan")))
            )
        levels, covered, precision = threshold.curve(y, proba, ev.classes)
        chosen = ev.threshold.threshold if ev.threshold else None
        made["coverage"] = html.image(figures.coverage(levels, covered, precision, chosen))
    if ev.slices:
        slice_metric = metrics.METRICS[ev.slice_metric]
        overall = metrics.score_safely(slice_metric, y, predicted, proba, ev.classes)
        made["slices"] = html.image(
            figures.slice_chart(ev.slices, overall, ev.slice_metric, slice_metric.higher_is_better)
        )
    if ev.importance:
        made["importance"] = html.image(figures.importance(ev.importance, ev.metric))
    if ev.attributions is not None:
        made["attributions"] = html.image(figures.attributions(ev.attributions))
    if ev.learning is not None:
        made["learning"] = html.image(figures.learning(ev.learning))
    if ev.fairness is not None and ev.fairness.columns:
        made["fairness"] = html.image(fairness.chart(ev.fairness))
    return made


def _worst(worst: pd.DataFrame | None) -> tuple[list[str], list[list[Any]]]:
    if worst is None or worst.empty:
        return [], []
    rows = [[_plain(v) for v in row] for row in worst.itertuples(index=False)]
    return [str(c) for c in worst.columns], rows


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def contract_table(document: dict[str, Any]) -> dict[str, Any]:
    """The data contract as the report shows it: the file's dialect in words and one row
    per column (role, kind, how values are written, markers read as missing, why)."""
    dialect = document.get("dialect") or {}
    written = []
    if dialect.get("sep"):
        written.append(f"{dialect['sep']!r}-separated")
    if dialect.get("decimal"):
        written.append(f"decimal {dialect['decimal']!r}")
    if dialect.get("thousands"):
        written.append(f"thousands {dialect['thousands']!r}")
    if dialect.get("encoding"):
        written.append(f"encoding {dialect['encoding']}")
    return {
        "version": document.get("version"),
        "dialect": ", ".join(written),
        "columns": [_contract_row(rule) for rule in document.get("columns", [])],
    }


def _contract_row(rule: dict[str, Any]) -> dict[str, Any]:
    markers = rule.get("missing") or {}
    return {
        "name": rule.get("name", ""),
        "role": rule.get("role", ""),
        "kind": rule.get("kind", ""),
        "format": _written_as(rule),
        "markers": ", ".join(f"{marker!r} ×{count}" for marker, count in markers.items()),
        "missing_share": rule.get("missing_share", 0.0),
        "why": rule.get("why", ""),
    }


def _written_as(rule: dict[str, Any]) -> str:
    kind = rule.get("kind")
    if kind == "number":
        thousands = rule.get("thousands")
        return f"decimal {rule.get('decimal', '.')!r}" + (
            f", thousands {thousands!r}" if thousands else ""
        )
    if kind == "datetime":
        return f"{rule['date_format']} or ISO 8601" if rule.get("date_format") else "ISO 8601"
    if kind == "boolean":
        words = [*rule.get("true_words", []), *rule.get("false_words", [])]
        return "/".join(["true", "false", "1", "0", *words])
    return "code, leading zeros kept" if rule.get("code") else "text"
