"""Rows whose given label is likely wrong: the data-centric half of the loop.

Three sources, one ranked table (most likely wrong first):

- **Classification**: out-of-fold predicted probabilities (each row scored by a model that
  did not see it) go to cleanlab's ``find_label_issues`` (confident learning: Northcutt,
  Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021),
  ranked by self-confidence; ``score`` is 1 - p(given label), so 0.97 means the model gave
  the given label 3% and ``suggested`` is its most probable class.
- **Regression**: the largest out-of-fold residuals; ``score`` is the residual in robust
  standard deviations (|residual| / (1.4826 * median |residual|), the MAD estimate), listed
  from ``min_robust_z`` (3) up; ``suggested`` is the out-of-fold prediction.
- **Exact duplicates with conflicting labels** (same feature values, different labels: at
  most one label can be right); ``score`` is the share of the identical rows that disagree
  with the row's label, ``suggested`` their most frequent label.
- **Near duplicates with conflicting labels**: rows whose nearest neighbour, in the model's
  preprocessed features (Euclidean), is closer than ``NEAR`` times the median
  nearest-neighbour distance (the rule of cleanlab Datalab's near-duplicate check) and
  carries another class (regression: a target more than ``MIN_ROBUST_Z`` robust SDs away);
  ``score`` is 1 - distance / (``NEAR`` x median), ``suggested`` the neighbour's label.
- **Outliers**: the ``OUTLIER_SHARE`` of rows least like the others, by cleanlab's
  ``OutOfDistribution`` score (average distance to the ``K`` nearest neighbours, mapped to
  (0, 1]); they are listed after the label issues, ``score`` is 1 - that score.

Pure: frames and arrays in, a frame out. Producing the out-of-fold predictions lives in
``loopml.workflows.issues``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ("row", "given", "suggested", "score", "reason")
NEAR = 0.13  # cleanlab Datalab's near_duplicate threshold, a fraction of the median distance
OUTLIER_SHARE = 0.01
K = 10  # neighbours of cleanlab's OutOfDistribution score
MIN_ROBUST_Z = 3.0
MAD_SCALE = 1.4826  # makes the median absolute deviation estimate a normal's SD


def from_probabilities(
    labels: pd.Series,
    proba: np.ndarray,
    classes: Sequence[Any],
    *,
    n_jobs: int = 1,
    source: str = "out-of-fold",
) -> pd.DataFrame:
    """Label issues found by cleanlab on out-of-fold probabilities.

    Confident learning (Northcutt, Jiang and Chuang, JAIR 2021) through
    ``cleanlab.filter.find_label_issues``, ranked by self-confidence (the probability of
    the given label, lowest first).

    Parameters
    ----------
    labels : pandas.Series, shape (n_samples,)
        The given labels; the index is the row numbers reported in ``row``. Each must be
        one of ``classes``; this is not checked here (another label gives a numpy or
        cleanlab error, or a meaningless result).
    proba : numpy.ndarray, shape (n_samples, n_classes)
        Probabilities in [0, 1], columns in ``classes`` order, from a model that did not
        see the rows.
    classes : sequence, length n_classes
    n_jobs : int, default 1
        Processes cleanlab may use.
    source : str, default "out-of-fold"
        How ``proba`` was obtained (out-of-fold, or held-out test rows), for ``reason``.

    Returns
    -------
    pandas.DataFrame
        The ``COLUMNS`` frame (row, given, suggested, score, reason), most likely wrong
        first: ``score`` = 1 - p(given label) in [0, 1], ``suggested`` the most probable
        class.
    """
    from cleanlab.filter import find_label_issues

    position = {c: i for i, c in enumerate(classes)}
    encoded = labels.map(position).to_numpy(dtype=int)
    ranked = find_label_issues(
        encoded, proba, return_indices_ranked_by="self_confidence", n_jobs=n_jobs
    )
    given_p = proba[np.arange(len(encoded)), encoded]
    rows = []
    for i in ranked:
        best = int(np.argmax(proba[i]))
        rows.append(
            {
                "row": labels.index[i],
                "given": labels.iloc[i],
                "suggested": classes[best],
                "score": round(float(1.0 - given_p[i]), 4),
                "reason": (
                    f"{source} p({_shown(labels.iloc[i])}) = {given_p[i]:.3f}; the model says "
                    f"{_shown(classes[best])} ({proba[i, best]:.3f}) (cleanlab confident learning)"
                ),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def from_residuals(
    values: pd.Series,
    predicted: np.ndarray,
    *,
    min_robust_z: float = MIN_ROBUST_Z,
    source: str = "out-of-fold",
) -> pd.DataFrame:
    """Regression rows whose out-of-fold residual is at least ``min_robust_z`` robust SDs.

    The scale is the median absolute deviation of the residuals times ``MAD_SCALE``
    (1.4826, consistent with a normal's SD); their standard deviation when the MAD is 0.

    Parameters
    ----------
    values : pandas.Series, shape (n_samples,)
        The given targets; the index is the row numbers.
    predicted : numpy.ndarray, shape (n_samples,)
        The out-of-fold predictions, in the same order.
    min_robust_z : float, default MIN_ROBUST_Z (3.0)
        Smallest |residual| / scale listed.
    source : str, default "out-of-fold"
        How ``predicted`` was obtained, for ``reason``.

    Returns
    -------
    pandas.DataFrame
        The ``COLUMNS`` frame, largest ``score`` (the robust z) first; ``suggested`` is the
        prediction rounded to 6 decimals.
    """
    residual = values.to_numpy(dtype=np.float64) - np.asarray(predicted, dtype=np.float64)
    scale = MAD_SCALE * float(np.median(np.abs(residual - np.median(residual))))
    z = np.abs(residual) / (scale if scale > 0 else max(float(np.std(residual)), 1e-12))
    order = [i for i in np.argsort(-z) if z[i] >= min_robust_z]
    rows = [
        {
            "row": values.index[i],
            "given": values.iloc[i],
            "suggested": round(float(predicted[i]), 6),
            "score": round(float(z[i]), 4),
            "reason": (
                f"{source} prediction {predicted[i]:.4g}, residual {residual[i]:+.4g} = "
                f"{z[i]:.1f} robust SDs (MAD)"
            ),
        }
        for i in order
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def conflicting_duplicates(frame: pd.DataFrame, features: list[str], target: str) -> pd.DataFrame:
    """Rows identical in every feature to other rows that carry another label.

    Rows are grouped by a hash of their feature values written as text.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        Holds ``features`` and ``target``; its index is the row numbers.
    features : list of str
        The columns compared.
    target : str
        The label column.

    Returns
    -------
    pandas.DataFrame
        The ``COLUMNS`` frame, one entry per row of a conflicting group, in group order:
        ``score`` is the share in [0, 1] of the group whose label differs from the row's,
        ``suggested`` the group's most frequent label.
    """
    keys = pd.util.hash_pandas_object(frame[features].astype(str), index=False)
    rows = []
    for _, group in frame.groupby(keys.to_numpy(), sort=False):
        labels = group[target]
        if len(group) < 2 or labels.nunique() < 2:
            continue
        counts = labels.value_counts()
        for row, label in labels.items():
            others = [str(r) for r in group.index if r != row]
            disagree = float((labels != label).mean())
            rows.append(
                {
                    "row": row,
                    "given": label,
                    "suggested": counts.index[0],
                    "score": round(disagree, 4),
                    "reason": (
                        f"exact duplicate of row(s) {', '.join(others[:5])} whose labels are "
                        f"{', '.join(_shown(v) for v in counts.index)} "
                        f"({', '.join(str(n) for n in counts)})"
                    ),
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def near_duplicates(features: np.ndarray, labels: pd.Series, task: str) -> pd.DataFrame:
    """Rows with a near neighbour of another label (see the module docstring).

    Nearest neighbours by Euclidean distance (``sklearn.neighbors.NearestNeighbors``);
    "near" is closer than ``NEAR`` times the median nearest-neighbour distance (the
    threshold of cleanlab Datalab's near-duplicate check). Exact duplicates (distance 0)
    are left to ``conflicting_duplicates``.

    Parameters
    ----------
    features : numpy.ndarray, shape (n_samples, n_features)
        Dense, the model's preprocessed features of the rows of ``labels``, in the same
        order.
    labels : pandas.Series, shape (n_samples,)
        The given labels (index = row numbers).
    task : {"classification", "regression"}
        Regression: a conflict is a target more than ``MIN_ROBUST_Z`` robust SDs (MAD)
        from the neighbour's.

    Returns
    -------
    pandas.DataFrame
        The ``COLUMNS`` frame: ``score`` = 1 - distance / radius in (0, 1], ``suggested``
        the neighbour's label. Empty for fewer than 3 rows.
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(labels)
    if n < 3:
        return pd.DataFrame(columns=list(COLUMNS))
    distances, neighbours = NearestNeighbors(n_neighbors=2).fit(features).kneighbors()
    nearest, other = distances[:, 0], neighbours[:, 0]
    radius = NEAR * max(float(np.median(nearest)), 1e-12)
    values = labels.to_numpy()
    if task == "classification":
        conflict = values != values[other]
    else:
        numbers = values.astype(float)
        spread = MAD_SCALE * float(np.median(np.abs(numbers - np.median(numbers))))
        conflict = np.abs(numbers - numbers[other]) > MIN_ROBUST_Z * max(spread, 1e-12)
    found = np.flatnonzero((nearest > 0) & (nearest < radius) & conflict)
    rows = [
        {
            "row": labels.index[i],
            "given": values[i],
            "suggested": values[other[i]],
            "score": round(1 - float(nearest[i]) / radius, 4),
            "reason": (
                f"near duplicate of row {labels.index[int(other[i])]} (distance {nearest[i]:.3g}, "
                f"under {NEAR} x the median {radius / NEAR:.3g}) labelled "
                f"{_shown(values[other[i]])}"
            ),
        }
        for i in found.tolist()
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def outliers(features: np.ndarray, labels: pd.Series) -> pd.DataFrame:
    """The ``OUTLIER_SHARE`` of rows (at least one) least like the others, by cleanlab's
    ``OutOfDistribution`` score on ``features`` (Euclidean ``K``-nearest neighbours);
    ``suggested`` is empty: the label may be right.

    Uses ``cleanlab.outlier.OutOfDistribution`` with a
    ``sklearn.neighbors.NearestNeighbors`` of ``K`` (10) neighbours.

    Parameters
    ----------
    features : numpy.ndarray, shape (n_samples, n_features)
        The model's preprocessed features, dense.
    labels : pandas.Series, shape (n_samples,)
        The given labels (index = row numbers).

    Returns
    -------
    pandas.DataFrame
        The ``COLUMNS`` frame, least typical first: ``score`` = 1 - the
        OutOfDistribution score (which is in (0, 1]). Empty for ``K`` rows or fewer.
    """
    from cleanlab.outlier import OutOfDistribution
    from sklearn.neighbors import NearestNeighbors

    n = len(labels)
    if n <= K:
        return pd.DataFrame(columns=list(COLUMNS))
    knn = NearestNeighbors(n_neighbors=K, metric="euclidean")
    scores = OutOfDistribution(params={"knn": knn}).fit_score(features=features, verbose=False)
    worst = np.argsort(scores, kind="stable")[: max(1, int(OUTLIER_SHARE * n))]
    values = labels.to_numpy()
    rows = [
        {
            "row": labels.index[i],
            "given": values[i],
            "suggested": "",
            "score": round(1 - float(scores[i]), 4),
            "reason": (
                f"outlier: among the {OUTLIER_SHARE:.0%} of rows least like the others "
                f"(cleanlab OutOfDistribution score {scores[i]:.3g}); check its values"
            ),
        }
        for i in worst.tolist()
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def combine(found: list[pd.DataFrame], ids: pd.DataFrame) -> pd.DataFrame:
    """One table: ``row``, the id columns, ``given``, ``suggested``, ``score``, ``reason``.

    A row found twice keeps both reasons; rows are ranked by score (a classification
    score and a duplicate share are both in [0, 1]; regression ranks residuals first).
    Label issues come before outliers.

    Parameters
    ----------
    found : list of pandas.DataFrame
        ``COLUMNS`` frames from the functions above; empty ones are skipped.
    ids : pandas.DataFrame
        The id columns, indexed by row number (must hold every ``row`` found).

    Returns
    -------
    pandas.DataFrame
        One entry per row: the highest score and the first given/suggested values
        (label issues before an outlier's); reasons joined with "; ".

    Raises
    ------
    KeyError
        A found ``row`` is not in ``ids``'s index.
    """
    parts = [f for f in found if not f.empty]
    if not parts:
        return pd.DataFrame(columns=["row", *ids.columns, *COLUMNS[1:]])
    table = pd.concat(parts, ignore_index=True)
    table["_label"] = ~table["reason"].str.startswith("outlier:")  # label issues go first
    table = table.groupby("row", sort=False, as_index=False).agg(
        given=("given", "first"),
        suggested=("suggested", "first"),  # the label issues' suggestion before an outlier's
        score=("score", "max"),
        reason=("reason", "; ".join),
        _label=("_label", "max"),
    )
    table = table.sort_values(["_label", "score"], ascending=False, kind="stable")
    table = table.drop(columns="_label").reset_index(drop=True)
    with_ids = ids.loc[table["row"]].reset_index(drop=True)
    return pd.concat([table[["row"]], with_ids, table[list(COLUMNS[1:])]], axis=1)


def _shown(label: Any) -> str:
    """A label as the user wrote it: 'yes', 1 (not np.int64(1))."""
    return repr(label.item() if isinstance(label, np.generic) else label)
