"""The fairness part of the evaluation report: per-group bars and tables, and their files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from loopml.core.evaluation.fairness import ColumnFairness, Fairness

COLOURS = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b")
MAX_GROUPS_SHOWN = 25


def chart(found: Fairness) -> Figure:
    """One panel per sensitive column: a bar per group for each rate (or error), side by side."""
    shown = found.columns
    fig = Figure(figsize=(9.5, 3.4 * len(shown)))
    axes = np.atleast_1d(fig.subplots(len(shown), 1, squeeze=False)[:, 0])
    for ax, column in zip(axes, shown, strict=True):
        _panel(ax, column)
    fig.tight_layout()
    return fig


def _panel(ax: Any, column: ColumnFairness) -> None:
    table = column.by_group.head(MAX_GROUPS_SHOWN)
    measures = [c for c in table.columns if c != "count"]
    x = np.arange(len(table))
    width = 0.8 / max(len(measures), 1)
    for i, measure in enumerate(measures):
        ax.bar(
            x + (i - (len(measures) - 1) / 2) * width,
            table[measure].fillna(0.0).to_numpy(),
            width,
            label=measure.replace("_", " "),
            color=COLOURS[i % len(COLOURS)],
        )
    ax.set_xticks(x, [f"{g}\n(n={n})" for g, n in zip(table.index, table["count"], strict=True)])
    title = f"'{column.column}'"
    if column.differences:
        title += ": " + ", ".join(
            f"{name.replace('_', ' ')} {value:.3f}" for name, value in column.differences.items()
        )
    ax.set_title(title, fontsize=10)
    if all(m.endswith(("rate", "accuracy")) for m in measures):
        ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)


def table(column: ColumnFairness) -> dict[str, Any]:
    """A column's groups as the report's table shows them: header and rows of cells."""
    frame = column.by_group.reset_index()
    return {
        "column": column.column,
        "header": [str(c) for c in frame.columns],
        "rows": frame.to_numpy(dtype=object).tolist(),
        "differences": column.differences,
        "notes": column.notes,
    }


def write_files(found: Fairness, folder: Path) -> list[Path]:
    """``fairness.json`` (everything) and one ``<column>.csv`` of groups per sensitive column."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / "fairness.json"]
    files[0].write_text(json.dumps(found.as_dict(), indent=2, default=str), encoding="utf-8")
    for column in found.columns:
        path = folder / f"{safe_name(column.column)}.csv"
        column.by_group.to_csv(path)
        files.append(path)
    return files


def safe_name(column: str) -> str:
    """A column name usable in a file or MLflow metric name (letters, digits, ``_.-``)."""
    return re.sub(r"[^\w.\-]", "_", column) or "_"
