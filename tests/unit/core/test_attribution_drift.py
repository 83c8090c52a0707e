"""Attribution drift: the model's reliance on its columns, at training and on current rows.

A LightGBM regressor learns y = x1 * x2 + 0.5 * x3 on independent standard normal columns.
Current rows where x2 is x1 with a random sign have the same three marginal distributions
(so per-column data drift is silent), but |x1 * x2| is now x1 squared: the model's
reliance moves from x3 to x1 and x2. A fresh sample of the training distribution moves
the shares by sampling noise only (about 0.03 here).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from loopml.config import DriftConfig
from loopml.core import drift
from loopml.core.data.roles import ColumnRoles
from loopml.core.evaluation import inspection
from loopml.core.explain import Explainer, background_sample
from loopml.core.models import build_pipeline, make_estimator
from loopml.core.reference import (
    ATTRIBUTION_ROWS,
    ReferenceProfile,
    attribution_profile,
    build_profile,
    summarize_attributions,
)

COLUMNS = ["x1", "x2", "x3"]
ROLES = ColumnRoles(numeric=tuple(COLUMNS))
THRESHOLD = 0.07  # above the resample's noise, below the coupled shift


def rows(n: int, seed: int, *, coupled: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x3 = rng.normal(size=n), rng.normal(size=n)
    x2 = x1 * rng.choice([-1.0, 1.0], size=n) if coupled else rng.normal(size=n)
    y = x1 * x2 + 0.5 * x3 + rng.normal(scale=0.1, size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "y": y})


@pytest.fixture(scope="module")
def fitted() -> tuple[Explainer, ReferenceProfile]:
    train = rows(3000, 0)
    estimator = make_estimator("lightgbm", {"n_estimators": 100}, "regression", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = build_pipeline(ROLES, estimator).fit(train[COLUMNS], train["y"])
    explainer = Explainer(pipeline, "regression", COLUMNS, background_sample(train[COLUMNS]))
    profile = build_profile(train, ROLES, task="regression", target="y")
    profile.attributions = attribution_profile(explainer, rows(1000, 1)[COLUMNS])
    return explainer, profile


def test_the_profile_is_mean_absolute_contribution_and_its_share(
    fitted: tuple[Explainer, ReferenceProfile],
) -> None:
    explainer, profile = fitted
    found = profile.attributions
    assert found is not None and found.rows == ATTRIBUTION_ROWS  # sampled from 1,000 rows
    sample = rows(1000, 1)[COLUMNS].sample(ATTRIBUTION_ROWS, random_state=0)
    mean_abs = np.abs(explainer.explain(sample).contributions).mean(axis=0)
    assert [found.mean_abs[c] for c in COLUMNS] == pytest.approx(list(mean_abs), rel=1e-12)
    assert [found.share[c] for c in COLUMNS] == pytest.approx(list(mean_abs / mean_abs.sum()))
    assert found.space == "value" and "pred_contrib" in found.method
    assert set(found.share_se) == set(COLUMNS)  # bootstrap standard errors of the shares
    assert all(0 < found.share_se[c] < 0.05 for c in COLUMNS)
    again = ReferenceProfile.model_validate_json(profile.model_dump_json())
    assert again.attributions == found  # stored with the reference, read back the same


def test_a_joint_shift_moves_attributions_while_data_drift_is_silent(
    fitted: tuple[Explainer, ReferenceProfile],
) -> None:
    explainer, profile = fitted
    assert profile.attributions is not None
    current = rows(1000, 3, coupled=True)
    data = drift.compare(profile, current, DriftConfig())
    assert data.judged and data.drifted == []  # every column keeps its distribution
    found = drift.compare_attributions(
        profile.attributions, attribution_profile(explainer, current[COLUMNS]), THRESHOLD
    )
    assert [c.column for c in found.shifted] == ["x3"]
    assert found.shifted[0].change < -THRESHOLD  # the model leans less on x3
    report = drift.DriftReport([], None, 1000, True, DriftConfig(), attribution=found)
    assert report.alert and "x3" in report.summary()
    assert report.summary().startswith("no data drift in 0 features")
    assert report.as_dict()["attribution"]["columns"][0]["column"] == "x3"


def test_a_resample_of_the_training_distribution_stays_quiet(
    fitted: tuple[Explainer, ReferenceProfile],
) -> None:
    explainer, profile = fitted
    assert profile.attributions is not None
    current = attribution_profile(explainer, rows(1000, 2)[COLUMNS])
    found = drift.compare_attributions(profile.attributions, current, THRESHOLD)
    assert found.shifted == []
    assert max(abs(c.change) for c in found.columns) < 0.05
    report = drift.DriftReport([], None, 1000, True, DriftConfig(), attribution=found)
    assert not report.alert


def test_sampling_noise_alone_does_not_shift_a_share(
    fitted: tuple[Explainer, ReferenceProfile],
) -> None:
    """Twenty explained rows: the shares move by more than the threshold, but not by more
    than three standard errors of the difference."""
    explainer, profile = fitted
    assert profile.attributions is not None
    few = summarize_attributions(explainer.explain(rows(20, 5)[COLUMNS]))
    found = drift.compare_attributions(profile.attributions, few, 0.01)
    assert max(abs(c.change) for c in found.columns) >= 0.01 and found.shifted == []


def test_profiles_of_other_columns_or_all_zero_contributions_are_refused(
    fitted: tuple[Explainer, ReferenceProfile],
) -> None:
    explainer, profile = fitted
    assert profile.attributions is not None
    other = profile.attributions.model_copy(update={"share": {"x1": 1.0}})
    with pytest.raises(ValueError, match="the reference explains 3 columns"):
        drift.compare_attributions(profile.attributions, other, THRESHOLD)
    zero = explainer.explain(rows(5, 6)[COLUMNS])
    zero = dataclasses.replace(zero, contributions=np.zeros_like(zero.contributions))
    with pytest.raises(ValueError, match="every contribution is 0"):
        summarize_attributions(zero)


def test_directions_say_what_they_found() -> None:
    contributions = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    rising = inspection._direction(
        "age", pd.Series([1.0, 2, 3, 4, 5, 6]), contributions, None, "log-odds"
    )
    assert rising.rho == pytest.approx(1.0) and rising.text.startswith("higher values raise")
    flat = inspection._direction("age", pd.Series([1.0, 2, 3, 4, 5, 6]), np.zeros(6), None, "x")
    assert flat.rho is None and "same contribution for every value" in flat.text
    flags = pd.Series([True, False] * 6)
    both_negative = np.where(flags, -0.01, -0.02)
    found = inspection._direction("member", flags, both_negative, None, "log-odds")
    assert found.raises == "True" and found.lowers == "False"
    assert "largest mean contribution" in found.text and "raises" not in found.text
