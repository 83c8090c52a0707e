"""Class imbalance: class weights, or resampling (imbalanced-learn) inside training folds only.

The resampler is a step of an imbalanced-learn ``Pipeline`` placed after the features and
before the model. imbalanced-learn runs such a step in ``fit`` only: rows are added or
removed in the data a fold (or the final model) is trained on, while ``predict`` and
``predict_proba`` pass validation and test rows straight through. The served pipeline
drops the step (``without_resampler``), so scoring never depends on imbalanced-learn.
"""

from __future__ import annotations

from typing import Any

from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline as ResamplingPipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from loopml.config import Task
from loopml.core.data.roles import ColumnRoles
from loopml.core.models import build_pipeline

RESAMPLE_STEP = "resample"


def resampler(strategy: str, seed: int) -> Any:
    """The imbalanced-learn sampler for a strategy, or None.

    Parameters
    ----------
    strategy : str
        "oversample" (``imblearn.over_sampling.RandomOverSampler``), "undersample"
        (``imblearn.under_sampling.RandomUnderSampler``) or "smote"
        (``imblearn.over_sampling.SMOTE`` with 3 neighbours; Chawla et al., "SMOTE:
        Synthetic Minority Over-sampling Technique", JAIR 2002); anything else gives None.
    seed : int
        The sampler's ``random_state``.

    Returns
    -------
    imblearn sampler or None
    """
    if strategy == "oversample":
        return RandomOverSampler(random_state=seed)
    if strategy == "undersample":
        return RandomUnderSampler(random_state=seed)
    if strategy == "smote":
        return SMOTE(random_state=seed, k_neighbors=3)
    return None


def plan(strategy: str, estimator: BaseEstimator, task: Task) -> tuple[str, str | None]:
    """(strategy to apply, note): class weights fall back to oversampling without support.

    Parameters
    ----------
    strategy : str
        The configured strategy: "none", "class_weight", "oversample", "undersample" or
        "smote".
    estimator : sklearn.base.BaseEstimator
        The model; "class_weight" needs a ``class_weight`` parameter.
    task : {"classification", "regression"}
        Regression is never rebalanced.

    Returns
    -------
    strategy : str
        "none" for regression or "none"; "oversample" for "class_weight" on a model
        without ``class_weight``; else ``strategy``.
    note : str or None
        Why the strategy was changed, if it was.
    """
    if task != "classification" or strategy == "none":
        return "none", None
    if strategy == "class_weight" and "class_weight" not in estimator.get_params(deep=False):
        return "oversample", (
            f"{type(estimator).__name__} takes no class_weight; its training folds are "
            "randomly oversampled instead"
        )
    return strategy, None


def build(
    roles: ColumnRoles, estimator: BaseEstimator, strategy: str, task: Task, seed: int
) -> Pipeline:
    """Features, then (in training only) the resampler, then the model.

    Parameters
    ----------
    roles : loopml.core.data.roles.ColumnRoles
        Columns by role, for ``models.build_pipeline`` (which encodes categories as the
        model's catalog record asks; one-hot under SMOTE).
    estimator : sklearn.base.BaseEstimator
        The model; with the "class_weight" strategy its ``class_weight`` is set to
        "balanced" in place (``set_params``).
    strategy : str
        The configured imbalance strategy (see ``plan``).
    task : {"classification", "regression"}
    seed : int
        The resampler's ``random_state``.

    Returns
    -------
    sklearn.pipeline.Pipeline or imblearn.pipeline.Pipeline
        Unfitted: steps ``features`` and ``model``, with a ``resample`` step between them
        (an imbalanced-learn pipeline) when a resampler applies.
    """
    applied, _ = plan(strategy, estimator, task)
    if applied == "class_weight":
        estimator = estimator.set_params(class_weight="balanced")
    sampler = resampler(applied, seed)
    # SMOTE interpolates between rows: category codes in between mean nothing, so one-hot
    pipeline = build_pipeline(roles, estimator, "one_hot" if applied == "smote" else None)
    if sampler is None:
        return pipeline
    return ResamplingPipeline([pipeline.steps[0], (RESAMPLE_STEP, sampler), pipeline.steps[1]])


def without_resampler(model: Any) -> Any:
    """A fitted pipeline as served: the resampling step (a no-op at predict time) removed.

    Nested pipelines are rebuilt without it; the fitted members of an ensemble
    (``estimators_`` and ``named_estimators_``) are replaced in place.

    Parameters
    ----------
    model : Any
        A fitted pipeline, ensemble or estimator.

    Returns
    -------
    Any
        A scikit-learn ``Pipeline`` sharing the fitted steps, or ``model`` itself.
    """
    if isinstance(model, ResamplingPipeline):
        return Pipeline([(n, s) for n, s in model.steps if n != RESAMPLE_STEP])
    if isinstance(model, Pipeline):
        return Pipeline([(n, without_resampler(s)) for n, s in model.steps])
    fitted = getattr(model, "estimators_", None)
    if isinstance(fitted, list) and fitted and hasattr(model, "named_estimators_"):
        model.estimators_ = [without_resampler(e) for e in fitted]
        for name, member in zip(model.named_estimators_, model.estimators_, strict=False):
            model.named_estimators_[name] = member
    return model
