"""The learning-curve plot: training and validation score against training-set size."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from loopml.core.learning_curve import LearningCurve, reading


def plot(curve: LearningCurve, model_name: str) -> Figure:
    """Mean ± std over the folds at each size, with the one-line reading as a caption."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    sizes = np.asarray(curve.sizes)
    for label, mean, std, color in (
        ("training", curve.train_mean, curve.train_std, "tab:blue"),
        ("validation (CV)", curve.valid_mean, curve.valid_std, "tab:orange"),
    ):
        mean_a, std_a = np.asarray(mean), np.asarray(std)
        ax.plot(sizes, mean_a, marker="o", color=color, label=label)
        ax.fill_between(sizes, mean_a - std_a, mean_a + std_a, color=color, alpha=0.15)
    ax.set(
        xlabel="training rows",
        ylabel=curve.metric,
        title=f"Learning curve of {model_name} ({curve.folds} folds)",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.text(0.01, 0.01, reading(curve), fontsize=8, style="italic")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
