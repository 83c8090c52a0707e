"""Confidence threshold: chosen on validation, applied by ScoringModel (abstain or fallback)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.config import ThresholdConfig
from loopml.core.data.roles import ColumnRoles
from loopml.core.evaluation import threshold
from loopml.core.models import build_pipeline
from loopml.core.scoring import ScoringModel, column_specs

CLASSES = ["cat", "dog"]
Y = np.array(["cat", "cat", "dog", "dog", "cat", "dog"])
PROBA = np.array([[0.95, 0.05], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.45, 0.55], [0.1, 0.9]])
# confidence 0.95 0.8 0.7 0.6 0.55 0.9; correct:  yes yes yes no no yes


def test_selective_counts_coverage_and_precision_above_the_threshold() -> None:
    at = threshold.selective(Y, PROBA, CLASSES, 0.7)

    assert at.coverage == pytest.approx(4 / 6)
    assert at.precision == pytest.approx(1.0)
    assert threshold.selective(Y, PROBA, CLASSES, 0.5).precision == pytest.approx(4 / 6)


def test_target_precision_picks_the_lowest_threshold_that_reaches_it() -> None:
    chosen, at, warning = threshold.choose(ThresholdConfig(target_precision=0.8), Y, PROBA, CLASSES)

    # at 0.6, the 5 most confident rows are right 4 times: 0.8; at 0.55, 4 of 6
    assert chosen.min_confidence == pytest.approx(0.6)
    assert at.precision == pytest.approx(0.8) and at.coverage == pytest.approx(5 / 6)
    assert warning == ""
    assert chosen.target_precision == 0.8


def test_unreachable_target_precision_warns_and_uses_the_most_precise_threshold() -> None:
    y = np.array(["dog", "cat"])
    proba = np.array([[0.9, 0.1], [0.8, 0.2]])  # the most confident row is wrong

    chosen, _, warning = threshold.choose(ThresholdConfig(target_precision=0.99), y, proba, CLASSES)

    assert "is not reached" in warning
    assert chosen.min_confidence == pytest.approx(0.8)  # precision 0.5 beats 0.0 at 0.9


def test_min_confidence_is_used_as_given() -> None:
    chosen, at, _ = threshold.choose(
        ThresholdConfig(min_confidence=0.75, fallback_label="unsure"), Y, PROBA, CLASSES
    )

    assert chosen == threshold.Threshold(0.75, "unsure")
    assert at.coverage == pytest.approx(3 / 6)


def test_apply_abstains_or_falls_back_below_the_threshold() -> None:
    predicted = np.array(CLASSES)[PROBA.argmax(axis=1)]

    abstain, abstained = threshold.apply(predicted, PROBA, threshold.Threshold(0.7))
    fallback, _ = threshold.apply(predicted, PROBA, threshold.Threshold(0.7, "unsure"))

    assert list(abstained) == [False, False, False, True, True, False]
    assert list(abstain) == ["cat", "cat", "dog", None, None, "dog"]
    assert list(fallback) == ["cat", "cat", "dog", "unsure", "unsure", "dog"]


def test_threshold_round_trips_through_model_metadata() -> None:
    original = threshold.Threshold(0.62, "other", 0.9)

    assert threshold.Threshold.from_dict(original.as_dict()) == original
    assert threshold.Threshold.from_dict(None) is None


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    roles = ColumnRoles(numeric=("x",))
    x = pd.DataFrame({"x": np.linspace(-3, 3, 200)})
    y = np.where(x["x"] > 0, "dog", "cat")
    pipeline = build_pipeline(roles, LogisticRegression()).fit(x, y)
    return ScoringModel(
        pipeline=pipeline,
        task="classification",
        target="animal",
        columns=column_specs(roles),
        classes=list(pipeline.classes_),
        threshold=threshold.Threshold(0.9, "unsure"),
    )


def test_scoring_model_applies_the_threshold_in_predict_and_score_frame(model) -> None:
    rows = pd.DataFrame({"x": [-3.0, 0.0, 3.0]})

    scored = model.score_frame(rows)

    assert list(model.predict(rows)) == ["cat", "unsure", "dog"]
    assert list(scored["prediction"]) == ["cat", "unsure", "dog"]
    assert list(scored["abstained"]) == [False, True, False]
    assert scored["proba_dog"].iloc[1] == pytest.approx(0.5, abs=0.1)


def test_without_a_threshold_there_is_no_abstained_column(model) -> None:
    plain = ScoringModel(**{**model.__dict__, "threshold": None})

    assert "abstained" not in plain.score_frame(pd.DataFrame({"x": [0.0]})).columns
