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

Pure: frames and arrays in, a frame out. Producing the out-of-fold predictions lives in
``loopml.workflows.issues``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ("row", "given", "suggested", "score", "reason")
MIN_ROBUST_Z = 3.0
MAD_SCALE = 1.4826  # makes the median absolute deviation estimate a normal's SD


def from_probabilities(
    labels: pd.Series, proba: np.ndarray, classes: Sequence[Any], *, n_jobs: int = 1
) -> pd.DataFrame:
    """Label issues found by cleanlab on out-of-fold probabilities.

    ``labels``: shape (n_samples,), the given labels (index = row numbers); ``proba``: shape
    (n_samples, n_classes), columns in ``classes`` order. Returns the ``COLUMNS`` frame,
    most likely wrong first.
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
                    f"out-of-fold p({labels.iloc[i]!r}) = {given_p[i]:.3f}; the model says "
                    f"{classes[best]!r} ({proba[i, best]:.3f}) (cleanlab confident learning)"
                ),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def from_residuals(
    values: pd.Series, predicted: np.ndarray, *, min_robust_z: float = MIN_ROBUST_Z
) -> pd.DataFrame:
    """Regression rows whose out-of-fold residual is at least ``min_robust_z`` robust SDs.

    ``values``: shape (n_samples,), the given targets (index = row numbers);
    ``predicted``: the out-of-fold predictions in the same order.
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
                f"out-of-fold prediction {predicted[i]:.4g}, residual {residual[i]:+.4g} = "
                f"{z[i]:.1f} robust SDs (MAD)"
            ),
        }
        for i in order
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def conflicting_duplicates(frame: pd.DataFrame, features: list[str], target: str) -> pd.DataFrame:
    """Rows identical in every feature to other rows that carry another label."""
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
                        f"{', '.join(repr(v) for v in counts.index)} "
                        f"({', '.join(str(n) for n in counts)})"
                    ),
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def combine(found: list[pd.DataFrame], ids: pd.DataFrame) -> pd.DataFrame:
    """One table: ``row``, the id columns, ``given``, ``suggested``, ``score``, ``reason``.

    A row found twice keeps both reasons; rows are ranked by score (a classification
    score and a duplicate share are both in [0, 1]; regression ranks residuals first).
    """
    parts = [f for f in found if not f.empty]
    if not parts:
        return pd.DataFrame(columns=["row", *ids.columns, *COLUMNS[1:]])
    table = pd.concat(parts, ignore_index=True)
    table = table.groupby("row", sort=False, as_index=False).agg(
        given=("given", "first"),
        suggested=("suggested", "first"),
        score=("score", "max"),
        reason=("reason", "; ".join),
    )
    table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    with_ids = ids.loc[table["row"]].reset_index(drop=True)
    return pd.concat([table[["row"]], with_ids, table[list(COLUMNS[1:])]], axis=1)
