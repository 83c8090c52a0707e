"""Decay: live metric on labelled rows against the test score, and its curve over time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.config import DecayConfig
from loopml.core.decay import assess
from loopml.core.evaluation.metrics import METRICS


def _rows(truth: list, predicted: list, **extra: list) -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=len(truth), freq="min", tz="UTC")
    return pd.DataFrame({"timestamp": stamps, "label": truth, "prediction": predicted, **extra})


def test_regression_drop_beyond_the_limit_is_an_alert() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(100, 20, 1000)
    predicted = truth + rng.normal(0, 15, 1000)  # r2 about 0.44
    report = assess(
        _rows(list(truth), list(predicted)),
        task="regression",
        metric=METRICS["r2"],
        classes=[],
        reference=0.9,
        settings=DecayConfig(max_drop=0.05, min_rows=200, every=250),
    )
    assert report.judged and report.alert
    assert report.drop == pytest.approx(0.9 - report.current)
    assert [p.rows for p in report.series] == [250, 250, 250, 250]
    assert "decayed" in report.summary()


def test_lower_is_better_metrics_drop_when_they_rise() -> None:
    report = assess(
        _rows([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5]),
        task="regression",
        metric=METRICS["mae"],
        classes=[],
        reference=0.2,
        settings=DecayConfig(max_drop=0.1, min_rows=4, every=10),
    )
    assert report.current == pytest.approx(0.5)
    assert report.drop == pytest.approx(0.3) and report.alert


def test_classification_labels_match_predictions_across_spellings() -> None:
    truth = [1, 0, 1, 1] * 100  # labels arrive as numbers, predictions as strings
    predicted = ["1", "0", "1", "0"] * 100
    report = assess(
        _rows(
            truth, predicted, proba_0=[0.2, 0.9, 0.1, 0.6] * 100, proba_1=[0.8, 0.1, 0.9, 0.4] * 100
        ),
        task="classification",
        metric=METRICS["accuracy"],
        classes=["0", "1"],
        reference=0.76,
        settings=DecayConfig(max_drop=0.05, min_rows=100),
    )
    assert report.current == pytest.approx(0.75)
    assert report.judged and not report.alert


def test_abstained_rows_are_left_out_and_too_few_rows_are_not_judged() -> None:
    report = assess(
        _rows(["a", "b", "a"], ["a", None, "b"]),
        task="classification",
        metric=METRICS["accuracy"],
        classes=["a", "b"],
        reference=0.9,
        settings=DecayConfig(min_rows=10),
    )
    assert report.rows == 2 and report.abstained == 1
    assert not report.judged and not report.alert
    assert "not judged" in report.summary()
