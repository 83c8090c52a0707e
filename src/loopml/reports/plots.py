"""Plots logged with every run: a confusion matrix or a residual plot."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure  # figures without pyplot: no global state, no window
from sklearn.metrics import ConfusionMatrixDisplay


def confusion_matrix(y_true: Any, y_pred: Any, labels: Any, title: str) -> Figure:
    """Counts of true vs predicted class, with row-normalised colours."""
    size = max(4.0, 0.6 * len(labels) + 2.5)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.subplots()
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=labels, ax=ax, colorbar=False, xticks_rotation=45, cmap="Blues"
    )
    for label in ax.get_xticklabels():  # long class names end under their column
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def residuals(y_true: Any, y_pred: Any, title: str) -> Figure:
    """Predicted vs actual, and residuals vs predicted."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    fig = Figure(figsize=(10, 4.5))
    left, right = fig.subplots(1, 2)
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    left.scatter(y_true, y_pred, s=8, alpha=0.5)
    left.plot([low, high], [low, high], color="gray", linestyle="--", linewidth=1)
    left.set(xlabel="actual", ylabel="predicted", title="predicted vs actual")
    right.scatter(y_pred, y_true - y_pred, s=8, alpha=0.5)
    right.axhline(0, color="gray", linestyle="--", linewidth=1)
    right.set(xlabel="predicted", ylabel="actual - predicted", title="residuals")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
