"""Drift: current rows against a model's reference profile, feature by feature.

Every comparison works on counts in the reference's own bins, so it needs only the
profile and one vectorised pass over the current rows:

- numeric columns (and a text column's words per row and out-of-vocabulary share):
  Kolmogorov-Smirnov on the binned distributions (exact for columns with few distinct
  values, slightly conservative for quantile bins);
- categorical columns and a classifier's predictions: chi-square on the 2 x k table of
  counts (known categories, other, missing);
- how often a numeric, text or date column is missing (``"income (missing)"``, for a
  column missing somewhere in the reference or the current rows): the
  two-proportion z-test of the share of missing rows, reference against current (Agresti,
  *Categorical Data Analysis*, 3rd ed., 2013, section 3.1.3 on comparing two proportions;
  it is the chi-square test of the 2 x 2 table, z squared being that chi-square). A
  categorical column's missing rows are already a cell of its own chi-square table;
- for every column: PSI and Jensen-Shannon distance on up to ``PSI_BINS`` groups of
  equal reference mass (plus missing), as effect sizes.

Each statistic is one registry entry (``TESTS``: the significance tests by the kind of
bins they judge; ``DISTANCES``: the effect sizes, with their threshold key and direction,
their report label and whether they are logged or shown on /dashboard); the JSON, the
report, the dashboard and the MLflow metrics loop over the registry.

A feature is flagged when it is judged (enough current rows) and, by ``method``: auto,
its test is significant after a multiple-testing correction over all features *and* its
PSI reaches the threshold; psi or jensen_shannon, that distance reaches the threshold;
test, the corrected test alone. The dataset alarm fires when any feature or the
prediction distribution is flagged. The correction keeps the chance of a false dataset
alarm at ``significance``; the effect-size condition keeps very large windows from
flagging differences too small to matter.

Attribution drift (``compare_attributions``) watches the model rather than the data: each
input column's share of the total mean |attribution| (``reference.AttributionSummary``)
on the current rows against the reference's. A share that moves by ``attribution_shift``
or more (absolute, shares being 0-1) *and* by more than ``NOISE_SE`` standard errors of
the difference (bootstrap standard errors of both shares, so few explained rows do not
raise alarms) means the model now leans on its columns differently, which per-column
data drift cannot see when only the columns' joint distribution moved.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from loopml.config import DriftConfig
from loopml.core.jsonable import plain
from loopml.core.reference import (
    AttributionSummary,
    CategoricalSummary,
    NumericSummary,
    ReferenceProfile,
    TextSummary,
)

PSI_BINS = 10
NOISE_SE = 3.0  # an attribution share must move by more than this many standard errors
_SMOOTHING = 0.5  # counts added to every group, so PSI stays finite for empty groups


@dataclass(frozen=True)
class Distribution:
    """Reference and current shares per group: what the report plots."""

    labels: list[str]
    reference: list[float]
    current: list[float]


@dataclass(frozen=True)
class FeatureDrift:
    """One quantity's drift: a column (or its words, or its missing share) or the
    predictions, current rows against the reference profile.

    Parameters
    ----------
    name, column, kind : str
        What is shown, the input column it comes from, and its kind.
    test : str
        The ``TESTS`` entry that judged it (``ks``, ``chi2`` or ``z``).
    statistic, p_value, p_adjusted : float
        The test's statistic, its p-value and the p-value adjusted over all the features
        tested (``monitoring.drift.correction``: Benjamini-Hochberg or Holm).
    distances : dict of str to float
        Each ``DISTANCES`` entry's value (``psi``, ``jensen_shannon``), by name.
    rows, reference_rows : int
        Current and reference rows compared.
    missing_reference, missing_current : float
        Share of missing values, in [0, 1].
    judged, drifted : bool
        Whether there were enough rows to judge, and the verdict.
    distribution : Distribution
        The reference and current shares per bin, for charts.
    note : str
        Why a quantity was not judged, or what was special about it.
    """

    name: str  # what is shown: "temp", "title (words)", "temp (missing)", "prediction"
    column: str  # the input column, or "prediction"
    kind: str  # numeric | categorical | text | missing | prediction
    test: str  # the test's registry name: ks | chi2 | z (the share of missing rows)
    statistic: float
    p_value: float
    p_adjusted: float
    distances: dict[str, float]  # each DISTANCES entry's value, by its name (psi, ...)
    rows: int
    reference_rows: int
    missing_reference: float
    missing_current: float
    judged: bool
    drifted: bool
    distribution: Distribution
    note: str = ""

    @property
    def psi(self) -> float:
        """Population stability index (the ``psi`` entry of ``distances``)."""
        return self.distances["psi"]

    @property
    def jensen_shannon(self) -> float:
        """Jensen-Shannon distance, base 2 (the ``jensen_shannon`` entry of ``distances``)."""
        return self.distances["jensen_shannon"]

    def value(self, statistic: str) -> float:
        """The value of a registered distance, or ``statistic`` for the test's statistic."""
        return self.statistic if statistic == "statistic" else self.distances[statistic]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: the fields in order, each distance a key of its own after p_adjusted."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "distances":
                out.update(self.distances)
            else:
                value = getattr(self, f.name)
                out[f.name] = asdict(value) if f.name == "distribution" else value
        return plain(out)


@dataclass(frozen=True)
class AttributionShift:
    """One column's share of the total mean |attribution|, at reference and now (0-1)."""

    column: str
    reference: float
    current: float
    shifted: bool

    @property
    def change(self) -> float:
        """Current share minus reference share, in [-1, 1]."""
        return self.current - self.reference


@dataclass(frozen=True)
class AttributionDrift:
    """The model's reliance on each column, reference against current rows; ``columns``
    are sorted by the size of the change, largest first."""

    columns: list[AttributionShift]
    rows: int  # current rows explained
    reference_rows: int
    threshold: float
    method: str
    space: str

    @property
    def shifted(self) -> list[AttributionShift]:
        """The columns whose share moved past the threshold, largest change first."""
        return [c for c in self.columns if c.shifted]

    def summary(self) -> str:
        """One line: no shift, or each shifted column's share before -> now."""
        if not self.shifted:
            return f"no shift in attributions over {len(self.columns)} columns"
        moved = ", ".join(f"{c.column} {c.reference:.2f} -> {c.current:.2f}" for c in self.shifted)
        return f"attribution share moved by >= {self.threshold:g}: {moved}"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: the summary, the settings and every column with its change."""
        return plain(
            {
                "summary": self.summary(),
                "rows": self.rows,
                "reference_rows": self.reference_rows,
                "threshold": self.threshold,
                "method": self.method,
                "space": self.space,
                "columns": [asdict(c) | {"change": c.change} for c in self.columns],
            }
        )


def compare_attributions(
    reference: AttributionSummary, current: AttributionSummary, threshold: float
) -> AttributionDrift:
    """Each column's attribution share now against the reference; a column is shifted
    when its share moved by ``threshold`` or more (absolute) and by more than ``NOISE_SE``
    standard errors. Raises ``ValueError`` when the two do not explain the same columns in
    the same space (another model's profile)."""
    if set(reference.share) != set(current.share) or reference.space != current.space:
        raise ValueError(
            f"the reference explains {len(reference.share)} columns in {reference.space} "
            f"space, the current rows {len(current.share)} in {current.space}"
        )
    found = []
    for column, share in reference.share.items():
        change = current.share[column] - share
        noise = np.hypot(reference.share_se.get(column, 0.0), current.share_se.get(column, 0.0))
        shifted = abs(change) >= threshold and abs(change) > NOISE_SE * noise
        found.append(AttributionShift(column, share, current.share[column], shifted))
    found.sort(key=lambda c: -abs(c.change))
    return AttributionDrift(
        found, current.rows, reference.rows, threshold, current.method, current.space
    )


@dataclass(frozen=True)
class DriftReport:
    """The drift of every input column and of the predictions, and the one alarm.

    Parameters
    ----------
    features : list of FeatureDrift
        One per tested quantity (a column, its words, its missing share).
    prediction : FeatureDrift or None
        The predictions' drift, when predictions were given.
    rows : int
        Current rows compared.
    judged : bool
        False when ``rows`` < ``settings.min_rows``: nothing is called drifted.
    settings : DriftConfig
        The ``monitoring.drift`` settings used.
    skipped : dict of str to str
        Column -> why it was not tested.
    attribution, attribution_skipped
        Attribution drift (None when off or not judged) and, then, why.
    """

    features: list[FeatureDrift]
    prediction: FeatureDrift | None
    rows: int
    judged: bool
    settings: DriftConfig
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it is not tested
    attribution: AttributionDrift | None = None  # None: off, or see attribution_skipped
    attribution_skipped: str = ""  # why attribution drift was not judged, when it was not

    @property
    def drifted(self) -> list[FeatureDrift]:
        """The input quantities judged drifted."""
        return [f for f in self.features if f.drifted]

    @property
    def alert(self) -> bool:
        """True when judged and an input, the predictions or the attributions moved."""
        return self.judged and (
            bool(self.drifted)
            or bool(self.prediction and self.prediction.drifted)
            or bool(self.attribution and self.attribution.shifted)
        )

    def summary(self) -> str:
        """One line for the terminal, the report and the dashboard."""
        if not self.judged:
            return (
                f"drift not judged: {self.rows} current rows < drift.min_rows "
                f"{self.settings.min_rows}"
            )
        names = [f.name for f in self.drifted]
        if self.prediction is not None and self.prediction.drifted:
            names.append("prediction")
        shifted = self.attribution.shifted if self.attribution else []
        reliance = f"; {self.attribution.summary()}" if self.attribution and shifted else ""
        if not names:
            data = "no data drift" if reliance else "no drift"
            return f"{data} in {len(self.features)} features ({self.rows} rows){reliance}"
        return f"drift in {len(names)} of {len(self.features)}: {', '.join(names)}{reliance}"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (``drift`` in ``monitor.json``): the alarm, summary and every feature."""
        return {
            "alert": self.alert,
            "judged": self.judged,
            "rows": self.rows,
            "summary": self.summary(),
            "settings": self.settings.model_dump(),
            "features": [f.as_dict() for f in self.features],
            "prediction": self.prediction.as_dict() if self.prediction else None,
            "skipped": self.skipped,
            "attribution": self.attribution.as_dict() if self.attribution else None,
            "attribution_skipped": self.attribution_skipped,
        }


@dataclass(frozen=True)
class _Binned:
    """Counts of one quantity in the reference's bins; the last slot counts missing rows."""

    name: str
    column: str
    kind: str
    ordered: bool  # numeric bins (KS) or categories (chi-square)
    reference: np.ndarray
    current: np.ndarray
    labels: list[str]

    @property
    def shape(self) -> str:
        """What the bins hold: ``ordered`` values, ``categories``, or the ``missing`` share."""
        if self.kind == "missing":
            return "missing"
        return "ordered" if self.ordered else "categories"

    @property
    def test(self) -> str:
        return judging_test(self.shape).name


def compare(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    settings: DriftConfig,
    predictions: Any = None,
) -> DriftReport:
    """Drift of every profiled feature (and of the predictions, if given) in ``current``."""
    binned, skipped = [], {}
    for column, summary in profile.features.items():
        if column not in current.columns:
            skipped[column] = "absent from the current rows"
            continue
        if summary.kind == "datetime":
            skipped[column] = "dates move forward by nature; only how often they are missing"
        else:
            binned.extend(_bin_feature(column, summary, current[column]))
        if summary.kind != "categorical":
            missing = _bin_missing(column, summary, current[column])
            if missing.reference[-1] or missing.current[-1]:  # else nothing to test
                binned.append(missing)
    with_prediction = predictions is not None and profile.prediction is not None
    if with_prediction:
        assert profile.prediction is not None
        binned.append(
            _bin_summary("prediction", "prediction", profile.prediction, predictions, "prediction")
        )
    results = _judge(binned, settings)
    prediction = results.pop() if with_prediction else None
    return DriftReport(
        features=results,
        prediction=prediction,
        rows=len(current),
        judged=len(current) >= settings.min_rows,
        settings=settings,
        skipped=skipped,
    )


def _bin_feature(column: str, summary: Any, values: pd.Series) -> list[_Binned]:
    if isinstance(summary, TextSummary):
        length, oov = summary.parts(values)
        return [
            _bin_summary(f"{column} (words)", column, summary.length, length, kind="text"),
            _bin_summary(f"{column} (unknown words)", column, summary.oov, oov, kind="text"),
        ]
    return [_bin_summary(column, column, summary, values)]


def _bin_missing(column: str, summary: Any, values: pd.Series) -> _Binned:
    """Rows with and without a value, in the reference and now (the last slot: missing)."""
    if isinstance(summary, NumericSummary):
        missing = summary.bin_counts(values)[1]  # as the value bins count it
    else:
        missing = int(pd.isna(values).sum())
    return _Binned(
        f"{column} (missing)",
        column,
        "missing",
        False,
        np.array([summary.rows - summary.missing, summary.missing]),
        np.array([len(values) - missing, missing]),
        ["(present)"],
    )


def _bin_summary(
    name: str,
    column: str,
    summary: NumericSummary | CategoricalSummary,
    values: Any,
    kind: str | None = None,
) -> _Binned:
    if isinstance(summary, NumericSummary):
        counts, missing = summary.bin_counts(values)
        return _Binned(
            name,
            column,
            kind or "numeric",
            True,
            np.append(summary.counts, summary.missing),
            np.append(counts, missing),
            _bin_labels(summary),
        )
    known, other, missing = summary.category_counts(values)
    return _Binned(
        name,
        column,
        kind or "categorical",
        False,
        np.array([*summary.counts, summary.other, summary.missing]),
        np.array([*known, other, missing]),
        [*summary.categories, "(other)"],
    )


@dataclass(frozen=True)
class _Measured:
    binned: _Binned
    statistic: float
    p_value: float
    distances: dict[str, float]
    distribution: Distribution
    judged: bool


def _judge(binned: list[_Binned], settings: DriftConfig) -> list[FeatureDrift]:
    measured = [_measure(b, settings.min_rows) for b in binned]
    p_values = np.array([m.p_value if m.judged else np.nan for m in measured])
    adjusted = adjust(p_values, settings.correction)
    return [_verdict(m, float(p), settings) for m, p in zip(measured, adjusted, strict=True)]


def _measure(b: _Binned, min_rows: int) -> _Measured:
    ref_present, cur_present = b.reference[:-1], b.current[:-1]
    test = judging_test(b.shape)
    statistic, p_value = test.function(b.reference, b.current)
    rows_judged = int(b.current.sum() if test.counts_missing else cur_present.sum())
    groups = psi_groups(ref_present) if b.ordered else np.arange(len(ref_present))
    ref_grouped = _group(b.reference, groups)
    cur_grouped = _group(b.current, groups)
    return _Measured(
        binned=b,
        statistic=statistic,
        p_value=p_value,
        distances={d.name: d.function(ref_grouped, cur_grouped) for d in DISTANCES.values()},
        distribution=_distribution(b, groups, ref_grouped, cur_grouped),
        judged=bool(
            rows_judged >= min_rows and (ref_present.sum() > 0 or not test.needs_reference_values)
        ),
    )


def _verdict(m: _Measured, p_adjusted: float, settings: DriftConfig) -> FeatureDrift:
    b = m.binned
    significant = bool(p_adjusted < settings.significance)
    if settings.method == "test":
        flagged = significant
    elif settings.method == "auto":
        flagged = significant and HEADLINE.reaches(m.distances[HEADLINE.name], settings)
    else:
        flagged = DISTANCES[settings.method].reaches(m.distances[settings.method], settings)
    ref_total, cur_total = b.reference.sum(), b.current.sum()
    note = "" if m.judged else f"too few rows to judge (< {settings.min_rows})"
    return FeatureDrift(
        name=b.name,
        column=b.column,
        kind=b.kind,
        test=b.test,
        statistic=m.statistic,
        p_value=m.p_value,
        p_adjusted=p_adjusted,
        distances=m.distances,
        rows=int(cur_total),
        reference_rows=int(ref_total),
        missing_reference=float(b.reference[-1] / ref_total) if ref_total else 0.0,
        missing_current=float(b.current[-1] / cur_total) if cur_total else 0.0,
        judged=m.judged,
        drifted=bool(m.judged and flagged),
        distribution=m.distribution,
        note=note,
    )


def ks_from_counts(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic p-value from binned counts."""
    n, m = float(reference.sum()), float(current.sum())
    if n == 0 or m == 0:
        return float("nan"), float("nan")
    gap = np.abs(np.cumsum(reference) / n - np.cumsum(current) / m)
    statistic = float(gap.max())
    effective = np.round(n * m / (n + m))  # as scipy.stats.ks_2samp(method="asymp")
    return statistic, float(stats.kstwo.sf(statistic, effective))


def two_proportions(
    reference_hits: float, reference_rows: float, current_hits: float, current_rows: float
) -> tuple[float, float]:
    """Two-proportion z-test (pooled standard error): z of current share minus reference
    share, and its two-sided p-value. ``(0.0, 1.0)`` when the pooled share is 0 or 1.

    Agresti, *Categorical Data Analysis*, 3rd ed. (2013), section 3.1.3; z squared is the
    chi-square statistic of the 2 x 2 table without continuity correction.
    """
    n, m = float(reference_rows), float(current_rows)
    if n == 0 or m == 0:
        return float("nan"), float("nan")
    pooled = (reference_hits + current_hits) / (n + m)
    spread = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))
    if spread == 0:
        return 0.0, 1.0
    z = (current_hits / m - reference_hits / n) / spread
    return float(z), float(2 * stats.norm.sf(abs(z)))


def chi2_from_counts(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x k table of counts (empty columns dropped)."""
    table = np.vstack([reference, current]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index, with half a count added to every group."""
    p, q = _shares(reference, current)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, from 0 to 1)."""
    p, q = _shares(reference, current)
    return float(jensenshannon(p, q, base=2))


def adjust(p_values: np.ndarray, correction: str) -> np.ndarray:
    """Corrected p-values for a family of tests; NaN (not judged) stays NaN, outside it."""
    p_values = np.asarray(p_values, dtype=float)
    out = np.full(p_values.shape, np.nan)
    present = ~np.isnan(p_values)
    p = p_values[present]
    if not len(p):
        return out
    if correction == "bonferroni":
        out[present] = np.minimum(p * len(p), 1.0)
    elif correction == "benjamini_hochberg":
        out[present] = stats.false_discovery_control(p, method="bh")
    else:
        out[present] = _holm(p)
    return out


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    scaled = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    result = np.empty_like(adjusted)
    result[order] = adjusted
    return result


def psi_groups(reference: np.ndarray) -> np.ndarray:
    """Merge ordered bins into up to PSI_BINS groups of about equal reference mass."""
    total = reference.sum()
    if total == 0 or len(reference) <= PSI_BINS:
        return np.arange(len(reference))
    start = np.concatenate([[0.0], np.cumsum(reference)[:-1]]) / total
    raw = np.minimum((start * PSI_BINS + 1e-9).astype(int), PSI_BINS - 1)
    return np.unique(raw, return_inverse=True)[1]


def _group(counts: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sum bins by group; the missing slot (last) stays its own group."""
    present = np.bincount(groups, weights=counts[:-1], minlength=int(groups.max(initial=-1)) + 1)
    return np.append(present, counts[-1])


def _shares(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = (reference + current) > 0
    r, c = reference[keep] + _SMOOTHING, current[keep] + _SMOOTHING
    return r / r.sum(), c / c.sum()


Shape = Literal["ordered", "categories", "missing"]
SHAPES: tuple[Shape, ...] = ("ordered", "categories", "missing")


@dataclass(frozen=True)
class DriftTest:
    """A significance test of one binned quantity, reference against current rows.

    Parameters
    ----------
    name : str
        The value of ``FeatureDrift.test`` (and of the JSON key ``test``); shown upper-case
        in the report.
    label : str
        Its full name, for people.
    applies_to : frozenset of {"ordered", "categories", "missing"}
        The bins it judges: ordered bins (numeric columns, a text column's words and
        unknown words per row, a regressor's predictions), categories (categorical
        columns, a classifier's predictions), or the share of missing rows.
    function : callable
        ``function(reference, current) -> (statistic, p_value)``; both arrays are counts
        per bin with the missing rows in the last slot, shape ``(bins + 1,)``.
    counts_missing : bool
        Whether missing rows count towards the rows the test judges (``drift.min_rows``).
    needs_reference_values : bool
        Whether the test needs reference rows with a value to be judged at all.
    source : str
        Where the test is described.

    Its p-values are corrected over all features (``monitoring.drift.correction``) and
    compared to ``monitoring.drift.significance``: lower means drift.
    """

    name: str
    label: str
    applies_to: frozenset[Shape]
    function: Callable[[np.ndarray, np.ndarray], tuple[float, float]]
    counts_missing: bool
    needs_reference_values: bool
    source: str


@dataclass(frozen=True)
class DriftDistance:
    """An effect size between reference and current shares of one binned quantity.

    Parameters
    ----------
    name : str
        Its key in ``FeatureDrift.distances`` and in the JSON of every feature, and the
        ``monitoring.drift.method`` that flags by it alone.
    label : str
        The column header in the report.
    short : str
        A short header (tables on a terminal).
    applies_to : frozenset of {"ordered", "categories", "missing"}
        The bins it measures (see ``DriftTest``).
    function : callable
        ``function(reference, current) -> float`` on counts per group of about equal
        reference mass (``PSI_BINS`` at most), missing rows last.
    threshold : str
        The ``DriftConfig`` field it is compared to.
    higher_is_drift : bool
        True: the value flags drift at or above the threshold; False: at or below.
    logged : bool
        Whether ``loopml monitor`` logs it per feature as the MLflow metric
        ``<name>.<feature>``.
    on_dashboard : bool
        Whether /dashboard shows it (a column with a bar, ``data-<name>`` on the row).
    source : str
        Where the statistic is described.
    """

    name: str
    label: str
    short: str
    applies_to: frozenset[Shape]
    function: Callable[[np.ndarray, np.ndarray], float]
    threshold: str
    higher_is_drift: bool
    logged: bool
    on_dashboard: bool
    source: str

    def reaches(self, value: float, settings: DriftConfig) -> bool:
        """Whether ``value`` is on the drift side of its threshold in ``settings``."""
        limit = float(getattr(settings, self.threshold))
        return bool(value >= limit if self.higher_is_drift else value <= limit)


def _ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    return ks_from_counts(reference[:-1], current[:-1])


def _z(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    return two_proportions(reference[-1], reference.sum(), current[-1], current.sum())


TESTS: dict[str, DriftTest] = {
    t.name: t
    for t in (
        DriftTest(
            "ks",
            "Kolmogorov-Smirnov",
            frozenset({"ordered"}),
            _ks,
            counts_missing=False,
            needs_reference_values=True,
            source="two-sample Kolmogorov-Smirnov on binned counts, asymptotic p-value "
            "(as scipy.stats.ks_2samp(method='asymp'))",
        ),
        DriftTest(
            "chi2",
            "chi-square",
            frozenset({"categories"}),
            chi2_from_counts,
            counts_missing=True,
            needs_reference_values=True,
            source="chi-square test of homogeneity of the 2 x k table "
            "(scipy.stats.chi2_contingency, no continuity correction)",
        ),
        DriftTest(
            "z",
            "two-proportion z",
            frozenset({"missing"}),
            _z,
            counts_missing=True,
            needs_reference_values=False,
            source="Agresti, Categorical Data Analysis, 3rd ed. (2013), section 3.1.3",
        ),
    )
}
DISTANCES: dict[str, DriftDistance] = {
    d.name: d
    for d in (
        DriftDistance(
            "psi",
            "PSI",
            "PSI",
            frozenset(SHAPES),
            psi,
            threshold="threshold",
            higher_is_drift=True,
            logged=True,
            on_dashboard=True,
            source="population stability index, half a count added to every group "
            "(Siddiqi, Credit Risk Scorecards, Wiley, 2006, on the stability index)",
        ),
        DriftDistance(
            "jensen_shannon",
            "Jensen-Shannon",
            "JS",
            frozenset(SHAPES),
            js_distance,
            threshold="threshold",
            higher_is_drift=True,
            logged=False,
            on_dashboard=False,
            source="Jensen-Shannon distance, base 2, from 0 to 1 "
            "(scipy.spatial.distance.jensenshannon)",
        ),
    )
}
HEADLINE = DISTANCES["psi"]  # method auto: a significant test and this distance reached


def judging_test(shape: str) -> DriftTest:
    """The registered test that judges bins of ``shape``.

    Parameters
    ----------
    shape : {"ordered", "categories", "missing"}

    Returns
    -------
    DriftTest

    Raises
    ------
    LookupError
        When no registered test applies to ``shape``, or more than one does.
    """
    found = [t for t in TESTS.values() if shape in t.applies_to]
    if len(found) != 1:
        raise LookupError(f"{len(found)} drift tests apply to {shape} bins; register exactly one")
    return found[0]


def _distribution(
    b: _Binned, groups: np.ndarray, ref_grouped: np.ndarray, cur_grouped: np.ndarray
) -> Distribution:
    labels = np.array([*_group_labels(b, groups), "(missing)"], dtype=object)
    ref_total, cur_total = max(ref_grouped.sum(), 1), max(cur_grouped.sum(), 1)
    seen = (ref_grouped + cur_grouped) > 0  # groups empty on both sides are not shown
    return Distribution(
        labels=[str(label) for label in labels[seen]],
        reference=(ref_grouped[seen] / ref_total).round(6).tolist(),
        current=(cur_grouped[seen] / cur_total).round(6).tolist(),
    )


def _group_labels(b: _Binned, groups: np.ndarray) -> list[str]:
    if not b.ordered:
        return b.labels
    labels = []
    for g in range(int(groups.max(initial=-1)) + 1):
        members = np.flatnonzero(groups == g)
        first, last = b.labels[members[0]], b.labels[members[-1]]
        labels.append(first if first == last else _span(first, last))
    return labels


def _span(first: str, last: str) -> str:
    if not first.startswith("["):
        return f"{first} to {last}"
    return f"{first.split(',')[0]},{last.split(',')[1]}"


def _bin_labels(summary: NumericSummary) -> list[str]:
    """One label per numeric bin: its value when the column has few, else its range."""
    edges = summary.edges
    if not edges:
        return ["all"]
    if summary.discrete:
        values = [_short(v) for v in edges[::2]]
        between = [f"({low}, {high})" for low, high in itertools.pairwise(values)]
        inner = [
            label
            for pair in zip(values, [*between, f"> {values[-1]}"], strict=True)
            for label in pair
        ]
        return [f"< {values[0]}", *inner]
    bounds = ["-inf", *(_short(e) for e in edges), "inf"]
    return [f"[{low}, {high})" for low, high in itertools.pairwise(bounds)]


def _short(value: float) -> str:
    return f"{value:.4g}"
