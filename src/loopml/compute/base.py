"""The one interface of loopml's compute backends, as Kedro's runners: where work runs.

A workflow says *what* to do (search these candidates, score this file, profile this data,
read and fit the training data) and calls the backend ``compute.make`` gives it; it never
asks which backend that is. ``LocalCompute`` runs on this machine (joblib threads),
``RayCompute`` on a Ray instance (``compute.backend: ray``; and ``train.distributed``, which
trains the boosters data-parallel on Ray Train). Where a backend cannot do what is asked, it
raises one ``ConfigError`` naming the key to change.

Workflow steps a backend runs but does not own (checking and splitting a sample, running one
Optuna study) are handed to it as functions: the compute layer sits under the workflows and
imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from loopml.config import DataConfig, ModelsConfig, SplitConfig
from loopml.core import training
from loopml.core.compile import Scorer
from loopml.core.data import ingest
from loopml.core.data.dialect import CsvDialect
from loopml.core.data.profile import WholeData
from loopml.core.evaluation import metrics
from loopml.core.study import SearchResult, SearchTask, TrialRecord

T = TypeVar("T")
R = TypeVar("R")
P = TypeVar("P", bound="TrainingData")

Stage = Callable[[str], None]  # a line for the user: reporter.stage or reporter.warn
OnTrial = Callable[[TrialRecord, int, int | None], None]  # record, finished, cap
ProgressFactory = Callable[[str], OnTrial]  # a candidate's name -> its progress hook
StudyPlace = Callable[[str], tuple[str, str]]  # a candidate's name -> (storage URL, study)
Predictions = tuple[pd.Series, np.ndarray, np.ndarray | None]  # labels, predicted, proba


@dataclass(frozen=True)
class Resume:
    """``--resume``: continue interrupted searches, where the backend's searches are durable.

    Attributes
    ----------
    check : Callable[[], None]
        Raises (one ``ConfigError`` line) when the interrupted search cannot go on with
        these settings; called before searching.
    report : Callable[[list[SearchResult]], None]
        Tells the user what each search kept and ran; called with the results.
    """

    check: Callable[[], None]
    report: Callable[[list[SearchResult]], None]


@dataclass(frozen=True)
class Sample:
    """Rows of the training file read where it is, brought here to be checked and split.

    Attributes
    ----------
    frame : pandas.DataFrame
        The sampled rows as the local reader reads them (CSV cells as text).
    draws : numpy.ndarray
        Each sampled row's split draw (``core.data.split.draws``), shape ``(len(frame),)``.
    rows : int
        Rows in the whole file.
    fingerprint : str
        The whole file's content fingerprint.
    dialect : CsvDialect or None
        How the CSV file is written (None for Parquet).
    """

    frame: pd.DataFrame
    draws: np.ndarray
    rows: int
    fingerprint: str
    dialect: CsvDialect | None


class TrainingData(Protocol):
    """What a backend reads of the prepared data (``workflows.prepare.Prepared``)."""

    @property
    def target(self) -> str: ...
    @property
    def task(self) -> Any: ...
    @property
    def roles(self) -> Any: ...
    @property
    def splits(self) -> Any: ...
    @property
    def contract(self) -> Any: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def warnings(self) -> tuple[str, ...]: ...
    @property
    def on_ray(self) -> Any: ...


class Compute(Protocol):
    """Where loopml's heavy work runs. Implemented by ``LocalCompute`` and ``RayCompute``.

    Attributes
    ----------
    name : str
        ``"local"`` or ``"ray"``.
    where : str
        Where work runs, for the user (``""`` on this machine, ``"Ray (local instance)"``).
    """

    name: str
    where: str

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        on_done: Callable[[R], None] | None = None,
    ) -> list[R]:
        """``fn`` over ``items`` in parallel on this machine, results in input order."""
        ...

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
        """Every candidate's hyper-parameter search, one ``SearchResult`` per task, in order;
        ``resume`` continues interrupted ones where the backend can (else ``warn`` says so)."""
        ...

    def score_file(
        self,
        scorer: Scorer,
        source: Path,
        *,
        batch_rows: int,
        found: CsvDialect | None,
        stage: Stage,
    ) -> Iterator[pd.DataFrame]:
        """Ids then predictions of every row of ``source``, in input order, in batches."""
        ...

    def profile_data(
        self,
        data: DataConfig,
        *,
        sample_rows: int,
        seed: int,
        prepare: Callable[[ingest.Table | None], P],
        stage: Stage,
    ) -> tuple[P, WholeData | None]:
        """The data to profile, prepared by ``prepare`` (given the rows read, or None to
        read them itself), and the column statistics of every row when only a sample of
        them is in ``P``."""
        ...

    def training_session(self, source: str) -> AbstractContextManager[None]:
        """The backend for a whole training (a Ray instance stays up while it runs, holding
        the rows ``read_training`` placed), its failures raised as one-line loopml errors
        about ``source``."""
        ...

    def check_training(
        self,
        models: ModelsConfig,
        task: Any,
        *,
        seed: int,
        warn: Stage,
        search_settings: Callable[[], object],
    ) -> None:
        """Refuse, before anything runs, training settings this backend cannot train
        (``search_settings`` checks the search's, where candidates are searched)."""
        ...

    def check_variant(self, name: str) -> None:
        """Refuse ``data.variant`` ``name`` when this backend cannot apply it."""
        ...

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
        """The training data: ``here()`` where it is read whole on this machine; else a
        sample checked and split by ``sample(rows, whole)`` and, with ``whole``, every row
        placed in its split where it is."""
        ...

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
        """The fitted candidates (baseline first) and the search's outcome: ``search()``
        where candidates are searched; each booster trained once on every training row,
        and no outcome, where the data is distributed."""
        ...

    def predictions(self, data: P, model: Any, part: str) -> Predictions:
        """``model``'s labels, predictions and probabilities on every row of split ``part``."""
        ...
