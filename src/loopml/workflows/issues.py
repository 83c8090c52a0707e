"""`loopml data issues`: rows whose given label is likely wrong, ranked (``core.label_issues``).

The out-of-fold predictions come from the configuration of a registered model (default: the
challenger, the tuned winner of the latest training): its pipeline is cloned unfitted (a
calibrated model's inner pipeline) and cross-validated over every labelled row of the
current data with ``tuning.cv.folds`` folds (stratified for classes), ``split.seed``, so each
row is predicted by a model that never saw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV

from loopml.config import CVConfig, ProjectConfig
from loopml.core import label_issues, tuning
from loopml.core.explain import uncalibrated
from loopml.errors import storage_error
from loopml.tracking import registry
from loopml.tracking.models import load as load_model
from loopml.tracking.store import Tracker
from loopml.workflows.events import Reporter, SilentReporter
from loopml.workflows.prepare import Prepared, prepare


@dataclass(frozen=True)
class IssuesResult:
    table: pd.DataFrame  # row, id columns, given, suggested, score, reason; most likely first
    task: str
    rows: int  # labelled rows examined
    model: str  # whose configuration predicted out of fold
    folds: int
    output: Path | None


def find_issues(
    cfg: ProjectConfig,
    ref: str | None = None,
    *,
    output: Path | None = None,
    reporter: Reporter | None = None,
) -> IssuesResult:
    """Rank the rows of ``data.source`` whose label is likely wrong; write ``output`` (CSV).

    Raises ``ModelNotFoundError`` when no model is registered (train one first) and
    ``StorageError`` when ``output`` cannot be written.
    """
    reporter = reporter or SilentReporter()
    tracker = Tracker.from_config(cfg)
    found = registry.resolve(tracker, ref)
    label = found.describe()
    reporter.stage(f"Loading {label} (run {found.run_id}): its configuration, unfitted")
    model = load_model(found.uri, tracking_uri=cfg.tracking.uri)
    data = prepare(cfg, reporter)
    X = model.conform(data.frame)
    table, folds = rank_rows(_unfitted(model.pipeline), model.pipeline, X, data, cfg, reporter)
    if output is not None:
        write_csv(table, output)
    return IssuesResult(table, data.task, len(data.frame), label, folds, output)


def rank_rows(
    unfitted: Any,
    fitted: Any,
    X: pd.DataFrame,
    data: Prepared,
    cfg: ProjectConfig,
    reporter: Reporter,
) -> tuple[pd.DataFrame, int]:
    """Every labelled row of ``data`` ranked by how likely its label is wrong (see
    ``core.label_issues``): ``unfitted`` is fitted ``tuning.cv.folds`` times for out-of-fold
    predictions of ``X`` (the features read by the contract); ``fitted``'s preprocessing
    places the rows for near duplicates and outliers. Returns the table and the folds."""
    frame, target = data.frame, data.target
    y = frame[target]
    cv = CVConfig(folds=cfg.tuning.cv.folds, kind="auto")
    folds = tuning.make_folds(cv, frame, target, data.task, cfg.split.seed, time_ordered=False)
    predicted = _out_of_fold(unfitted, X, y, folds, data.task, reporter)
    reporter.stage("Ranking the rows")
    if data.task == "classification":
        classes = list(np.unique(y.to_numpy()))  # _out_of_fold's column order
        first = label_issues.from_probabilities(y, predicted, classes)
    else:
        first = label_issues.from_residuals(y, predicted)
    duplicates = label_issues.conflicting_duplicates(frame, list(X.columns), target)
    parts = [first, duplicates]
    encoded, why_not = _neighbour_space(fitted, X)
    if encoded is None:
        reporter.warn(f"near duplicates and outliers not searched: {why_not}")
    else:
        reporter.stage(f"Searching near duplicates and outliers ({why_not})")
        parts.append(label_issues.near_duplicates(encoded, y, data.task))
        parts.append(label_issues.outliers(encoded, y))
    return label_issues.combine(parts, frame[list(data.roles.id)]), len(folds)


MAX_NEIGHBOUR_ROWS = 50_000  # nearest neighbours of every row: n² distances beyond this
DENSE_VALUES = 20_000_000  # rows x features kept dense (160 MB); more: TruncatedSVD
SVD_COMPONENTS = 100


def _neighbour_space(pipeline: Any, X: pd.DataFrame) -> tuple[np.ndarray | None, str]:
    """The rows in the registered model's preprocessed features (dense; a wide sparse
    matrix reduced by scikit-learn's ``TruncatedSVD``), and how; (None, why) without."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.pipeline import Pipeline

    inner, _ = uncalibrated(pipeline)
    if not isinstance(inner, Pipeline) or len(inner.steps) < 2:
        return None, "the model has no preprocessing to measure distances in (a rule?)"
    if len(X) > MAX_NEIGHBOUR_ROWS:
        return None, f"{len(X):,} rows > {MAX_NEIGHBOUR_ROWS:,} (n² distances)"
    encoded = inner[:-1].transform(X)
    width = encoded.shape[1]
    if not hasattr(encoded, "toarray"):
        return np.asarray(encoded, dtype=float), f"{width} preprocessed features, Euclidean"
    if encoded.shape[0] * width <= DENSE_VALUES:
        return encoded.toarray(), f"{width} preprocessed features, Euclidean"
    reduced = TruncatedSVD(n_components=SVD_COMPONENTS, random_state=0).fit_transform(encoded)
    return reduced, f"{width} preprocessed features reduced to {SVD_COMPONENTS} by TruncatedSVD"


def _unfitted(pipeline: Any) -> Any:
    """The registered configuration, unfitted (a calibrated model: the pipeline inside)."""
    if isinstance(pipeline, CalibratedClassifierCV):
        frozen = pipeline.estimator
        pipeline = getattr(frozen, "estimator", frozen)
    return clone(pipeline)


def _out_of_fold(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    folds: tuning.Folds,
    task: str,
    reporter: Reporter,
) -> np.ndarray:
    """Each row's probabilities (classes) or value from the fold that left it out."""
    classes = np.unique(y.to_numpy())
    out = np.zeros((len(y), len(classes))) if task == "classification" else np.zeros(len(y))
    reporter.progress("out-of-fold predictions", 0, len(folds))
    for done, (train, held) in enumerate(folds, start=1):
        fitted = clone(model).fit(X.iloc[train], y.iloc[train])
        if task == "classification":
            proba = fitted.predict_proba(X.iloc[held])
            columns = np.searchsorted(classes, np.asarray(fitted.classes_))
            out[np.ix_(held, columns)] = proba
        else:
            out[held] = np.asarray(fitted.predict(X.iloc[held]), dtype=np.float64)
        reporter.progress("out-of-fold predictions", done, len(folds))
    return out


def write_csv(table: pd.DataFrame, output: Path) -> None:
    """Write the CSV whole or not at all (a temporary file renamed into place)."""
    partial = output.with_name(f".{output.name}.partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(partial, index=False)
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise storage_error(exc, output) or exc from None
