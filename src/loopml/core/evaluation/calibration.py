"""Probability calibration fitted on the validation split, and reliability curves.

The trained pipeline is frozen and wrapped in scikit-learn's ``CalibratedClassifierCV``,
so the calibrated model is still one estimator that pickles, registers and serves.
``auto`` tries sigmoid and isotonic and keeps the better one only if it lowers log loss
(by at least 1%, more than noise) on validation rows that its calibrator did not see
(cross-fitted within validation).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import StratifiedKFold

from loopml.core.evaluation.metrics import expected_calibration_error

METHODS = ("sigmoid", "isotonic")
MAX_FOLDS = 5
MIN_GAIN = 0.01  # auto keeps calibration only if held-out log loss drops by at least 1%


@dataclass(frozen=True)
class CalibrationOutcome:
    """What calibration did: the method kept and log loss / ECE before and after.

    Parameters
    ----------
    requested : str
        The configured method: "none", "sigmoid", "isotonic" or "auto".
    method : str
        "none", "sigmoid" or "isotonic": what the returned model uses.
    model : Any
        The returned model: ``sklearn.calibration.CalibratedClassifierCV`` around the
        frozen pipeline, or the pipeline itself when not calibrated.
    log_loss_before, log_loss_after : float
        Log loss on the validation rows, uncalibrated and cross-fitted calibrated (NaN
        when not measured).
    ece_before, ece_after : float
        Expected calibration error, in [0, 1], likewise.
    note : str, default ""
        Why calibration was kept or skipped.
    """

    requested: str
    method: str  # "none", "sigmoid" or "isotonic": what the returned model uses
    model: Any
    log_loss_before: float = float("nan")
    log_loss_after: float = float("nan")
    ece_before: float = float("nan")
    ece_after: float = float("nan")
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The fields except the model, as a plain dict (for reports).

        Returns
        -------
        dict of str to Any
        """
        return {
            "requested": self.requested,
            "method": self.method,
            "log_loss_before": self.log_loss_before,
            "log_loss_after": self.log_loss_after,
            "ece_before": self.ece_before,
            "ece_after": self.ece_after,
            "note": self.note,
        }


@dataclass(frozen=True)
class ReliabilityCurve:
    """Top-label reliability: mean confidence vs accuracy per confidence bin.

    Only non-empty bins are kept; the three arrays have the same length (n_filled,).

    Parameters
    ----------
    confidence : numpy.ndarray of float
        Mean highest class probability of the rows in each bin, in [0, 1].
    accuracy : numpy.ndarray of float
        Share of those rows whose argmax class is right, in [0, 1].
    counts : numpy.ndarray of int
        Rows per bin.
    """

    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray


def reliability_curve(y: Any, proba: np.ndarray, classes: Any, bins: int = 10) -> ReliabilityCurve:
    """Top-label reliability curve: per confidence bin, mean confidence against accuracy.

    A reliability diagram (Guo et al., "On Calibration of Modern Neural Networks", 2017)
    of the highest class probability; unlike ``sklearn.calibration.calibration_curve`` it
    takes every class's probabilities, not one positive class.

    Parameters
    ----------
    y : array-like, shape (n_rows,)
        True labels.
    proba : numpy.ndarray, shape (n_rows, n_classes)
        Class probabilities in [0, 1], columns in ``classes`` order.
    classes : array-like, shape (n_classes,)
    bins : int, default 10
        Equal-width bins over [0, 1]; bin ``k`` holds confidences in
        (k/bins, (k+1)/bins], the first also 0.

    Returns
    -------
    ReliabilityCurve
        Non-empty bins only.
    """
    confidence = np.asarray(proba, dtype=float).max(axis=1)
    correct = np.asarray(classes)[np.asarray(proba).argmax(axis=1)] == np.asarray(y)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    filled = counts > 0
    mean_conf = np.bincount(which, weights=confidence, minlength=bins)[filled] / counts[filled]
    accuracy = np.bincount(which, weights=correct, minlength=bins)[filled] / counts[filled]
    return ReliabilityCurve(mean_conf, accuracy, counts[filled])


def calibrate(
    model: Any, features: pd.DataFrame, labels: pd.Series, method: str, seed: int = 0
) -> CalibrationOutcome:
    """Calibrate ``model`` on validation rows with ``method`` (none/sigmoid/isotonic/auto).

    The model is wrapped as ``sklearn.frozen.FrozenEstimator`` in
    ``sklearn.calibration.CalibratedClassifierCV``: sigmoid is Platt scaling (Platt 1999),
    isotonic is isotonic regression (Zadrozny and Elkan 2002). Each method is first
    scored by the log loss of cross-fitted probabilities (stratified folds within the
    validation rows, at most ``MAX_FOLDS``, each row calibrated without itself); "auto"
    keeps the better of the two only if it lowers log loss by at least ``MIN_GAIN`` (1%).
    The kept calibrator is then refitted on all validation rows.

    Parameters
    ----------
    model : Any
        A fitted classifier pipeline with ``predict_proba`` and ``classes_``.
    features : pandas.DataFrame, shape (n_rows, n_features)
        Validation rows.
    labels : pandas.Series, shape (n_rows,)
        Their true labels.
    method : {"none", "sigmoid", "isotonic", "auto"}
    seed : int, default 0
        Shuffle seed of the cross-fitting folds.

    Returns
    -------
    CalibrationOutcome
        Uncalibrated (method "none", with a note) when ``method`` is "none", the model
        gives no probabilities, or a class has fewer than 2 validation rows.
    """
    if method == "none":
        return CalibrationOutcome(method, "none", model)
    problem = _cannot_calibrate(model, labels)
    if problem:
        return CalibrationOutcome(method, "none", model, note=problem)
    classes = np.asarray(model.classes_)
    y = np.asarray(labels)
    before = np.asarray(model.predict_proba(features))
    tried = {m: _cross_fitted_proba(model, features, y, m, seed) for m in _methods(method)}
    scores = {m: _log_loss(y, p, classes) for m, p in tried.items()}
    best = min(scores, key=lambda m: scores[m])
    loss_before = _log_loss(y, before, classes)
    common = {
        "log_loss_before": loss_before,
        "log_loss_after": scores[best],
        "ece_before": expected_calibration_error(y, before, classes),
        "ece_after": expected_calibration_error(y, tried[best], classes),
    }
    helps = scores[best] < (1 - MIN_GAIN) * loss_before
    if method == "auto" and not helps:
        note = f"kept uncalibrated: {best} did not lower held-out log loss by {MIN_GAIN:.0%}"
        return CalibrationOutcome(method, "none", model, note=note, **common)
    fitted = _calibrated(model, best).fit(features, y)
    note = f"{best} lowers held-out log loss" if helps else ""
    return CalibrationOutcome(method, best, fitted, note=note, **common)


def _methods(method: str) -> tuple[str, ...]:
    return METHODS if method == "auto" else (method,)


def _cannot_calibrate(model: Any, labels: pd.Series) -> str:
    if not hasattr(model, "predict_proba"):
        return "the model gives no probabilities to calibrate"
    counts = labels.value_counts()
    missing = [c for c in model.classes_ if c not in counts.index]
    if missing:
        return f"the validation split has no rows of class '{missing[0]}'; not calibrated"
    if counts.min() < 2:
        return f"the validation split has 1 row of class '{counts.idxmin()}'; not calibrated"
    return ""


def _calibrated(model: Any, method: str) -> CalibratedClassifierCV:
    return CalibratedClassifierCV(FrozenEstimator(model), method=method)


def _cross_fitted_proba(
    model: Any, features: pd.DataFrame, y: np.ndarray, method: str, seed: int
) -> np.ndarray:
    """Each validation row's calibrated probabilities, from a calibrator fitted without it."""
    folds = min(MAX_FOLDS, int(pd.Series(y).value_counts().min()))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    proba = np.zeros((len(y), len(model.classes_)))
    for fit_rows, held_rows in splitter.split(features, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calibrated = _calibrated(model, method).fit(features.iloc[fit_rows], y[fit_rows])
        proba[held_rows] = _aligned(calibrated, features.iloc[held_rows], model.classes_)
    return proba


def _aligned(calibrated: Any, features: pd.DataFrame, classes: Any) -> np.ndarray:
    """Probabilities in the column order of ``classes`` (a fold may lack a class)."""
    raw = np.asarray(calibrated.predict_proba(features))
    out = np.zeros((len(features), len(classes)))
    for j, label in enumerate(calibrated.classes_):
        out[:, list(classes).index(label)] = raw[:, j]
    return out


def _log_loss(y: np.ndarray, proba: np.ndarray, classes: Any) -> float:
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return float(skm.log_loss(y, clipped, labels=list(classes)))
