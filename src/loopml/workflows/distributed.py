"""`train.distributed: true`: LightGBM / XGBoost candidates trained data-parallel on Ray.

The preprocessing is fitted on the driver (its statistics need every training row once),
then applied to the training rows by Ray Data ``map_batches`` on the workers, and Ray
Train fits the booster on the shards. The fitted booster goes back into the same
scikit-learn pipeline a local fit would build, so scoring, logging, registering and
serving do not change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from loopml.config import ProjectConfig, Task
from loopml.core import models, training
from loopml.core.boosters import LIBRARIES, ROUNDS_PARAM, BoosterModel
from loopml.core.evaluation import metrics
from loopml.errors import ConfigError
from loopml.workflows.events import Reporter
from loopml.workflows.prepare import Prepared


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
    """The baseline and every booster candidate, fitted on the training split."""
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
        f"({cfg.train.workers} workers, {data.splits.how} split)"
    )
    done = 0

    def tick(result: training.Fitted) -> None:
        nonlocal done
        done += 1
        reporter.progress(f"fitted {result.name}", done, len(listed))
        if result.error:
            reporter.warn(f"candidate {result.name} failed and is left out: {result.error}")

    run_key = f"{cfg.name}-{cfg.training_key()}-{data.fingerprint}"
    return fit_all(cfg, problem, listed, run_key=run_key, reporter=reporter, on_done=tick)


def fit_all(
    cfg: ProjectConfig,
    problem: training.Problem,
    listed: list[training.Candidate],
    *,
    run_key: str,
    reporter: Reporter,
    on_done: Callable[[training.Fitted], None],
) -> list[training.Fitted]:
    """Fit the baseline here and each booster on Ray; a failed booster is reported, not fatal."""
    from loopml.compute import ray_data

    fitted = [training.fit_candidate(problem, listed[0])]
    on_done(fitted[0])
    with ray_data.ray_session(cfg.compute):
        for candidate in listed[1:]:
            fit = _fit_on_ray(cfg, problem, candidate, f"{run_key}-{candidate.name}", reporter)
            fitted.append(fit)
            on_done(fit)
    return fitted


def _fit_on_ray(
    cfg: ProjectConfig,
    problem: training.Problem,
    candidate: training.Candidate,
    name: str,
    reporter: Reporter,
) -> training.Fitted:
    import time

    from loopml.compute import ray_train

    started = time.perf_counter()
    estimator = candidate.estimator
    assert isinstance(estimator, BoosterModel)
    pipeline = models.build_pipeline(problem.roles, estimator)
    features = list(problem.roles.features)
    preprocess = pipeline[:-1].fit(problem.train[features], problem.train[problem.target])
    labels = estimator.encode_labels(problem.train[problem.target])
    shards = _preprocessed(problem.train[features], labels, preprocess, cfg.train.workers)
    job = ray_train.BoosterJob(
        estimator.library,
        estimator.training_params(len(getattr(estimator, "classes_", ()))),
        estimator.rounds,
        name,
    )
    reporter.stage(
        f"Training {candidate.name} on {cfg.train.workers} Ray workers "
        f"({estimator.rounds} rounds, checkpoint every {cfg.train.checkpoint_every})"
    )
    trained = ray_train.train_booster(job, shards, cfg.train)
    if trained.resumed_from:
        reporter.stage(
            f"{candidate.name} resumed from the checkpoint at round {trained.resumed_from}"
        )
    estimator.adopt(trained.model, getattr(estimator, "classes_", None))
    ray_train.forget(cfg.train, name)
    return training.Fitted(
        candidate.name,
        candidate.params,
        pipeline,
        training.score_on(pipeline, problem.train, problem),
        training.score_on(pipeline, problem.validation, problem),
        time.perf_counter() - started,
    )


def _preprocessed(frame: pd.DataFrame, labels: np.ndarray, preprocess: Any, blocks: int) -> Any:
    """The training rows as a Ray Dataset, transformed by the workers with ``map_batches``."""
    import ray.data

    from loopml.compute.ray_train import LABEL

    rows = frame.reset_index(drop=True).assign(**{LABEL: labels})
    step = -(-len(rows) // max(blocks, 1))
    dataset = ray.data.from_pandas([rows.iloc[i : i + step] for i in range(0, len(rows), step)])
    transformed = dataset.map_batches(
        functools.partial(_transform, preprocess=preprocess), batch_format="pandas"
    )
    # Transform now, on the workers: once Ray Train holds the CPUs, nothing else could run.
    return transformed.materialize()


def _transform(batch: pd.DataFrame, preprocess: Any) -> pd.DataFrame:
    from loopml.compute.ray_train import LABEL
    from loopml.core.boosters import as_dense

    matrix = as_dense(preprocess.transform(batch.drop(columns=LABEL)))
    out = pd.DataFrame(matrix, columns=[f"f{i}" for i in range(matrix.shape[1])])
    out[LABEL] = batch[LABEL].to_numpy()
    return out
