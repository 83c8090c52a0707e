"""The Ray backends: ``compute.backend: ray``, and ``train.distributed`` training.

``RayCompute`` runs the searches on Ray Tune (``ray_tune``), scores files on Ray Data
(``ray_data``) and profiles them there (``ray_profile``); training data is read and fitted on
this machine, as locally. ``RayTrainCompute`` (``train.distributed: true``) also reads the
training data on Ray Data (``ray_prepare``: the driver holds a sample, the workers split every
row) and trains each LightGBM / XGBoost booster data-parallel on Ray Train (``ray_train``);
what Ray cannot train (another model, a rule, a data variant) is one ``ConfigError`` naming
the key to change. Ray is imported only when an operation runs.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from loopml.compute.base import (
    P,
    Predictions,
    ProgressFactory,
    Resume,
    Sample,
    Stage,
    StudyPlace,
)
from loopml.compute.batches import read_chunks, read_placed, score_chunk
from loopml.compute.local import LocalCompute
from loopml.compute.ray_errors import ray_errors
from loopml.config import ComputeConfig, DataConfig, ModelsConfig, SplitConfig, TrainConfig
from loopml.core import models, training
from loopml.core.boosters import LIBRARIES, ROUNDS_PARAM, BoosterModel
from loopml.core.compile import Scorer
from loopml.core.data import ingest
from loopml.core.data.dialect import CsvDialect
from loopml.core.data.profile import WholeData
from loopml.core.evaluation import metrics
from loopml.core.study import SearchResult, SearchTask
from loopml.errors import ConfigError, DataContractError

T = TypeVar("T")


class RayCompute(LocalCompute):
    """Searches, batch scoring and profiles on a Ray instance (``compute.address``, or a
    local one started for the work and stopped after it).

    Parameters
    ----------
    cfg : ComputeConfig
        ``address``: ``ray://HEAD_HOST:10001``, or None for a local instance.
    """

    name = "ray"

    def __init__(self, cfg: ComputeConfig):
        super().__init__(cfg)
        self.where = f"Ray ({cfg.address or 'local instance'})"

    def search(
        self,
        tasks: Sequence[SearchTask],
        progress: ProgressFactory,
        *,
        studies: StudyPlace,
        n_jobs: int,
        state_dir: Path,
        resume: Resume | None,
        warn: Stage,
    ) -> list[SearchResult]:
        """Each candidate's search as one Ray Tune experiment under ``state_dir/ray``; they
        start anew (``resume`` is only warned about)."""
        from loopml.compute import ray_tune  # imports Ray: only when asked for

        if resume is not None:
            warn("--resume applies to the local backend; Ray Tune searches start anew")
        return ray_tune.search_all(list(tasks), self.cfg, state_dir / "ray", progress)

    def score_file(
        self,
        scorer: Scorer,
        source: Path,
        *,
        batch_rows: int,
        found: CsvDialect | None,
        stage: Stage,
        extra: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Scored batches from Ray Data's ``map_batches``, in input order.

        The first rows are scored here first, so a wrong column fails in one line before Ray
        starts; a value a worker cannot read is found again here, in its row of the file.

        Raises
        ------
        ConfigError
            With ``extra`` (explanations are computed on this machine only).
        """
        if extra is not None:
            raise ConfigError(
                "compute.backend ray scores only; explain with compute.backend: local"
            )
        first = next(read_chunks(source, 100, found), None)
        if first is not None:
            score_chunk(scorer, first, source, first_row=1)
        return self._scored_on_ray(scorer, source, batch_rows, found, stage)

    def _scored_on_ray(
        self,
        scorer: Scorer,
        source: Path,
        batch_rows: int,
        found: CsvDialect | None,
        stage: Stage,
    ) -> Iterator[pd.DataFrame]:
        from loopml.compute import ray_data

        with ray_data.ray_session(self.cfg):
            stage(f"Scoring on {self.where}")
            batches = ray_data.score_file(scorer, source, batch_rows=batch_rows, found=found)
            yield from _located(batches, scorer, source, found, batch_rows)

    def profile_data(
        self,
        data: DataConfig,
        *,
        sample_rows: int,
        seed: int,
        prepare: Callable[[ingest.Table | None], P],
        stage: Stage,
    ) -> tuple[P, WholeData | None]:
        """A sample of at most ``sample_rows`` rows prepared by ``prepare``, and the column
        statistics of every row, from Ray Data.

        Raises
        ------
        ConfigError
            For a database source (Ray reads files).
        """
        from loopml.compute import ray_profile
        from loopml.compute.ray_data import ray_session

        source = data.source
        ray_profile.refuse_sql(data, "compute.backend ray profiles", "set compute.backend: local")
        with ray_session(self.cfg), ray_errors(source, "profiling"):
            stage(f"Reading {source} on Ray")
            dataset, found = ray_profile.read(source, data.csv)
            frame, rows = ray_profile.sample(dataset, source, sample_rows, seed)
            if rows > len(frame):
                stage(f"Sampled {len(frame):,} of {rows:,} rows for the row-level sections")
            prepared = prepare(ingest.Table(frame, source, found))  # CSV cells as text
            stage(f"Column statistics of all {rows:,} rows on Ray")
            classification = prepared.task == "classification"
            whole = ray_profile.whole_data(
                dataset, prepared.contract, prepared.roles, prepared.target, classification
            )
        return prepared, whole


class RayTrainCompute(RayCompute):
    """``train.distributed: true``: training data on Ray Data, boosters on Ray Train.

    Parameters
    ----------
    cfg : ComputeConfig
        Where Ray is (``compute.address``).
    train : TrainConfig
        Workers, CPUs per worker, checkpoints and the sample kept on this machine.
    """

    def __init__(self, cfg: ComputeConfig, train: TrainConfig):
        super().__init__(cfg)
        self.train = train

    @contextmanager
    def _session(self, source: str) -> Iterator[None]:
        from loopml.compute import ray_data

        with ray_data.ray_session(self.cfg), ray_errors(source, "training"):
            yield

    def training_session(self, source: str) -> AbstractContextManager[None]:
        """Ray for the whole training: the rows placed by ``read_training`` live as long as
        it does; a worker's failure is one loopml error about ``source``."""
        return self._session(source)

    def check_training(
        self,
        models: ModelsConfig,
        task: Any,
        *,
        seed: int,
        warn: Stage,
        search_settings: Callable[[], object],
    ) -> None:
        """Refuse a candidate Ray Train cannot train, and a rule to register; warn that rules
        are left out of the leaderboard.

        Raises
        ------
        ConfigError
            Naming ``models.candidates.<name>`` or ``models.register_rule``.
        """
        candidates(models, task, seed)
        if models.register_rule:
            raise ConfigError(
                "models.register_rule: a rule is registered without train.distributed; "
                "set train.distributed: false (a rule has nothing to train on Ray)"
            )
        if models.rules:
            warn(
                "models.rules: rules are scored in the leaderboard without train.distributed "
                "only; gate.beat_rules still compares on the evaluated test rows"
            )

    def check_variant(self, name: str) -> None:
        """Refuse any ``data.variant``: Ray splits the rows, no variant is applied there.

        Raises
        ------
        ConfigError
            Naming ``data.variant`` and ``train.distributed``.
        """
        raise ConfigError(
            f"data.variant '{name}' is not applied with train.distributed (its rows are split "
            "on Ray); train the variant without train.distributed"
        )

    def read_training(
        self,
        here: Callable[[], P],
        sample: Callable[[Sample, bool], tuple[P, Any]],
        *,
        data: DataConfig,
        split: SplitConfig,
        stage: Stage,
        warn: Stage,
        whole: bool = True,
    ) -> P:
        """A sample of the file read on Ray (``train.sample_rows``), checked and split by
        ``sample(rows, whole)``
        (which returns it and the time cutoffs, if any) and, with ``whole``, every row
        placed in its split on Ray (``P.on_ray``). Call it inside ``training_session``.

        Raises
        ------
        ConfigError
            For a database source.
        DataError
            For a file Ray does not read.
        """
        from loopml.compute import ray_prepare, ray_profile

        ray_profile.refuse_sql(data, "train.distributed reads", "set train.distributed: false")
        stage(f"Reading {data.source} on Ray")
        raw = ray_prepare.open_rows(data.source, split.seed, data.csv)
        frame = ray_prepare.sample(raw, data.source, self.train.sample_rows)
        draws = frame.pop(ray_prepare.DRAW).to_numpy()
        rows = Sample(frame, draws, raw.rows, raw.fingerprint, raw.dialect)
        found, cutoffs = sample(rows, whole)
        if not whole:
            return found
        stage(f"Splitting all {raw.rows:,} rows on Ray ({found.splits.how})")
        classes = found.task == "classification"
        placed = ray_prepare.place(
            raw, found.contract, found.target, split, cutoffs, classes=classes
        )
        warnings = found.warnings
        if placed.unlabelled:
            warnings += (
                f"target '{found.target}': dropped {placed.unlabelled:,} rows with no label",
            )
            warn(warnings[-1])
        replaced: P = dataclasses.replace(found, warnings=warnings, on_ray=placed)  # type: ignore[type-var]
        return replaced

    def fit(
        self,
        search: Callable[[], tuple[list[training.Fitted], T]],
        data: P,
        metric: metrics.Metric,
        *,
        models: ModelsConfig,
        seed: int,
        run_key: str,
        stage: Stage,
        progress: Callable[[str, int, int], None],
    ) -> tuple[list[training.Fitted], T | None]:
        """The baseline (on the sample) and every booster (on every training row, Ray
        Train), each scored on every validation row; no search. Inside ``training_session``."""
        assert data.on_ray is not None, "fit needs read_training's rows"
        listed = candidates(models, data.task, seed)
        problem = training.Problem(
            data.task,
            data.target,
            data.roles,
            metric.name,
            data.splits.train,
            data.splits.validation,
        )
        stage(
            f"Fitting the baseline and {len(listed) - 1} boosters on Ray Train "
            f"({self.train.n_jobs} workers, {data.on_ray.sizes['train']:,} training rows)"
        )
        baseline = training.fit_candidate(problem, listed[0])
        fitted = [self._on_whole_validation(baseline, data, metric)]
        progress(f"fitted {fitted[0].name}", 1, len(listed))
        for done, candidate in enumerate(listed[1:], start=2):
            name = f"{run_key}-{candidate.name}"
            fitted.append(self._fit_booster(data, problem, candidate, name, metric, stage))
            progress(f"fitted {candidate.name}", done, len(listed))
        return fitted, None

    def predictions(self, data: P, model: Any, part: str) -> Predictions:
        """``model``'s labels, predictions and probabilities on every row of ``part``, made
        on the workers."""
        from loopml.compute import ray_prepare

        assert data.on_ray is not None
        features = list(data.roles.features)
        found = ray_prepare.predictions(data.on_ray, part, model, features, data.target, data.task)
        proba = found.filter(regex=r"^p\d+$").to_numpy()
        return found["y"], found["predicted"].to_numpy(), proba if proba.shape[1] else None

    def _on_whole_validation(
        self, fitted: training.Fitted, data: Any, metric: metrics.Metric
    ) -> training.Fitted:
        """``fitted`` with its validation score taken on every validation row, on Ray."""
        if fitted.pipeline is None:
            return fitted
        y_true, predicted, proba = self.predictions(data, fitted.pipeline, "validation")
        classes = getattr(fitted.pipeline, "classes_", None)
        whole = metrics.score(metric, y_true, predicted, proba, classes)
        return dataclasses.replace(fitted, validation_score=whole)

    def _fit_booster(
        self,
        data: Any,
        problem: training.Problem,
        candidate: training.Candidate,
        name: str,
        metric: metrics.Metric,
        stage: Stage,
    ) -> training.Fitted:
        from loopml.compute import ray_prepare, ray_train

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
        stage(
            f"Training {candidate.name} on {self.train.n_jobs} Ray workers "
            f"({estimator.rounds} rounds, checkpoint every {self.train.checkpoint_every})"
        )
        trained = ray_train.train_booster(job, rows, self.train)
        if trained.resumed_from:
            stage(f"{candidate.name} resumed from the checkpoint at round {trained.resumed_from}")
        estimator.adopt(trained.model, labels)
        ray_train.forget(self.train, name)
        fitted = training.Fitted(
            candidate.name,
            candidate.params,
            pipeline,
            training.score_on(pipeline, problem.train, problem),  # on the sample's training rows
            math.nan,
            time.perf_counter() - started,
        )
        return self._on_whole_validation(fitted, data, metric)


def candidates(models_cfg: ModelsConfig, task: Any, seed: int) -> list[training.Candidate]:
    """The baseline and one ``BoosterModel`` per lightgbm/xgboost entry of models.candidates.

    Raises
    ------
    ConfigError
        For any other candidate, naming ``models.candidates.<name>``.
    """
    chosen = models_cfg.candidates or {"lightgbm": {}, "xgboost": {}}
    listed = [training.Candidate(models.BASELINE, models.baseline(task))]
    for name, params in chosen.items():
        if name not in LIBRARIES:
            raise ConfigError(
                f"models.candidates.{name}: train.distributed trains lightgbm and xgboost; "
                "remove it or set train.distributed: false"
            )
        settings = dict(params)
        rounds = int(settings.pop(ROUNDS_PARAM, 300))
        estimator = BoosterModel(name, task, settings, rounds, seed)
        listed.append(training.Candidate(name, estimator, params))
    return listed


def _located(
    batches: Iterator[pd.DataFrame],
    scorer: Scorer,
    source: Path,
    found: CsvDialect | None,
    chunk_rows: int,
) -> Iterator[pd.DataFrame]:
    """``batches``; a value a Ray worker could not read is found again here, in its row of
    the file (a worker sees one block and does not know where the block starts)."""
    try:
        yield from batches
    except DataContractError:
        done = 0
        for chunk in read_chunks(source, chunk_rows, found):
            read_placed(scorer, chunk, source, first_row=done + 1)
            done += len(chunk)
        raise
