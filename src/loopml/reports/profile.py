"""The data profile report (`loopml profile`): one self-contained HTML file."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from loopml.core.data.profile import DataProfile
from loopml.reports import html

MAX_HISTOGRAMS = 24
MAX_DRIFT_PLOTS = 6
PER_ROW = 4
COLORS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d")


ISSUES_SHOWN = 20


def render(
    found: DataProfile,
    header: dict[str, Any],
    seed: int = 0,
    issues: pd.DataFrame | None = None,
    issues_note: str = "",
) -> str:
    """The profile page; ``issues`` is the label-issue table (``workflows.issues``), with
    ``issues_note`` saying how it was made, or why it was not."""
    shown = None if issues is None else issues.head(ISSUES_SHOWN)
    return html.render(
        "profile.html.j2",
        p=found,
        h=header,
        issues=issues,
        issue_columns=[] if shown is None else [str(c) for c in shown.columns],
        issue_rows=[] if shown is None else [list(r) for r in shown.itertuples(index=False)],
        issues_note=issues_note,
        highlights=found.highlights(),
        figures=_figures(found),
        clouds=_word_clouds(found.words, seed),
        text_figures={c: html.image(text_lengths(t, c)) for c, t in found.text_lengths.items()},
        version=html.loopml_version(),
        generated=pd.Timestamp.now().strftime("%Y-%m-%d %H:%M"),
    )


def _figures(found: DataProfile) -> dict[str, str | None]:
    frame = found.frame
    made: dict[str, str | None] = {
        "labels": html.image(label_bars(found))
        if found.labels is not None
        else html.image(target_histogram(frame[found.target], found.target)),
        "missing": html.image(missing_bars(found.missing)) if found.missing else None,
        "histograms": html.image(histograms(frame, list(found.roles.numeric)))
        if found.roles.numeric
        else None,
        "correlations": html.image(correlation_map(found.correlations))
        if found.correlations is not None
        else None,
        "drift": None,
        "split_labels": html.image(split_label_bars(found.split_labels))
        if found.split_labels is not None
        else None,
    }
    drifting = [d["column"] for d in found.drift if d["kind"] == "numeric"][:MAX_DRIFT_PLOTS]
    if drifting:
        made["drift"] = html.image(train_test_histograms(found, drifting))
    return made


def label_bars(found: DataProfile) -> Figure:
    assert found.labels is not None
    counts = found.labels
    fig = Figure(figsize=(max(5.0, 0.5 * len(counts) + 2), 3.6))
    ax = fig.subplots()
    ax.bar([str(k) for k in counts.index], counts.to_numpy(), color=COLORS[0])
    for i, value in enumerate(counts.to_numpy()):
        ax.annotate(f"{value / counts.sum():.0%}", (i, value), ha="center", va="bottom", fontsize=8)
    ax.set(ylabel="rows", title=f"Label distribution of '{found.target}'")
    ax.tick_params(axis="x", labelrotation=30 if len(counts) > 4 else 0)
    fig.tight_layout()
    return fig


def target_histogram(values: pd.Series, target: str) -> Figure:
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    ax.hist(pd.to_numeric(values, errors="coerce").dropna(), bins=40, color=COLORS[0])
    ax.set(xlabel=target, ylabel="rows", title=f"Distribution of '{target}'")
    fig.tight_layout()
    return fig


def missing_bars(missing: list[dict[str, Any]]) -> Figure:
    shown = missing[:30]
    fig = Figure(figsize=(7, max(2.0, 0.3 * len(shown) + 1)))
    ax = fig.subplots()
    positions = np.arange(len(shown))[::-1]
    ax.barh(positions, [m["share"] for m in shown], color=COLORS[3])
    ax.set_yticks(positions, [m["column"] for m in shown], fontsize=8)
    ax.set(xlabel="share of rows missing", xlim=(0, 1), title="Missing values")
    fig.tight_layout()
    return fig


def _grid(count: int, per_row: int, width: float, height: float) -> tuple[Figure, list[Any]]:
    """A figure of ``count`` small plots, ``per_row`` a row; the unused cells hidden."""
    rows = math.ceil(count / per_row)
    fig = Figure(figsize=(width * per_row, height * rows))
    axes = list(np.atleast_1d(fig.subplots(rows, per_row, squeeze=False)).ravel())
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def histograms(frame: pd.DataFrame, columns: list[str]) -> Figure:
    shown = columns[:MAX_HISTOGRAMS]
    fig, axes = _grid(len(shown), PER_ROW, 3.2, 2.4)
    for ax, column in zip(axes, shown, strict=True):
        ax.hist(pd.to_numeric(frame[column], errors="coerce").dropna(), bins=30, color=COLORS[0])
        ax.set_title(column, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def correlation_map(matrix: pd.DataFrame) -> Figure:
    size = max(4.0, 0.35 * len(matrix) + 2)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.subplots()
    image = ax.imshow(matrix.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    labels = [str(c) for c in matrix.columns]
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    if len(labels) <= 12:
        for (i, j), value in np.ndenumerate(matrix.to_numpy()):
            color = "white" if abs(value) > 0.6 else "black"
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title("Correlations (Pearson)")
    fig.tight_layout()
    return fig


def text_lengths(table: pd.DataFrame, column: str) -> Figure:
    fig = Figure(figsize=(7, 3.4))
    ax = fig.subplots()
    groups = table["group"].value_counts().index[:8]
    upper = float(table["length"].quantile(0.99)) or 1.0
    bins = np.linspace(0, upper, 40).tolist()
    for i, group in enumerate(groups):
        lengths = table.loc[table["group"] == group, "length"].clip(upper=upper)
        ax.hist(
            lengths,
            bins=bins,
            histtype="step",
            linewidth=1.5,
            color=COLORS[i % len(COLORS)],
            label=str(group),
            density=True,
        )
    ax.set(
        xlabel=f"characters in '{column}'",
        ylabel="density",
        title=f"Text length of '{column}' by class",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _word_clouds(words: dict[str, dict[str, int]], seed: int) -> dict[str, str]:
    from wordcloud import WordCloud

    clouds = {}
    for group, frequencies in words.items():
        if not frequencies:
            continue
        cloud = WordCloud(
            width=420, height=240, background_color="white", random_state=seed, collocations=False
        ).generate_from_frequencies(frequencies)
        buffer = io.BytesIO()
        cloud.to_image().save(buffer, format="PNG")
        clouds[group] = html.png_uri(buffer.getvalue())
    return clouds


def train_test_histograms(found: DataProfile, columns: list[str]) -> Figure:
    fig, axes = _grid(len(columns), 3, 3.7, 2.8)
    train, test = found.splits.train, found.splits.test
    for ax, column in zip(axes, columns, strict=True):
        a = pd.to_numeric(train[column], errors="coerce").dropna()
        b = pd.to_numeric(test[column], errors="coerce").dropna()
        bins = np.histogram_bin_edges(pd.concat([a, b]), bins=30)
        ax.hist(a, bins=bins, density=True, alpha=0.5, label="train", color=COLORS[0])
        ax.hist(b, bins=bins, density=True, alpha=0.5, label="test", color=COLORS[1])
        ax.set_title(column, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def split_label_bars(shares: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(max(5.0, 0.6 * len(shares) + 3), 3.4))
    ax = fig.subplots()
    width = 0.8 / shares.shape[1]
    positions = np.arange(len(shares))
    for i, split_name in enumerate(shares.columns):
        ax.bar(positions + i * width, shares[split_name], width, label=split_name, color=COLORS[i])
    ax.set_xticks(
        positions + width, [str(k) for k in shares.index], rotation=30 if len(shares) > 4 else 0
    )
    ax.set(ylabel="share of rows", title="Class shares per split")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
