"""Confidence threshold: below it a classifier abstains or gives a fallback label.

The threshold is chosen on the validation split (a fixed ``min_confidence``, or the lowest
confidence whose accepted predictions reach ``target_precision``), stored with the model
and applied by ``ScoringModel`` wherever the model scores: ``load_model``, serving, batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.config import ThresholdConfig


@dataclass(frozen=True)
class Threshold:
    """A classifier's confidence threshold, stored with the model.

    Parameters
    ----------
    min_confidence : float
        Probability in [0, 1]: a row whose highest class probability is below it abstains.
    fallback_label : Any, default None
        The label given to an abstaining row; None gives no prediction.
    target_precision : float or None, default None
        The validation precision the threshold was chosen for, if it was chosen that way.
    """

    min_confidence: float
    fallback_label: Any = None  # None: abstain (no prediction)
    target_precision: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (stored with the model).

        Returns
        -------
        dict of str to Any
        """
        return {
            "min_confidence": self.min_confidence,
            "fallback_label": self.fallback_label,
            "target_precision": self.target_precision,
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any] | None) -> Threshold | None:
        """The threshold stored by ``as_dict``; None for None or an empty dict.

        Parameters
        ----------
        value : dict of str to Any or None
            Needs ``min_confidence``; ``fallback_label`` and ``target_precision`` are optional.

        Returns
        -------
        Threshold or None

        Raises
        ------
        KeyError
            A non-empty ``value`` without ``min_confidence``.
        """
        if not value:
            return None
        return cls(
            float(value["min_confidence"]),
            value.get("fallback_label"),
            value.get("target_precision"),
        )


@dataclass(frozen=True)
class Selective:
    """Coverage (share of rows given a prediction) and precision of those predictions.

    Parameters
    ----------
    threshold : float
        The confidence threshold, a probability in [0, 1].
    coverage : float
        Share in [0, 1] of rows whose confidence is at or above it.
    precision : float
        Accuracy in [0, 1] of the covered rows' argmax predictions (NaN when none is covered).
    rows : int
        Rows evaluated.
    """

    threshold: float
    coverage: float
    precision: float
    rows: int

    def as_dict(self) -> dict[str, float]:
        """The fields as a plain dict (for reports).

        Returns
        -------
        dict of str to float
        """
        return {
            "threshold": self.threshold,
            "coverage": self.coverage,
            "precision": self.precision,
            "rows": self.rows,
        }


def confidence(proba: np.ndarray) -> np.ndarray:
    """Each row's confidence: its highest class probability.

    Parameters
    ----------
    proba : array-like, shape (n_rows, n_classes)
        Class probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray of float, shape (n_rows,)
    """
    return np.asarray(proba, dtype=float).max(axis=1)


def apply(
    predicted: np.ndarray, proba: np.ndarray, threshold: Threshold
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions with the fallback (or None) below the threshold, and which rows abstained.

    Parameters
    ----------
    predicted : array-like, shape (n_rows,)
        The model's labels.
    proba : array-like, shape (n_rows, n_classes)
        Class probabilities in [0, 1].
    threshold : Threshold

    Returns
    -------
    predictions : numpy.ndarray of object, shape (n_rows,)
        A copy of ``predicted`` with ``fallback_label`` where confidence < ``min_confidence``.
    abstained : numpy.ndarray of bool, shape (n_rows,)
    """
    abstained = confidence(proba) < threshold.min_confidence
    out = np.asarray(predicted, dtype=object).copy()
    out[abstained] = threshold.fallback_label
    return out, abstained


def selective(y: Any, proba: np.ndarray, classes: Any, min_confidence: float) -> Selective:
    """Coverage and precision of the predictions at or above ``min_confidence``.

    Parameters
    ----------
    y : array-like, shape (n_rows,)
        True labels.
    proba : array-like, shape (n_rows, n_classes)
        Class probabilities, columns in ``classes`` order.
    classes : array-like, shape (n_classes,)
    min_confidence : float
        Probability in [0, 1].

    Returns
    -------
    Selective
    """
    conf = confidence(proba)
    correct = _correct(y, proba, classes)
    kept = conf >= min_confidence
    precision = float(correct[kept].mean()) if kept.any() else float("nan")
    return Selective(min_confidence, float(kept.mean()), precision, len(conf))


def curve(y: Any, proba: np.ndarray, classes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(threshold, coverage, precision) at every distinct confidence, highest first.

    This is the risk-coverage curve of selective classification: keeping the rows whose
    confidence is at least each threshold.

    Parameters
    ----------
    y : array-like, shape (n_rows,)
        True labels.
    proba : array-like, shape (n_rows, n_classes)
        Class probabilities, columns in ``classes`` order.
    classes : array-like, shape (n_classes,)

    Returns
    -------
    thresholds, coverage, precision : numpy.ndarray of float, shape (n_distinct,)
        Distinct confidences in decreasing order, the share of rows at or above each, and
        the accuracy of the argmax predictions on those rows.
    """
    conf = confidence(proba)
    order = np.argsort(-conf, kind="stable")
    sorted_conf, hits = conf[order], _correct(y, proba, classes)[order].astype(float)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    last_of_value = np.r_[sorted_conf[1:] != sorted_conf[:-1], True]
    coverage = np.arange(1, len(hits) + 1) / len(hits)
    return sorted_conf[last_of_value], coverage[last_of_value], precision[last_of_value]


def choose(
    cfg: ThresholdConfig, y: Any, proba: np.ndarray, classes: Any
) -> tuple[Threshold, Selective, str]:
    """The threshold for ``cfg`` on validation rows, its coverage/precision and a warning.

    A fixed ``cfg.min_confidence`` is used as is. Otherwise the threshold is the lowest
    confidence whose covered rows reach ``cfg.target_precision`` (1.0 if unset); when no
    confidence reaches it, the one with the highest precision, with a warning.

    Parameters
    ----------
    cfg : loopml.config.ThresholdConfig
        The ``evaluation.threshold`` section.
    y : array-like, shape (n_rows,)
        True labels of the validation rows.
    proba : array-like, shape (n_rows, n_classes)
        Class probabilities, columns in ``classes`` order.
    classes : array-like, shape (n_classes,)

    Returns
    -------
    threshold : Threshold
    selective : Selective
        Coverage and precision at that threshold on these rows.
    warning : str
        "" unless the target precision is not reached.
    """
    if cfg.min_confidence is not None:
        threshold = Threshold(cfg.min_confidence, cfg.fallback_label)
        return threshold, selective(y, proba, classes, cfg.min_confidence), ""
    target = float(cfg.target_precision or 1.0)
    levels, _, precision = curve(y, proba, classes)
    reaching = np.flatnonzero(precision >= target)
    warning = ""
    if len(reaching):
        level = float(levels[reaching[-1]])  # the lowest confidence, so the widest coverage
    else:
        best = int(np.argmax(precision))
        level = float(levels[best])
        warning = (
            f"evaluation.threshold.target_precision {target:g} is not reached on the validation "
            f"split (best {precision[best]:.3f}); using confidence {level:.3f}, the most precise"
        )
    threshold = Threshold(level, cfg.fallback_label, target)
    return threshold, selective(y, proba, classes, level), warning


def _correct(y: Any, proba: np.ndarray, classes: Any) -> np.ndarray:
    predicted = np.asarray(classes)[np.asarray(proba).argmax(axis=1)]
    return np.asarray(predicted == np.asarray(y), dtype=bool)
