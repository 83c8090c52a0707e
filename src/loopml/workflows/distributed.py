"""`train.distributed: true`: the data on Ray Data, LightGBM / XGBoost trained on Ray Train.

The driver never reads the whole file (``compute.ray_prepare``). It checks a sample of at
most ``train.sample_rows`` rows, infers the roles, fits the preprocessing and the baseline
on the sample's training rows, and calibrates and reports on the sample. The workers split
every row, transform the training split with ``map_batches``, and Ray Train fits each
booster on all of it. Validation and test are scored on the workers over every row, so
the pick and the test metrics come from the whole data. The fitted booster goes back
into the same scikit-learn pipeline a local fit builds, so logging, registering and
serving do not change.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loopml.config import ProjectConfig, Task
from loopml.core import models, training
from loopml.core.boosters import LIBRARIES, ROUNDS_PARAM, BoosterModel
from loopml.core.data import checks, ingest, split
from loopml.core.evaluation import metrics
from loopml.errors import ConfigError
from loopml.workflows.events import Reporter
from loopml.workflows.prepare import Prepared, check, learn_contract

if TYPE_CHECKING:
    from loopml.compute.ray_prepare import RawRows


@contextmanager
def session(cfg: ProjectConfig) -> Iterator[None]:
    """Ray for the whole training: the rows placed by ``prepare`` live as long as it does."""
    from loopml.compute import ray_data

    with ray_data.ray_session(cfg.compute), ray_data.worker_errors(cfg.data.source, "training"):
        yield


def prepare(cfg: ProjectConfig, reporter: Reporter, *, whole: bool = True) -> Prepared:
    """A checked, split sample of ``data.source`` and, with ``whole``, every row split on Ray.

    Call it inside ``session``. ``whole=False`` (evaluation) reads the sample only.
    """
    from loopml.compute import ray_prepare, ray_profile

    ray_profile.refuse_sql(cfg.data, "train.distributed reads", "set train.distributed: false")
    reporter.stage(f"Reading {cfg.data.source} on Ray")
    raw = ray_prepare.open_rows(cfg.data.source, cfg.split.seed, cfg.data.csv)
    data, cutoffs = _sample(cfg, raw, reporter, whole)
    if not whole:
        return data
    reporter.stage(f"Splitting all {raw.rows:,} rows on Ray ({data.splits.how})")
    classes = data.task == "classification"
    placed = ray_prepare.place(raw, data.contract, data.target, cfg.split, cutoffs, classes=classes)
    warnings = data.warnings
    if placed.unlabelled:
        warnings += (f"target '{data.target}': dropped {placed.unlabelled:,} rows with no label",)
        reporter.warn(warnings[-1])
    return dataclasses.replace(data, warnings=warnings, on_ray=placed)


def _sample(
    cfg: ProjectConfig, raw: RawRows, reporter: Reporter, whole: bool
) -> tuple[Prepared, tuple[pd.Timestamp, pd.Timestamp] | None]:
    """The sample, checked and split as every row will be; and the time cutoffs, if any."""
    from loopml.compute import ray_prepare

    frame = ray_prepare.sample(raw, cfg.data.source, cfg.train.sample_rows)
    sampled = raw.rows > len(frame)
    if sampled:
        reporter.stage(f"Checking a sample of {len(frame):,} of the {raw.rows:,} rows")
    draws = frame.pop(ray_prepare.DRAW).to_numpy()
    table = ingest.Table(frame, cfg.data.source, raw.dialect)
    checks.check_columns_exist(frame, cfg.data, cfg.split.time_column)
    # Rows the contract reads no label in are dropped here, as the workers drop them, so
    # the draws stay beside their rows; check() learns the contract as local training does.
    target = cfg.data.target
    labelled = learn_contract(cfg, table).apply(frame[[target]])[target].notna().to_numpy()
    table = ingest.Table(frame[labelled].reset_index(drop=True), cfg.data.source, raw.dialect)
    draws = draws[labelled]
    found = check(cfg, table, reporter)
    cutoffs, places, how = _places(found.frame, draws, cfg)
    if sampled and not whole:
        how += f"; a sample of {len(frame):,} of {raw.rows:,} rows"
    splits = split.from_places(found.frame, places, how)
    data = Prepared(
        found.frame,
        cfg.data.target,
        found.task,
        found.roles,
        splits,
        raw.fingerprint,
        found.warnings,
        found.contract,
        whole_rows=raw.rows if sampled else None,
    )
    return data, cutoffs


def _places(
    frame: pd.DataFrame, draws: np.ndarray, cfg: ProjectConfig
) -> tuple[tuple[pd.Timestamp, pd.Timestamp] | None, np.ndarray, str]:
    """The sample's places, and the time cutoffs the workers place every row by."""
    column = cfg.split.time_column
    if not column:
        return None, split.place(draws, cfg.split), "hashed"
    moments = split.times(frame, column)
    cutoffs = split.time_cutoffs(moments, cfg.split)
    return cutoffs, split.place_by_time(moments, cutoffs), f"time-based on '{column}'"


def predictions(
    data: Prepared, model: Any, part: str
) -> tuple[pd.Series, np.ndarray, np.ndarray | None]:
    """``model``'s labels, predictions and probabilities on a split: every row of it on Ray."""
    from loopml.compute import ray_prepare

    assert data.on_ray is not None
    features = list(data.roles.features)
    found = ray_prepare.predictions(data.on_ray, part, model, features, data.target, data.task)
    proba = found.filter(regex=r"^p\d+$").to_numpy()
    return found["y"], found["predicted"].to_numpy(), proba if proba.shape[1] else None


def score(data: Prepared, model: Any, part: str, metric: metrics.Metric) -> float:
    """``model``'s ``metric`` on every row of one split."""
    y_true, predicted, proba = predictions(data, model, part)
    return metrics.score(metric, y_true, predicted, proba, getattr(model, "classes_", None))


def candidates(cfg: ProjectConfig, task: Task) -> list[training.Candidate]:
    """The baseline and one ``BoosterModel`` per lightgbm/xgboost entry of models.candidates."""
    chosen = cfg.models.candidates or {"lightgbm": {}, "xgboost": {}}
    listed = [training.Candidate(models.BASELINE, models.baseline(task))]
    for name, params in chosen.items():
        if name not in LIBRARIES:
            raise ConfigError(
                f"models.candidates.{name}: train.distributed trains lightgbm and xgboost; "
                "remove it or set train.distributed: false"
            )
        settings = dict(params)
        rounds = int(settings.pop(ROUNDS_PARAM, 300))
        estimator = BoosterModel(name, task, settings, rounds, cfg.split.seed)
        listed.append(training.Candidate(name, estimator, params))
    return listed


def fit(
    cfg: ProjectConfig, data: Prepared, metric: metrics.Metric, reporter: Reporter
) -> list[training.Fitted]:
    """The baseline (on the sample) and every booster (on every training row), in ``session``."""
    assert data.on_ray is not None, "distributed.fit needs distributed.prepare's rows"
    listed = candidates(cfg, data.task)
    problem = training.Problem(
        data.task,
        cfg.data.target,
        data.roles,
        metric.name,
        data.splits.train,
        data.splits.validation,
    )
    reporter.stage(
        f"Fitting the baseline and {len(listed) - 1} boosters on Ray Train "
        f"({cfg.train.n_jobs} workers, {data.on_ray.sizes['train']:,} training rows)"
    )
    run_key = f"{cfg.name}-{cfg.training_key()}-{data.fingerprint}"
    fitted = [_on_whole_validation(training.fit_candidate(problem, listed[0]), data, metric)]
    reporter.progress(f"fitted {fitted[0].name}", 1, len(listed))
    for done, candidate in enumerate(listed[1:], start=2):
        name = f"{run_key}-{candidate.name}"
        fitted.append(_fit_on_ray(cfg, data, problem, candidate, name, metric, reporter))
        reporter.progress(f"fitted {candidate.name}", done, len(listed))
    return fitted


def _on_whole_validation(
    fitted: training.Fitted, data: Prepared, metric: metrics.Metric
) -> training.Fitted:
    """``fitted`` with its validation score taken on every validation row, on Ray."""
    if fitted.pipeline is None:
        return fitted
    whole = score(data, fitted.pipeline, "validation", metric)
    return dataclasses.replace(fitted, validation_score=whole)


def _fit_on_ray(
    cfg: ProjectConfig,
    data: Prepared,
    problem: training.Problem,
    candidate: training.Candidate,
    name: str,
    metric: metrics.Metric,
    reporter: Reporter,
) -> training.Fitted:
    from loopml.compute import ray_prepare, ray_train

    assert data.on_ray is not None
    started, labels = time.perf_counter(), data.on_ray.labels
    estimator = candidate.estimator
    assert isinstance(estimator, BoosterModel)
    pipeline = models.build_pipeline(problem.roles, estimator)
    features = list(problem.roles.features)
    preprocess = pipeline[:-1].fit(problem.train[features], problem.train[problem.target])
    rows = ray_prepare.training_rows(data.on_ray, preprocess, features, problem.target)
    job = ray_train.BoosterJob(
        estimator.library,
        estimator.training_params(0 if labels is None else len(labels)),
        estimator.rounds,
        name,
    )
    reporter.stage(
        f"Training {candidate.name} on {cfg.train.n_jobs} Ray workers "
        f"({estimator.rounds} rounds, checkpoint every {cfg.train.checkpoint_every})"
    )
    trained = ray_train.train_booster(job, rows, cfg.train)
    if trained.resumed_from:
        reporter.stage(
            f"{candidate.name} resumed from the checkpoint at round {trained.resumed_from}"
        )
    estimator.adopt(trained.model, labels)
    ray_train.forget(cfg.train, name)
    fitted = training.Fitted(
        candidate.name,
        candidate.params,
        pipeline,
        training.score_on(pipeline, problem.train, problem),  # on the sample's training rows
        math.nan,
        time.perf_counter() - started,
    )
    return _on_whole_validation(fitted, data, metric)
