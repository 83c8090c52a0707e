"""In-process compute: joblib worker threads on this machine.

Threads, not processes: scikit-learn and LightGBM release the GIL in their fitting
loops, and threads cost no process start-up or data copy (loky spent 3.5 s starting
workers for a 569-row example that fits in under a second).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from joblib import Parallel, delayed

from loopml.compute.base import (
    P,
    Predictions,
    ProgressFactory,
    Resume,
    Sample,
    Stage,
    StudyPlace,
)
from loopml.compute.batches import ahead, read_chunks, score_chunk
from loopml.config import ComputeConfig, DataConfig, ModelsConfig, SplitConfig
from loopml.core import training
from loopml.core.compile import Scorer
from loopml.core.data import ingest
from loopml.core.data.dialect import CsvDialect
from loopml.core.data.profile import WholeData
from loopml.core.evaluation import metrics
from loopml.core.study import SearchResult, SearchTask, run_study
from loopml.errors import DataError

T = TypeVar("T")
R = TypeVar("R")


class LocalCompute:
    """Every operation on this machine; independent tasks in parallel threads.

    Parameters
    ----------
    cfg : ComputeConfig
        ``n_jobs``: threads for ``map`` (``-1`` every core, ``-2`` all but one...).
    """

    name = "local"
    where = ""

    def __init__(self, cfg: ComputeConfig):
        self.cfg = cfg
        self.n_jobs = (
            cfg.n_jobs if cfg.n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + cfg.n_jobs)
        )

    @classmethod
    def threads(cls, n_jobs: int) -> LocalCompute:
        """A local backend of ``n_jobs`` threads (at least 1)."""
        made = cls(ComputeConfig())
        made.n_jobs = max(1, n_jobs)
        return made

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        on_done: Callable[[R], None] | None = None,
    ) -> list[R]:
        """``fn`` over ``items`` in up to ``n_jobs`` threads, results in input order.

        ``on_done`` is called with each result as it arrives (in input order).
        """
        items = list(items)
        workers = min(self.n_jobs, len(items)) or 1
        results: list[R] = []
        runner = Parallel(n_jobs=workers, prefer="threads", return_as="generator")
        for result in runner(delayed(fn)(item) for item in items):
            results.append(result)
            if on_done is not None:
                on_done(result)
        return results

    # -- searching -------------------------------------------------------------------------

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
        """Each candidate's search as a durable Optuna study (``studies`` names its storage
        and study), ``n_jobs`` candidates at a time; ``resume`` continues the studies
        (checked by ``resume.check`` first, reported by ``resume.report`` after)."""
        if resume is not None:
            resume.check()

        def one(task: SearchTask) -> SearchResult:
            storage, study_name = studies(task.name)
            on_trial = progress(task.name)
            return run_study(
                task, storage, study_name, resume=resume is not None, on_trial=on_trial
            )

        results = LocalCompute.threads(n_jobs).map(one, tasks)
        if resume is not None:
            resume.report(results)
        return results

    # -- batch scoring and profiling -------------------------------------------------------

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
        """Scored chunks of ``batch_rows`` rows, read and scored a chunk ahead of the caller.

        ``extra`` adds columns computed from each chunk (``--explain``'s attributions).

        Raises
        ------
        DataContractError
            For a value that does not read, naming the file, row, column and value.
        DataError
            When the file has no rows.
        """
        return ahead(self._scored(scorer, source, batch_rows, found, extra))

    @staticmethod
    def _scored(
        scorer: Scorer,
        source: Path,
        batch_rows: int,
        found: CsvDialect | None,
        extra: Callable[[pd.DataFrame], pd.DataFrame] | None,
    ) -> Iterator[pd.DataFrame]:
        done = 0
        for chunk in ahead(read_chunks(source, batch_rows, found)):  # reads while it scores
            if chunk.empty:
                continue
            scored = score_chunk(scorer, chunk, source, first_row=done + 1)
            if extra is not None:
                scored = pd.concat([scored, extra(chunk).set_axis(scored.index)], axis=1)
            yield scored
            done += len(chunk)
        if done == 0:
            raise DataError(f"{source}: no rows to score (a header only?); add rows to the file")

    def profile_data(
        self,
        data: DataConfig,
        *,
        sample_rows: int,
        seed: int,
        prepare: Callable[[ingest.Table | None], P],
        stage: Stage,
    ) -> tuple[P, WholeData | None]:
        """Every row read here by ``prepare``; no separate whole-data statistics."""
        return prepare(None), None

    # -- training --------------------------------------------------------------------------

    def training_session(self, source: str) -> AbstractContextManager[None]:
        """Nothing to start: training runs here."""
        return nullcontext()

    def check_training(
        self,
        models: ModelsConfig,
        task: Any,
        *,
        seed: int,
        warn: Stage,
        search_settings: Callable[[], object],
    ) -> None:
        """The search's settings checked (``search_settings`` raises on a bad one)."""
        search_settings()

    def check_variant(self, name: str) -> None:
        """Every ``data.variant`` applies here."""

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
        """``here()``: the data read whole on this machine."""
        return here()

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
        """``search()``: the candidates tuned and fitted here, and the search's outcome."""
        return search()

    def predictions(self, data: P, model: Any, part: str) -> Predictions:
        """``model``'s labels, predictions and probabilities on the rows of ``part`` here."""
        rows = getattr(data.splits, part)
        predicted, proba = training.predict(model, rows[list(data.roles.features)], data.task)
        return rows[data.target], predicted, proba
