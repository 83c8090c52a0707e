"""Tables the CLI prints (part of the CLI edge): the training leaderboard."""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from loopml.core.evaluation.metrics import METRICS

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
    params = row.error or ", ".join(f"{k}={_short(v)}" for k, v in row.params.items())
    return [
        escape(row.name),
        f"{_num(row.cv_mean)}±{row.cv_std:.3f}" if not math.isnan(row.cv_mean) else "-",
        _num(row.validation_score),
        _num(row.train_score),
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


def _num(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"


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
            _num(side.validation),
            _num(side.test),
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
            cells = [_num(float(row[m])) for m in measures]
            count = f"{int(row['count']):,}"
            table.add_row(escape(column.column), escape(str(group)), count, *cells)
    return table
