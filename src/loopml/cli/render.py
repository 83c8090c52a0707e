"""What the CLI prints: its two consoles, and one function per table or block of lines.

Data and IDs go to ``out`` (stdout); logs, progress and tables about the work to ``err``
(stderr). Nothing here decides anything: each function shows a workflow's result.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from loopml.workflows import events

T = TypeVar("T")

# Off a terminal (pipes, CI, CliRunner) Rich would wrap at 80 columns and split one-line
# messages; keep lines whole and give tables room instead.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)


class RichReporter(events.RichReporter):
    """``events.RichReporter`` on the CLI's stderr console."""

    def __init__(self) -> None:
        super().__init__(err)


def reported(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a workflow with its progress on stderr; the bars are closed however it ends."""
    reporter = RichReporter()
    try:
        return work(*args, reporter=reporter, **kwargs)
    finally:
        reporter.close()


def num(value: float | None) -> str:
    """A score with four decimals; ``-`` for a missing one (None or NaN)."""
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"


def note(text: str) -> None:
    """A yellow ``note:`` line on stderr."""
    err.print(f"[yellow]note:[/] {escape(text)}", highlight=False)


def warning(text: str) -> None:
    """A yellow ``warning:`` line on stderr."""
    err.print(f"[yellow]warning:[/] {escape(text)}", highlight=False)


# --- training: `loopml train`, `run`, `distill`, `runs` ---------------------------------


def print_training(result: Any, promotion: Any) -> None:
    """A training's inferred roles, then (unless it was skipped) its leaderboard and, for
    `loopml run`, the gate's decision; its run id last, on stdout."""
    print_roles(result.roles)
    if result.skipped:
        err.print(
            f"[green]Skipped:[/] data (fingerprint {result.fingerprint}) and config are unchanged "
            f"since run {result.run_id}; use --force to train again",
            highlight=False,
        )
        out.print(result.run_id)
        return
    print_leaderboard(result)
    if promotion is not None:
        print_promotion(promotion)
    out.print(result.run_id)


def print_roles(roles: Any) -> None:
    if not roles.inferred:
        return
    table = Table(
        title="Inferred column roles (declare them in data.columns to change)", title_justify="left"
    )
    table.add_column("role")
    table.add_column("columns (why)")
    by_role: dict[str, list[str]] = {}
    for column, why in roles.inferred.items():
        role, _, reason = why.partition(" ")
        by_role.setdefault(role, []).append(escape(f"{column} {reason}"))
    for role, entries in by_role.items():
        shown = ", ".join(entries[:6]) + (
            f", … {len(entries) - 6} more" if len(entries) > 6 else ""
        )
        table.add_row(f"{role} ({len(entries)})", shown)
    err.print(table)


def print_leaderboard(result: Any) -> None:
    err.print(leaderboard(result))
    if result.learning_curve:
        err.print(f"Learning curve: {result.learning_curve}", highlight=False)
    test, base = result.test, result.baseline_test
    err.print(
        f"Test {result.metric}: [bold]{num(test.selection)}[/] ({escape(result.winner)}) vs "
        f"{num(base.selection)} (baseline)"
        + "".join(f", {num(v)} (rule {escape(n)})" for n, v in result.rules_test.items()),
        highlight=False,
    )
    reg = result.registered
    held = f"as {', '.join(reg.aliases)}" if reg.aliases else "(a newer version is challenger)"
    err.print(f"Registered [bold]{reg.name}[/] version {reg.version} {held}", highlight=False)


def print_distillation(result: Any) -> None:
    """Teacher against student, then whether the student was registered; its run id last."""
    err.print(distillation(result))
    if result.registered:
        reg = result.registered
        err.print(
            f"Registered [bold]{reg.name}[/] version {reg.version} as {', '.join(reg.aliases)}",
            highlight=False,
        )
    else:
        err.print(
            f"Not registered: the student loses {result.drop:.4f} {result.metric}, more than "
            f"distill.max_drop={result.max_drop:g}",
            highlight=False,
        )
    out.print(result.run_id)


def print_runs(rows: list[Any], experiment: str, tracking_uri: str) -> None:
    """The runs table on stdout (a hint to train when there is none)."""
    metric = rows[0].metric if rows else ""
    table = Table(title=f"Runs of {experiment} ({metric}; {tracking_uri})", title_justify="left")
    table.add_column("run id", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("model")
    for name in ("validation", "test", "baseline test", "version"):
        table.add_column(name, justify="right")
    table.add_column("aliases")
    for r in rows:
        table.add_row(
            r.run_id,
            r.started.strftime("%m-%d %H:%M"),
            r.winner,
            num(r.validation),
            num(r.test),
            num(r.baseline_test),
            r.version or "",
            ", ".join(r.aliases),
        )
    out.print(table if rows else "no runs yet; train one with `loopml run`")


# --- evaluation and the gate: `loopml evaluate`, `test`, `promote`, `run` ---------------


def print_promotion(promotion: Any) -> None:
    """What `loopml run` shows after training: fairness, notes, the gate's decision."""
    print_fairness(promotion.evaluation)
    print_notes(promotion.evaluation)
    if promotion.evaluation.simpson:
        warning(promotion.evaluation.simpson)
    if promotion.decision.passed:
        state = "is now the champion" if promotion.promoted else "is the champion"
        err.print(
            f"[green]Gate passed[/] ({promotion.decision.reasons()}): {promotion.label} {state}",
            highlight=False,
        )
    else:
        err.print(
            f"[yellow]Gate failed[/]: {promotion.label} stays challenger "
            "(`loopml promote` checks again):",
            highlight=False,
        )
        for rule in promotion.decision.failed:
            err.print(f"  [red]✗[/] {escape(rule.rule)}: {escape(rule.detail)}", highlight=False)
    if promotion.report is not None:
        err.print(f"Evaluation report: {promotion.report}", highlight=False)


def print_notes(ev: Any) -> None:
    """What the evaluation could not do (attributions, the learning curve), and why."""
    for text in ev.notes:
        note(text)


def print_fairness(ev: Any) -> None:
    if ev.fairness is None or not ev.fairness.columns:
        return
    err.print(fairness(ev.fairness))
    for text in (n for c in ev.fairness.columns for n in c.notes):
        note(text)


def print_gate_table(decision: Any) -> None:
    table = Table(title="Promotion gate", title_justify="left")
    for name in ("rule", "result", "detail"):
        table.add_column(name)
    for rule in decision.rules:
        mark = "[green]pass[/]" if rule.passed else "[red]fail[/]"
        table.add_row(escape(rule.rule), mark, escape(rule.detail))
    err.print(table)


def print_evaluation(label: str, ev: Any, decision: Any) -> None:
    table = Table(title=escape(f"{label} on {ev.rows:,} test rows"), title_justify="left")
    table.add_column("metric")
    table.add_column("test", justify="right")
    for name, value in ev.metrics.items():
        table.add_row(f"{name} (selection)" if name == ev.metric else name, num(value))
    err.print(table)
    fit = ev.overfit
    err.print(
        f"Overfitting ({fit.metric}): train {num(fit.train)}, validation {num(fit.validation)}, "
        f"test {num(fit.test)}, gap {num(fit.gap)}",
        highlight=False,
    )
    if ev.threshold:
        err.print(
            f"Threshold {ev.threshold.threshold:.3f}: coverage {ev.threshold.coverage:.1%}, "
            f"precision {num(ev.threshold.precision)} on test",
            highlight=False,
        )
    for s in ev.weak_slices[:5]:
        err.print(
            f"[yellow]weak slice:[/] {escape(s.name)} ({s.rows} rows): {ev.slice_metric} "
            f"{num(s.value)}",
            highlight=False,
        )
    if ev.comparison:
        c = ev.comparison
        err.print(
            f"vs champion v{ev.champion}: {c.metric} {num(c.challenger)} vs {num(c.champion)} "
            f"({c.delta:+.4f}, p={c.p_value:.3g})",
            highlight=False,
        )
    if ev.simpson:
        warning(ev.simpson)
    if ev.behavioral:
        passed = sum(r.passed for r in ev.behavioral)
        err.print(f"Behavioral tests: {passed} of {len(ev.behavioral)} pass", highlight=False)
    print_fairness(ev)
    print_notes(ev)
    print_gate_table(decision)


def print_behavioral(outcome: Any) -> None:
    """One row per behavioural test on stdout: result, agreement and required agreement."""
    table = Table(title=f"Behavioral tests of {outcome.label}", title_justify="left")
    for name in ("test", "result", "agreement", "required", "detail"):
        table.add_column(name, justify="right" if name in ("agreement", "required") else "left")
    for r in outcome.results:
        mark = "[green]pass[/]" if r.passed else "[red]fail[/]"
        table.add_row(r.name, mark, f"{r.agreement:.3f}", f"{r.required:.3f}", r.detail)
    out.print(table)


# --- data: `loopml profile`, `data issues` -----------------------------------------------


def print_profile(source: Any, result: Any) -> None:
    table = Table(title=escape(f"Profile of {source}"), title_justify="left")
    table.add_column("")
    table.add_column("value", justify="right")
    for name, value in result.highlights.items():
        table.add_row(escape(str(name)), escape(str(value)))
    err.print(table)
    err.print(f"Report: {result.report} (logged to run {result.run_id})", highlight=False)


def print_issues(result: Any, top: int) -> None:
    """The ``top`` likeliest label issues on stdout."""
    table = result.table
    shown = Table(
        title=escape(
            f"{len(table):,} likely label issues in {result.rows:,} rows "
            f"({result.model}, {result.folds}-fold out-of-fold predictions)"
        ),
        title_justify="left",
        caption=f"showing the top {min(top, len(table))}; -o FILE writes all"
        if len(table)
        else None,
        caption_justify="left",
    )
    for column in table.columns:
        shown.add_column(escape(str(column)), overflow="fold")
    for _, row in table.head(top).iterrows():
        shown.add_row(*(escape(str(v)) for v in row))
    out.print(shown)


# --- monitoring: `loopml monitor`, `label-queue` -----------------------------------------


def print_monitor(result: Any, *, as_json: bool) -> None:
    """The drift table (or its JSON) on stdout; the status line and report on stderr."""
    import json

    found = result.assessment
    if as_json:
        out.print_json(json.dumps(found.as_dict(), default=str))
    else:
        print_drift(found)
    colour = {"healthy": "green", "not judged": "yellow"}.get(found.verdict, "bold red")
    err.print(f"[{colour}]{found.verdict}[/] " + escape(found.line()), highlight=False)
    err.print(f"Report: {result.html} (MLflow run {result.run_id})", highlight=False)
    if result.webhook:
        err.print(f"Alert webhook: {result.webhook}", highlight=False)


def print_drift(found: Any) -> None:
    """The drift table: one row per feature (and the predictions), a column per distance of
    ``core.drift.DISTANCES``."""
    from loopml.core.drift import DISTANCES

    table = Table(
        title=escape(f"Drift against the reference of {found.ref.describe()} ({found.source})"),
        title_justify="left",
    )
    shorts = [d.short for d in DISTANCES.values()]
    for name in ("feature", "test", "statistic", "corrected p", *shorts, "rows", "verdict"):
        table.add_column(name, justify="left" if name in ("feature", "verdict") else "right")
    rows = list(found.drift.features) + ([found.drift.prediction] if found.drift.prediction else [])
    for f in rows:
        verdict = "drift" if f.drifted else ("stable" if f.judged else "not judged")
        table.add_row(
            escape(f.name),
            f.test,
            num(f.statistic),
            num(f.p_adjusted),
            *(num(f.distances[d]) for d in DISTANCES),
            str(f.rows),
            verdict,
            style="bold red" if f.drifted else None,
        )
    out.print(table)
    attribution = found.drift.attribution
    if attribution is not None:
        style = "bold red" if attribution.shifted else ""
        out.print(
            f"Attributions ({attribution.rows} rows): {escape(attribution.summary())}",
            style=style or None,
        )
    elif found.drift.attribution_skipped:
        out.print(f"Attributions not compared: {escape(found.drift.attribution_skipped)}")


def print_label_queue(result: Any) -> None:
    """The queue's notes, then its first ten rows on stdout."""
    for text in result.notes:
        note(text)
    shown = Table(
        title=escape(
            f"{len(result.table):,} rows to label of {result.considered:,} unlabelled in "
            f"{result.source} ({result.model})"
        ),
        title_justify="left",
    )
    for column in ("request_id", "row", "reason", "prediction"):
        shown.add_column(column, overflow="fold")
    for _, row in result.table.head(10).iterrows():
        shown.add_row(
            *(escape(str(row.get(c, ""))) for c in ("request_id", "row", "reason", "prediction"))
        )
    out.print(shown)


# --- the model in use: `loopml loadtest`, `explain` --------------------------------------


def print_load(result: Any) -> None:
    table = Table(title=f"Load test of {result.url}", title_justify="left")
    for name in ("clients", "requests", "errors", "seconds", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(name, justify="right")
    table.add_row(
        str(result.concurrency),
        str(result.requests),
        str(result.errors),
        f"{result.seconds:.2f}",
        f"{result.requests_per_s:,.1f}",
        f"{result.p50_ms:.2f}",
        f"{result.p95_ms:.2f}",
        f"{result.p99_ms:.2f}",
    )
    out.print(table)


def print_explanation(found: Any, top_k: int) -> None:
    """The row's prediction, then one bar per column (green raises the output, red lowers)."""
    e = found.explanation
    out.print(
        f"[bold]{escape(found.model)}[/], row {found.row} (counting from 1 under the header"
        f"{''.join(f'; {escape(str(k))}={escape(str(v))}' for k, v in found.ids.items())}) "
        f"of {escape(str(found.source))}: "
        f"prediction [bold]{escape(str(found.prediction))}[/]"
        + (
            " (" + ", ".join(f"{escape(k)}: {v:.3f}" for k, v in found.probabilities.items()) + ")"
            if found.probabilities
            else ""
        ),
        highlight=False,
    )
    out.print(f"Explained: {escape(e.note)}", highlight=False)
    out.print(f"Method: {escape(e.method)}", highlight=False)
    ranked = e.ranked(0, top_k)
    widest = max((abs(v) for _, v in ranked), default=0.0) or 1.0
    table = Table(box=None, pad_edge=False)
    for name, justify in (("column", "left"), ("value", "left"), ("contribution", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("", justify="left")
    for column, value in ranked:
        bar = Text("█" * max(1, round(20 * abs(value) / widest)) if value else "")
        bar.stylize("green" if value > 0 else "red")
        shown = str(found.values.get(column, ""))
        table.add_row(escape(column), escape(shown[:40]), f"{value:+.4f}", bar)
        for word, weight in (e.words.get(column) or [{}])[0].items():
            table.add_row("", f"  '{escape(word)}'", f"{weight:+.4f}", "")
    out.print(table)
    rest = len(e.columns) - len(ranked)
    base, output = e.base_values[0], e.outputs[0]
    out.print(
        f"base value {base:+.4f} + contributions {output - base:+.4f} = output {output:+.4f} "
        f"({e.space})" + (f"; {rest} more column(s) not shown (--top-k)" if rest > 0 else ""),
        highlight=False,
    )


# --- tables built here, printed above ------------------------------------------------

_COLUMNS = (
    "candidate",
    "CV ± std",
    "validation",
    "train",
    "trials",
    "search s",
    "fit s",
    "µs/row",
    "size KB",
    "best params",
)


def leaderboard(result: Any) -> Table:
    """Candidates, best first on validation; then the rules (models.rules) and the baseline;
    the fairness line as caption.

    ``train`` beside ``validation`` shows the overfitting gap; latency and size show what
    the accuracy costs to serve.
    """
    table = Table(
        title=escape(
            f"Leaderboard ({result.metric}; {result.split_how} split {result.split_sizes})"
        ),
        title_justify="left",
        caption=escape(result.fairness) if result.fairness else result.fairness,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    rows = [(_cells(row), row.name == result.winner) for row in _ordered(result)]
    for i, name in enumerate(_COLUMNS):
        widest = max([len(name), *(len(cells[i]) for cells, _ in rows)])
        if name == "candidate":
            table.add_column(name, max_width=36, overflow="ellipsis", no_wrap=True)
        elif name == "best params":
            table.add_column(name, max_width=40, overflow="ellipsis", no_wrap=True)
        else:
            table.add_column(name, justify="right", min_width=widest, no_wrap=True)
    for cells, winner in rows:
        table.add_row(*cells, style="bold green" if winner else None)
    return table


def _ordered(result: Any) -> list[Any]:
    from loopml.core.evaluation.metrics import METRICS  # scikit-learn: imported when used

    rows = list(result.leaderboard)
    baseline, others = rows[:1], rows[1:]
    higher = METRICS[result.metric].higher_is_better

    def best_first(entries: list[Any]) -> list[Any]:
        ok = [r for r in entries if not math.isnan(r.validation_score)]
        failed = [r for r in entries if math.isnan(r.validation_score)]
        ok.sort(key=lambda r: -r.validation_score if higher else r.validation_score)
        return ok + failed

    rules = [r for r in others if getattr(r, "kind", "candidate") == "rule"]
    candidates = [r for r in others if r not in rules]
    return best_first(candidates) + best_first(rules) + baseline


def _cells(row: Any) -> list[str]:
    trials = f"{row.trials}" + (f" ({row.pruned} pruned)" if row.pruned else "")
    params = row.error or ", ".join(f"{k}={_short(v)}" for k, v in row.shown_params.items())
    return [
        escape(row.name),
        f"{num(row.cv_mean)}±{row.cv_std:.3f}" if not math.isnan(row.cv_mean) else "-",
        num(row.validation_score),
        num(row.train_score),
        trials,
        f"{row.search_seconds:.1f}",
        f"{row.fit_seconds:.2f}",
        "-" if math.isnan(row.latency_ms) else f"{1000 * row.latency_ms:.1f}",
        f"{row.size_bytes / 1024:,.0f}",
        escape(params),
    ]


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    return str(value)


def distillation(result: Any) -> Table:
    """Teacher and student side by side: score, latency and size."""
    table = Table(
        title=f"Distillation ({result.metric}; the validation split decides)",
        title_justify="left",
        caption=f"drop {result.drop:+.4f} (allowed {result.max_drop:g})",
        caption_justify="left",
    )
    for name in ("model", "validation", "test", "µs/row", "size KB"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for side in (result.teacher, result.student):
        table.add_row(
            side.name,
            num(side.validation),
            num(side.test),
            f"{1000 * side.latency_ms:.1f}",
            f"{side.size_bytes / 1024:,.0f}",
        )
    return table


def fairness(found: Any) -> Table:
    """One row per sensitive column and group: count and rates (or errors); the differences
    and what was computed in the caption."""
    measures = [c for c in found.columns[0].by_group.columns if c != "count"]
    differences = [
        f"{c.column}: " + ", ".join(f"{name} {value:.4f}" for name, value in c.differences.items())
        for c in found.columns
        if c.differences
    ]
    table = Table(
        title="Fairness on the test rows (Fairlearn)",
        title_justify="left",
        caption=escape("; ".join([*differences, found.scope])),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("column")
    table.add_column("group")
    table.add_column("count", justify="right")
    for name in measures:
        table.add_column(name.replace("_", " "), justify="right")
    for column in found.columns:
        for group, row in column.by_group.iterrows():
            cells = [num(float(row[m])) for m in measures]
            count = f"{int(row['count']):,}"
            table.add_row(escape(column.column), escape(str(group)), count, *cells)
    return table
