"""Check the evaluation, behavioral and gate settings against the data, before any training.

A slice expression that does not evaluate, a behavioral test on a missing column or a gate
metric of the wrong task is a one-line ConfigError naming the key, raised before anything
is fitted, logged or registered.
"""

from __future__ import annotations

import pandas as pd

from loopml.config import ProjectConfig, Task
from loopml.core.evaluation import behavioral, fairness, gate, metrics, slices
from loopml.errors import ConfigError


def check(cfg: ProjectConfig, frame: pd.DataFrame, task: Task, selection: metrics.Metric) -> None:
    """Check the evaluation, behavioural and gate settings against the data, before training.

    Parameters
    ----------
    cfg : loopml.config.ProjectConfig
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The data, typed (every row).
    task : {"classification", "regression"}
    selection : loopml.core.evaluation.metrics.Metric
        The selection metric.

    Raises
    ------
    loopml.errors.ConfigError
        Calibration or a confidence threshold for regression; a gate rule on an unknown,
        wrong-task or upside-down metric (``gate.check_config``); a slice expression that
        does not evaluate; an unusable sensitive column or ``pos_label``
        (``fairness.check``); a behavioural test on a missing or non-numeric column
        (``behavioral.check``).
    """
    evaluation = cfg.evaluation
    if task == "regression":
        if evaluation.calibration != "none":
            raise ConfigError(
                f"evaluation.calibration: '{evaluation.calibration}' calibrates class "
                "probabilities; this project is regression, so remove it or set none"
            )
        if evaluation.threshold is not None:
            raise ConfigError(
                "evaluation.threshold: a confidence threshold needs class probabilities; "
                "this project is regression, so remove it"
            )
    gate.check_config(cfg.gate, task, selection, sensitive=evaluation.sensitive)
    slices.declared(frame, evaluation.slices)
    classes = sorted(frame[cfg.data.target].dropna().unique().tolist(), key=str)
    fairness.check(evaluation, frame, cfg.data.target, task, classes)
    behavioral.check(cfg.behavioral, frame, task, classes if task == "classification" else [])
