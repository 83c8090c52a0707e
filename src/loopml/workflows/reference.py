"""The reference profile logged with every training run (``monitoring/reference.json``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from loopml.config import ProjectConfig
from loopml.core import training
from loopml.core.explain import Explainer, background_sample
from loopml.core.reference import AttributionSummary, attribution_profile, build_profile
from loopml.tracking.monitoring import REFERENCE_ARTIFACT
from loopml.workflows.prepare import Prepared

ARTIFACT = REFERENCE_ARTIFACT


def reference_document(
    cfg: ProjectConfig,
    data: Prepared,
    metric: str,
    best: training.Fitted,
    test_score: float,
    seconds: float | None = None,
) -> dict[str, Any]:
    """Features from the training split; predictions from the held-out rows.

    ``seconds`` bounds the attribution profile's explanations (a time-limited run: see
    ``core.reference.explain_sample``); None: no bound.

    Predictions on the training rows are overfit (too confident, too close to the labels),
    so the prediction reference comes from validation and test rows, as served rows will be.
    The attribution profile (the model's reliance on each column) comes from the test rows
    alone: with ``train.refit`` the winner is refitted on train and validation, and
    attributions on rows a model was fitted on are larger for the columns it memorised.
    """
    assert best.pipeline is not None
    held_out = pd.concat([data.splits.validation, data.splits.test], ignore_index=True)
    features = list(data.roles.features)
    predicted, _ = training.predict(best.pipeline, held_out[features], data.task)
    profile = build_profile(
        data.splits.train,
        data.roles,
        task=data.task,
        target=data.target,
        predictions=predicted,
        classes=list(getattr(best.pipeline, "classes_", [])),
        metric=metric,
        test_score=test_score,
        time_column=cfg.split.time_column,
    )
    profile.attributions = _attributions(best.pipeline, data, data.splits.test[features], seconds)
    document: dict[str, Any] = profile.model_dump(mode="json")
    document["data_end"] = _newest(data, cfg.split.time_column) or document["data_end"]
    return document


def _attributions(
    pipeline: Any, data: Prepared, test: pd.DataFrame, seconds: float | None
) -> AttributionSummary | None:
    """The attribution profile on the test rows, against the background sample the
    registered model stores (the same training rows). None for a model with no explainer,
    or with only the permutation explainer (at ~0.5 s a row for an SVM on 30 columns, the
    rows a stable profile needs would cost minutes here and at every ``loopml monitor``),
    or whose explainer fails: the profile is an extra, and training goes on without it."""
    features = list(data.roles.features)
    background = background_sample(data.splits.train[features])
    try:
        explainer = Explainer(pipeline, data.task, features, background)
        return attribution_profile(explainer, test, seconds=seconds) if explainer.exact else None
    except Exception:  # an explainer failing on a user's estimator must not lose the run
        return None


def _newest(data: Prepared, time_column: str | None) -> str | None:
    """With a time split, the training data ends at the newest row of all three parts."""
    if not time_column or time_column not in data.frame:
        return None
    moments = pd.to_datetime(data.frame[time_column], errors="coerce", format="mixed").dropna()
    return moments.max().isoformat() if len(moments) else None
