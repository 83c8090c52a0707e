"""Drift statistics against known answers, and the dataset verdict's false-alarm control."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from loopml.config import DriftConfig
from loopml.core.data.roles import ColumnRoles
from loopml.core.drift import (
    adjust,
    chi2_from_counts,
    compare,
    ks_from_counts,
    psi,
    two_proportions,
)
from loopml.core.reference import build_profile, summarize_numeric


def _profile(frame: pd.DataFrame, roles: ColumnRoles, predictions: object = None):
    return build_profile(frame, roles, task="regression", target="y", predictions=predictions)


def test_binned_ks_equals_scipy_on_discrete_values() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 12, 3000), rng.integers(1, 12, 2000)
    summary = summarize_numeric(a)
    counts, _ = summary.bin_counts(b)
    statistic, p = ks_from_counts(np.asarray(summary.counts), counts)
    expected = stats.ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue, rel=1e-6)


def test_chi2_equals_scipy_and_ignores_empty_categories() -> None:
    ref, cur = np.array([50, 30, 0, 20]), np.array([20, 40, 0, 40])
    statistic, p = chi2_from_counts(ref, cur)
    expected = stats.chi2_contingency(np.array([[50, 30, 20], [20, 40, 40]]), correction=False)
    assert statistic == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)


def test_psi_is_zero_for_equal_shares_and_matches_the_formula() -> None:
    assert psi(np.array([100, 200, 300]), np.array([10, 20, 30])) == pytest.approx(0.0, abs=1e-2)
    ref, cur = np.array([5000, 5000]), np.array([2000, 8000])
    p, q = np.array([0.5, 0.5]), np.array([0.2, 0.8])
    assert psi(ref, cur) == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-3)


def test_holm_and_bonferroni_known_answers_leave_nan_alone() -> None:
    p = np.array([0.01, 0.04, np.nan, 0.03])
    assert adjust(p, "holm")[[0, 1, 3]] == pytest.approx([0.03, 0.06, 0.06])
    assert adjust(p, "bonferroni")[[0, 1, 3]] == pytest.approx([0.03, 0.12, 0.09])
    assert np.isnan(adjust(p, "holm")[2])
    assert adjust(p, "benjamini_hochberg")[[0, 1, 3]] == pytest.approx([0.03, 0.04, 0.04])


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 6000
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 4, n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
            "t": rng.choice(["red apple", "green pear", "ripe red plum"], n),
        }
    )


ROLES = ColumnRoles(numeric=("x", "k"), categorical=("c",), text=("t",))


def _like(reference: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return reference.sample(n, replace=True, random_state=seed).reset_index(drop=True)


def test_same_distribution_raises_no_alarm(reference: pd.DataFrame) -> None:
    report = compare(_profile(reference, ROLES), _like(reference, 3000, 1), DriftConfig())
    assert report.judged and not report.alert, report.summary()
    # Nothing is missing on either side: no test of the missing share.
    assert [f.name for f in report.features] == ["x", "k", "c", "t (words)", "t (unknown words)"]


def test_shifted_numeric_and_categorical_columns_are_flagged(reference: pd.DataFrame) -> None:
    current = _like(reference, 3000, 2)
    current["x"] += 1.0
    current["c"] = np.where(np.arange(3000) % 2 == 0, "c", current["c"])
    report = compare(_profile(reference, ROLES), current, DriftConfig())
    assert report.alert
    assert {f.name for f in report.drifted} == {"x", "c"}
    flagged = {f.name: f for f in report.features}
    assert flagged["x"].test == "ks" and flagged["x"].psi > 0.2
    assert flagged["c"].test == "chi2" and flagged["c"].p_adjusted < 1e-6


def test_new_words_and_longer_texts_are_text_drift(reference: pd.DataFrame) -> None:
    current = _like(reference, 2000, 3)
    current["t"] = "brand new unseen words everywhere today"
    report = compare(_profile(reference, ROLES), current, DriftConfig())
    assert {f.name for f in report.drifted} == {"t (words)", "t (unknown words)"}


def test_a_value_never_seen_in_a_constant_column_is_drift() -> None:
    reference = pd.DataFrame({"yr": np.zeros(2000), "x": np.arange(2000.0)})
    current = pd.DataFrame({"yr": np.ones(1000), "x": np.arange(1000.0) * 2})
    roles = ColumnRoles(numeric=("yr", "x"))
    report = compare(_profile(reference, roles), current, DriftConfig())
    yr = next(f for f in report.features if f.name == "yr")
    assert yr.drifted and yr.statistic == 1.0


def test_more_missing_values_raise_psi(reference: pd.DataFrame) -> None:
    current = _like(reference, 3000, 4)
    current.loc[: current.index[1500], "x"] = np.nan
    report = compare(_profile(reference, ROLES), current, DriftConfig(method="psi"))
    x = next(f for f in report.features if f.name == "x")
    assert x.missing_current == pytest.approx(0.5, abs=0.01) and x.drifted


def test_two_proportion_z_is_the_chi_square_of_the_two_by_two_table() -> None:
    z, p = two_proportions(30, 1000, 90, 800)
    expected = stats.chi2_contingency(np.array([[970, 30], [710, 90]]), correction=False)
    assert z > 0 and z**2 == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)
    assert two_proportions(0, 100, 0, 50) == (0.0, 1.0)


@pytest.mark.parametrize(("before", "after"), [(0.0, 0.6), (0.4, 0.0)])
def test_a_feature_missing_far_more_or_less_often_is_drift(
    reference: pd.DataFrame, before: float, after: float
) -> None:
    """Present values keep their distribution: only the share of missing rows moves."""
    rng = np.random.default_rng(12)
    trained = reference.assign(x=reference["x"].where(rng.random(len(reference)) >= before))
    current = _like(reference, 2000, 13)
    current["x"] = current["x"].where(rng.random(len(current)) >= after)
    report = compare(_profile(trained, ROLES), current, DriftConfig())
    found = {f.name: f for f in report.features}
    missing = found["x (missing)"]
    assert missing.test == "z" and missing.kind == "missing" and missing.column == "x"
    assert missing.drifted and report.alert
    assert missing.missing_reference == pytest.approx(before, abs=0.02)
    assert missing.missing_current == pytest.approx(after, abs=0.03)
    assert (missing.statistic > 0) == (after > before)
    assert not found["x"].drifted  # the values present are as at training
    assert "k (missing)" not in found  # k is never missing


def test_too_few_rows_are_not_judged(reference: pd.DataFrame) -> None:
    current = _like(reference, 100, 5)
    current["x"] += 3
    report = compare(_profile(reference, ROLES), current, DriftConfig(min_rows=500))
    assert not report.judged and not report.alert
    assert all(not f.judged and not f.drifted for f in report.features)
    assert "not judged" in report.summary()


def test_prediction_drift_is_reported_apart(reference: pd.DataFrame) -> None:
    rng = np.random.default_rng(9)
    profile = _profile(reference, ROLES, predictions=rng.normal(size=3000))
    current = _like(reference, 2000, 6)
    report = compare(profile, current, DriftConfig(), predictions=rng.normal(2, 1, 2000))
    assert report.prediction is not None and report.prediction.drifted
    assert report.alert and not report.drifted


def test_absent_columns_and_dates_are_skipped_with_a_reason(reference: pd.DataFrame) -> None:
    frame = reference.assign(d=pd.date_range("2020-01-01", periods=len(reference), freq="h"))
    roles = ColumnRoles(numeric=("x", "k"), categorical=("c",), datetime=("d",))
    report = compare(
        _profile(frame, roles), _like(reference, 1000, 8).drop(columns="k"), DriftConfig()
    )
    assert set(report.skipped) == {"d", "k"}
    assert "absent" in report.skipped["k"]


def test_false_dataset_alarms_stay_near_the_significance_level(reference: pd.DataFrame) -> None:
    """Random halves of one sample: the corrected dataset alarm fires in at most 5 of 100."""
    rng = np.random.default_rng(11)
    roles = ColumnRoles(numeric=("x", "k"), categorical=("c",))
    frame = reference.drop(columns="t")
    alarms = uncorrected = 0
    for _ in range(100):
        order = rng.permutation(len(frame))
        half = len(frame) // 2
        profile = _profile(frame.iloc[order[:half]], roles)
        current = frame.iloc[order[half:]].reset_index(drop=True)
        report = compare(profile, current, DriftConfig(method="test"))
        alarms += report.alert
        uncorrected += any(f.p_value < 0.05 for f in report.features)
    assert alarms <= 5
    assert uncorrected > alarms  # the correction is what keeps the alarms down


def test_report_serialises_without_numpy_types(reference: pd.DataFrame) -> None:
    import json

    report = compare(_profile(reference, ROLES), _like(reference, 600, 10), DriftConfig())
    document = json.loads(json.dumps(report.as_dict()))
    assert document["features"][0]["distribution"]["labels"]
