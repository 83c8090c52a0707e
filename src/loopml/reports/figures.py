"""Figures of the evaluation report: curves, calibration, slices, importance, learning."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn import metrics as skm

from loopml.core.evaluation.calibration import ReliabilityCurve
from loopml.core.evaluation.inspection import GlobalAttributions, Importance, LearningCurve
from loopml.core.evaluation.slices import SliceScore

MAX_CURVE_CLASSES = 10
MAX_POINTS = 2000
MAX_SLICES_SHOWN = 30
MAX_IMPORTANCE_SHOWN = 25
WEAK, OK, CHAMPION = "#d62728", "#4c78a8", "#999999"


def roc_and_pr(y: Any, proba: np.ndarray, classes: list[Any]) -> Figure:
    """ROC and precision-recall curves: the positive class, or one-vs-rest per class."""
    fig = Figure(figsize=(10, 4.3))
    roc_ax, pr_ax = fig.subplots(1, 2)
    y = np.asarray(y)
    shown = [classes[1]] if len(classes) == 2 else classes[:MAX_CURVE_CLASSES]
    for label in shown:
        column = proba[:, classes.index(label)]
        truth = y == label
        if truth.all() or not truth.any():
            continue
        fpr, tpr, _ = skm.roc_curve(truth, column)
        auc = skm.auc(fpr, tpr)
        roc_ax.plot(*_thin(fpr, tpr), label=f"{label} (AUC {auc:.3f})")
        precision, recall, _ = skm.precision_recall_curve(truth, column)
        ap = skm.average_precision_score(truth, column)
        pr_ax.plot(*_thin(recall, precision), label=f"{label} (AP {ap:.3f})")
    roc_ax.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1)
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve", ylim=(0, 1.02))
    for ax in (roc_ax, pr_ax):
        ax.legend(loc="lower right" if ax is roc_ax else "lower left", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most MAX_POINTS points of a curve, keeping both ends."""
    if len(x) <= MAX_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, MAX_POINTS).astype(int))
    return x[keep], y[keep]


def reliability(curve: ReliabilityCurve, ece: float) -> Figure:
    fig = Figure(figsize=(5.2, 4.6))
    ax, counts = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="perfectly calibrated")
    ax.plot(curve.confidence, curve.accuracy, marker="o", label=f"model (ECE {ece:.3f})")
    ax.set(ylabel="accuracy", title="Reliability (top-label)", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    counts.bar(curve.confidence, curve.counts, width=0.05, color=OK)
    counts.set(xlabel="confidence", ylabel="rows")
    fig.tight_layout()
    return fig


def coverage(
    levels: np.ndarray, covered: np.ndarray, precision: np.ndarray, chosen: float | None
) -> Figure:
    """Precision of the predictions kept vs the share of rows kept, as the threshold rises."""
    fig = Figure(figsize=(5.2, 3.8))
    ax = fig.subplots()
    ax.plot(*_thin(covered, precision), color=OK)
    if chosen is not None:
        at = int(np.argmin(np.abs(levels - chosen)))
        ax.scatter(
            [covered[at]], [precision[at]], color=WEAK, zorder=3, label=f"threshold {chosen:.3f}"
        )
        ax.legend(loc="lower left", fontsize=8)
    ax.set(
        xlabel="coverage (share of rows predicted)",
        ylabel="precision",
        title="Precision vs coverage",
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def slice_chart(
    scores: list[SliceScore], overall: float, metric: str, higher_is_better: bool
) -> Figure:
    """Each slice's metric, worst first; weak slices in red, the champion as grey ticks."""
    usable = [s for s in scores if s.value == s.value]
    usable.sort(key=lambda s: s.value if higher_is_better else -s.value)
    shown = usable[:MAX_SLICES_SHOWN]
    fig = Figure(figsize=(9, max(2.5, 0.28 * len(shown) + 1.2)))
    ax = fig.subplots()
    positions = np.arange(len(shown))[::-1]
    ax.barh(positions, [s.value for s in shown], color=[WEAK if s.weak else OK for s in shown])
    champion = [
        (p, s.champion) for p, s in zip(positions, shown, strict=True) if s.champion is not None
    ]
    if champion:
        ax.scatter(
            [c for _, c in champion],
            [p for p, _ in champion],
            marker="|",
            s=200,
            color=CHAMPION,
            label="champion",
            zorder=3,
        )
        ax.legend(loc="lower right", fontsize=8)
    ax.axvline(overall, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(positions, [f"{s.name} ({s.rows})" for s in shown], fontsize=8)
    ax.set(
        xlabel=f"{metric} (dashed: all test rows)",
        title=f"Slices, worst first ({len(shown)} of {len(scores)})",
    )
    fig.tight_layout()
    return fig


def importance(items: list[Importance], metric: str) -> Figure:
    shown = items[:MAX_IMPORTANCE_SHOWN]
    fig = Figure(figsize=(8, max(2.2, 0.3 * len(shown) + 1.0)))
    ax = fig.subplots()
    positions = np.arange(len(shown))[::-1]
    ax.barh(positions, [i.mean for i in shown], xerr=[i.std for i in shown], color=OK)
    ax.set_yticks(positions, [i.column for i in shown], fontsize=8)
    ax.axvline(0, color="gray", linewidth=1)
    ax.set(xlabel=f"drop in {metric} when the column is shuffled", title="Permutation importance")
    fig.tight_layout()
    return fig


def attributions(found: GlobalAttributions) -> Figure:
    """Mean |contribution| per input column over the explained test rows, largest on top."""
    shown = found.ranked()[:MAX_IMPORTANCE_SHOWN]
    fig = Figure(figsize=(8, max(2.2, 0.3 * len(shown) + 1.0)))
    ax = fig.subplots()
    positions = np.arange(len(shown))[::-1]
    ax.barh(positions, [value for _, value in shown], color=OK)
    ax.set_yticks(positions, [column for column, _ in shown], fontsize=8)
    space = found.summary.space.replace("_", " ")
    ax.set(
        xlabel=f"mean |contribution| ({space}) over {found.summary.rows} test rows",
        title="Global attributions",
    )
    fig.tight_layout()
    return fig


def learning(curve: LearningCurve) -> Figure:
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(curve.rows, curve.train, marker="o", label="train")
    ax.plot(curve.rows, curve.validation, marker="o", label="validation")
    ax.set(xlabel="training rows", ylabel=curve.metric, title="Learning curve")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def residual_histogram(y: Any, predicted: Any) -> Figure:
    residual = np.asarray(y, dtype=float) - np.asarray(predicted, dtype=float)
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    ax.hist(residual, bins=40, color=OK)
    ax.axvline(0, color="gray", linestyle="--", linewidth=1)
    ax.set(xlabel="actual - predicted", ylabel="rows", title="Residuals")
    fig.tight_layout()
    return fig
