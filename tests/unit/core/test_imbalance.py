"""Imbalance handling: resampling happens in training folds only; class weights or fallback."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from imblearn.over_sampling import RandomOverSampler
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from loopml.config import CVConfig
from loopml.core import imbalance, tuning
from loopml.core.data.roles import ColumnRoles

ROLES = ColumnRoles(numeric=("a", "b"))


class RecordingOverSampler(RandomOverSampler):
    """The real RandomOverSampler, remembering the row ids it was given to resample."""

    seen: ClassVar[list[set[float]]] = []

    def fit_resample(self, X, y, **params):  # type: ignore[no-untyped-def]
        RecordingOverSampler.seen.append(set(np.round(np.asarray(X)[:, -1], 6)))
        return super().fit_resample(X, y, **params)


def _imbalanced(rows: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    y = np.where(np.arange(rows) % 10 == 0, "rare", "common")
    return pd.DataFrame({"a": rng.normal(size=rows), "b": np.arange(rows, dtype=float), "y": y})


def test_resampling_never_touches_validation_rows() -> None:
    frame = _imbalanced()
    pipeline = imbalance.build(ROLES, LogisticRegression(), "oversample", "classification", 0)
    pipeline.set_params(resample=RecordingOverSampler(random_state=0))
    folds = tuning.make_folds(CVConfig(folds=5), frame, "y", "classification", 0, False)
    scorer = tuning.make_scorer("accuracy", "classification")
    RecordingOverSampler.seen = []
    X, y = frame[["a", "b"]], frame["y"]
    tuning.cross_validate(pipeline, X, y, folds, scorer)

    assert len(RecordingOverSampler.seen) == len(folds)  # once per training fold, not per score
    scaled_b = _scaled_b(pipeline, X, y)
    for (train, valid), seen in zip(folds, RecordingOverSampler.seen, strict=True):
        fold_scale = _scaled_b(pipeline, X.iloc[train], y.iloc[train])
        ids = {round(float(v), 6) for v in fold_scale.loc[train]}
        assert seen == ids, "the sampler saw rows outside the training fold"
        assert len(seen) == len(train) != len(frame)
    assert scaled_b is not None


def _scaled_b(pipeline: Pipeline, X: pd.DataFrame, y: pd.Series) -> pd.Series:
    """Column b as the features step scales it on these rows (the sampler sees that)."""
    features = pipeline.named_steps["features"]
    transformed = features.fit(X, y).transform(X)
    return pd.Series(np.asarray(transformed)[:, -1], index=X.index)


def test_the_served_pipeline_has_no_resampler_and_predicts_every_row() -> None:
    frame = _imbalanced()
    pipeline = imbalance.build(ROLES, LogisticRegression(), "smote", "classification", 0)
    pipeline.fit(frame[["a", "b"]], frame["y"])
    served = imbalance.without_resampler(pipeline)
    assert imbalance.RESAMPLE_STEP not in dict(served.steps)
    assert type(served) is Pipeline
    assert len(served.predict(frame[["a", "b"]])) == len(frame)


def test_class_weight_is_set_where_supported_and_falls_back_to_oversampling() -> None:
    weighted = imbalance.build(ROLES, LogisticRegression(), "class_weight", "classification", 0)
    assert weighted.named_steps["model"].class_weight == "balanced"
    applied, note = imbalance.plan("class_weight", KNeighborsClassifier(), "classification")
    assert applied == "oversample" and note and "KNeighborsClassifier" in note


def test_regression_is_never_resampled() -> None:
    assert imbalance.plan("smote", LogisticRegression(), "regression") == ("none", None)
