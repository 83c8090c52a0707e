"""Which served rows are worth a human label: the labelling queue (active learning).

From rows of the prediction log (one per served row, with the model's prediction and, for
a classifier, its class probabilities), pick at most ``max_rows``, most useful first:

1. **abstained**: the model withheld its answer (below ``min_confidence``): these are the
   rows the service could not serve, so every one is queued first, least confident first.
2. **uncertain**: margin sampling (Scheffer, Decomain and Wrobel, "Active hidden Markov
   models for information extraction", IDA 2001; Settles, "Active Learning Literature
   Survey", 2009, sec. 3.1): the smallest gap between the two most probable classes.
   Classifiers only: a regressor gives no probabilities.
3. **drifted region**: rows whose value falls where traffic is much denser than training
   data, in a column the drift test flagged: the ratio of the region's (about a tenth of
   the training rows, or a category) share of current rows to its share of training rows;
   values beyond the training range and unseen categories first, and a row unusual in
   several drifted columns (by the sum of their log ratios) before a row unusual in one.
   These are the rows the model learnt least about.

Uncertain and drifted rows are taken in turn, one of each, so neither crowds the other
out; when they run out, a random sample of the other rows fills the queue (exploration:
labels of typical traffic help too, and a regressor that sees no drift has no other
signal). Rows with the same input values are queued once; rows already labelled never.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from loopml.core.drift import psi_groups
from loopml.core.reference import CategoricalSummary, NumericSummary, ReferenceProfile

MIN_RATIO = 2.0  # a drifted region: at least twice as dense in traffic as in training
ABSTAINED, UNCERTAIN, DRIFTED = "abstained", "uncertain", "drifted region"
RANDOM = "random: no other row stands out; a random sample keeps the labels representative"


@dataclass(frozen=True)
class Queue:
    """The chosen rows (positions into the rows given, most useful first) and why each.

    Parameters
    ----------
    positions : list of int
        0-based positions into the ``rows`` given to ``choose``.
    reasons : list of str
        Why each was chosen; starts with "abstained", "uncertain", "drifted region" or
        "random".
    scores : list of float
        Abstained/uncertain: 1 - margin, in [0, 1]; drifted: the density ratio; random: 0.
    considered : int
        Rows not labelled yet.
    notes : list of str
        What could not be used, and why.
    """

    positions: list[int]
    reasons: list[str]
    scores: list[float]  # abstained/uncertain: 1 - margin; drifted: the density ratio
    considered: int  # rows not labelled yet
    notes: list[str]  # what could not be used, and why

    def counts(self) -> dict[str, int]:
        """How many rows were chosen for each reason.

        Returns
        -------
        dict of str to int
            Keys "abstained", "uncertain", "drifted region" and "random".
        """
        kinds = [r.split(":")[0] for r in self.reasons]
        return {k: kinds.count(k) for k in (ABSTAINED, UNCERTAIN, DRIFTED, "random")}


def choose(
    rows: pd.DataFrame,
    features: Sequence[str],
    profile: ReferenceProfile,
    drifted: Sequence[str],
    *,
    max_rows: int,
    labelled: set[tuple[str, int]] | None = None,
    seed: int = 0,
) -> Queue:
    """Pick at most ``max_rows`` of ``rows`` (columns: request_id, row, prediction, the
    ``features`` read by the model's contract, and ``proba_<class>`` for a classifier).

    Abstained rows first (least confident first), then uncertain rows (margin sampling:
    Scheffer, Decomain and Wrobel 2001; Settles 2009, sec. 3.1) and drifted-region rows in
    turn; rows with the same input values are queued once. When fewer rows stand out than
    ``max_rows``, the rest is a random sample (``seed``) of the other unlabelled rows, so
    the labels still cover the traffic.

    Parameters
    ----------
    rows : pandas.DataFrame, shape (n_rows, n_columns)
        Rows of the prediction log. A row with no prediction but with probabilities
        counts as abstained.
    features : sequence of str
        The model's input columns (those present identify duplicate inputs).
    profile : loopml.core.reference.ReferenceProfile
        The training profile: classes (for margins) and per-column summaries (for the
        density ratios, grouped as the drift test groups them).
    drifted : sequence of str
        The input columns the drift test flagged.
    max_rows : int
        Queue size, at least 1.
    labelled : set of (str, int), optional
        The (request_id, row) pairs that have a label already; never queued.
    seed : int, default 0
        Seed of the random fill.

    Returns
    -------
    Queue

    Raises
    ------
    ValueError
        ``max_rows`` < 1.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows={max_rows}: queue at least 1 row")
    notes: list[str] = []
    keys = list(zip(rows["request_id"].astype(str), rows["row"].astype(int), strict=True))
    open_ = np.array([k not in (labelled or set()) for k in keys], dtype=bool)
    first = _first_of_each_input(rows, features) & open_
    margin = _margins(rows, profile.classes)
    if margin is None:
        notes.append(
            "no uncertainty sampling: the model gives no class probabilities (regression); "
            "abstained and drifted-region rows, then a random sample"
        )
        margin = np.full(len(rows), np.nan)
    abstained = rows["prediction"].isna().to_numpy() & np.isfinite(margin)
    ratio, column, unusual = _density_ratios(rows, profile, drifted, notes)
    chosen: list[tuple[int, str, float]] = []
    for i in _ordered(np.flatnonzero(first & abstained), margin):
        chosen.append((int(i), ABSTAINED, 1 - float(margin[i])))
    pool = first & ~abstained
    uncertain = [int(i) for i in _ordered(np.flatnonzero(pool & np.isfinite(margin)), margin)]
    dense = np.flatnonzero(pool & (ratio >= MIN_RATIO))
    by_ratio = [int(i) for i in dense[np.lexsort((-ratio[dense], -unusual[dense]))]]
    for i, kind in _in_turn(uncertain, by_ratio, max_rows - len(chosen)):
        if kind == UNCERTAIN:
            chosen.append((i, f"{UNCERTAIN}: margin {margin[i]:.3f}", 1 - float(margin[i])))
        else:
            chosen.append(
                (i, f"{DRIFTED}: {column[i]} ({ratio[i]:.1f}x its training share)", ratio[i])
            )
    chosen = chosen[:max_rows]
    if len(chosen) < max_rows:  # nothing else stands out: a random sample, still worth labels
        taken = {i for i, _, _ in chosen}
        rest = np.array([i for i in np.flatnonzero(pool) if i not in taken], dtype=int)
        extra = np.random.default_rng(seed).permutation(rest)[: max_rows - len(chosen)]
        chosen += [(int(i), RANDOM, 0.0) for i in sorted(extra.tolist())]
    return Queue(
        [c[0] for c in chosen],
        [c[1] for c in chosen],
        [float(c[2]) for c in chosen],
        int(open_.sum()),
        notes,
    )


def _first_of_each_input(rows: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    present = [c for c in features if c in rows.columns]
    if not present:
        return np.ones(len(rows), dtype=bool)
    as_text = rows[present].astype(str)
    return ~as_text.duplicated(keep="first").to_numpy()


def _margins(rows: pd.DataFrame, classes: Sequence[str]) -> np.ndarray | None:
    """Top-1 minus top-2 probability per row (NaN where none was logged); None for a model
    without probabilities."""
    names = [f"proba_{c}" for c in classes if f"proba_{c}" in rows.columns]
    if len(names) < 2:
        return None
    proba = rows[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    ordered = np.sort(proba, axis=1)
    return ordered[:, -1] - ordered[:, -2]


def _ordered(positions: np.ndarray, margin: np.ndarray) -> np.ndarray:
    return positions[np.argsort(margin[positions], kind="stable")]


def _density_ratios(
    rows: pd.DataFrame, profile: ReferenceProfile, drifted: Sequence[str], notes: list[str]
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Per row, the largest current/reference share ratio of its region over the drifted
    columns, which column gave it, and the sum of log ratios above 1 over those columns
    (the order: a row unusual in several drifted columns before one unusual in one)."""
    best = np.zeros(len(rows))
    total = np.zeros(len(rows))
    which = [""] * len(rows)
    for name in drifted:
        summary = profile.features.get(name)
        if name not in rows.columns or summary is None:
            continue
        if isinstance(summary, NumericSummary):
            ratio = _numeric_ratio(rows[name], summary)
        elif isinstance(summary, CategoricalSummary):
            ratio = _category_ratio(rows[name], summary)
        else:
            notes.append(f"{name}: drifted, but a {summary.kind} column has no regions to rank")
            continue
        better = ratio > best
        best = np.where(better, ratio, best)
        total += np.log(np.maximum(ratio, 1.0))
        which = [name if b else w for b, w in zip(better, which, strict=True)]
    return best, which, total


def _numeric_ratio(values: pd.Series, summary: NumericSummary) -> np.ndarray:
    """Per row, its region's share now over its share in training. Regions are the
    profile's bins merged into about ten of equal training mass (``drift.psi_groups``:
    single bins hold too few rows to compare), plus one for values beyond the training
    range (below its min or above its max), empty in training."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(numbers)
    reference = np.asarray(summary.counts, dtype=float)
    groups = psi_groups(reference)
    beyond = int(groups.max(initial=-1)) + 1
    slots = np.full(len(numbers), -1)
    bins = np.searchsorted(np.asarray(summary.edges, float), numbers[finite], side="right")
    slots[finite] = groups[bins]
    if summary.min is not None and summary.max is not None:
        slots[finite & ((numbers < summary.min) | (numbers > summary.max))] = beyond
    current = np.bincount(slots[finite], minlength=beyond + 1)
    grouped = np.append(np.bincount(groups, weights=reference, minlength=beyond), 0.0)
    ratios = _shares(current) / _smoothed(grouped)
    ratio = np.zeros(len(numbers))
    ratio[finite] = ratios[slots[finite]]
    return ratio


def _category_ratio(values: pd.Series, summary: CategoricalSummary) -> np.ndarray:
    from loopml.core.features import category_key

    current, other, _ = summary.category_counts(values)
    reference = np.append(np.asarray(summary.counts, float), summary.other)
    shares = _shares(np.append(current, other))
    ratios = shares / _smoothed(reference)
    position = {name: i for i, name in enumerate(summary.categories)}
    slot = [
        -1 if pd.isna(v) else position.get(category_key(v), len(summary.categories)) for v in values
    ]
    return np.array([0.0 if s < 0 else ratios[s] for s in slot])


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros(len(counts))


def _smoothed(counts: np.ndarray) -> np.ndarray:
    """Reference shares with half a row added to every slot, so an empty one (an unseen
    category, a range training never reached) gives a large, finite ratio."""
    return (counts + 0.5) / (counts.sum() + 0.5 * len(counts))


def _in_turn(uncertain: list[int], dense: list[int], wanted: int) -> list[tuple[int, str]]:
    """Up to ``wanted`` rows, one from each list in turn (a row in both counts once, for
    the list that reached it first); when one list runs out, the other goes on."""
    out: list[tuple[int, str]] = []
    taken: set[int] = set()
    queues = [(iter(uncertain), UNCERTAIN), (iter(dense), DRIFTED)]
    while queues and len(out) < wanted:
        for entry in list(queues):
            source, kind = entry
            found = next((i for i in source if i not in taken), None)
            if found is None:
                queues.remove(entry)
                continue
            taken.add(found)
            out.append((found, kind))
            if len(out) >= wanted:
                break
    return out
