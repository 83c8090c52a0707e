"""One candidate's search as a durable Optuna study: interrupted searches resume.

The study lives in an Optuna storage (SQLite under the project's ``.loopml/``). Every
finished trial is committed there before the next starts, so after ``kill -9`` a resumed
search counts the finished trials against the budget and runs only the rest. A trial
that was running at the kill is marked failed and not counted.

With a share of a time limit (``tuning.Budget.share``) the search also stops inside a
trial: after each fold, a trial whose next fold would end past the candidate's deadline
stops there (pruned), and no trial starts that could not finish one fold. A fold itself is
not interrupted (a fit in a thread cannot be), so a candidate overruns by at most the part
of one fold that did not fit; one that finishes no trial is out of time (:data:`OUT_OF_TIME`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator

from loopml.core import tuning
from loopml.errors import first_line

STATE_OF = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}
OUT_OF_TIME = "out of time"  # how the error of a candidate that finished no trial in time starts


@dataclass(frozen=True)
class TrialRecord:
    """One trial of a search, as stored in the Optuna study.

    Parameters
    ----------
    number : int
        Optuna's trial number.
    params : dict of str to Any
    state : {"complete", "pruned", "failed"}
    score : float
        Mean over the folds it ran (NaN if none).
    std : float
        Population standard deviation (ddof=0) over those folds.
    folds : int
        Folds it ran before finishing or being pruned.
    seconds : float
        Wall-clock time of the trial, in seconds.
    error : str, default ""
        First line of the error of a failed trial ("interrupted" after a kill).
    """

    number: int
    params: dict[str, Any]
    state: str  # complete | pruned | failed
    score: float  # mean over the folds it ran
    std: float
    folds: int  # folds it ran before finishing or being pruned
    seconds: float
    error: str = ""


@dataclass
class SearchResult:
    """The outcome of one candidate's search.

    Parameters
    ----------
    name : str
    best_params : dict of str to Any
        Parameters of the best complete trial (empty when none completed).
    fold_scores : list of float
        Its score on each fold.
    trials : list of TrialRecord, default []
        Every trial that used budget, interrupted ones excluded.
    seconds : float, default 0.0
        Search time in seconds (summed over trials when the search resumed).
    error : str or None, default None
        Why no trial completed, if none did.
    resumed_trials : int, default 0
        Trials finished before this process started.
    fold_seconds : float, default NaN
        Seconds one fold took in the last trial that ran one (NaN when none did).
    """

    name: str
    best_params: dict[str, Any]
    fold_scores: list[float]
    trials: list[TrialRecord] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    resumed_trials: int = 0  # finished before this process started
    fold_seconds: float = math.nan

    @property
    def out_of_time(self) -> bool:
        """True when no trial finished within the candidate's share of a time limit."""
        return self.error is not None and self.error.startswith(OUT_OF_TIME)

    @property
    def cv_mean(self) -> float:
        """Mean of ``fold_scores`` (NaN when empty)."""
        return sum(self.fold_scores) / len(self.fold_scores) if self.fold_scores else math.nan

    @property
    def cv_std(self) -> float:
        """Population standard deviation (ddof=0) of ``fold_scores`` (NaN when empty)."""
        if not self.fold_scores:
            return math.nan
        mean = self.cv_mean
        return math.sqrt(sum((s - mean) ** 2 for s in self.fold_scores) / len(self.fold_scores))


@dataclass(frozen=True)
class SearchTask:
    """Everything one candidate's search needs; the estimator is built per trial.

    Parameters
    ----------
    name : str
    space : tuning.Space
    make_model : callable (dict) -> sklearn.base.BaseEstimator
        The whole pipeline for a trial's parameters.
    X : pandas.DataFrame, shape (n_rows, n_features)
    y : pandas.Series, shape (n_rows,)
    folds : tuning.Folds
    scorer : tuning.Scorer
    method : tuning.Method
    budget : tuning.Budget
    n_jobs : int, default 1
        Folds fitted at once, in threads.
    prepared : list of tuning.PreparedFold or None, default None
        Folds with the preprocessing already fitted: trials then fit only the model part
        (``make_model(params)[1:]``, the steps after "features").
    warm_starts : tuple of dict, default ()
        Configurations tried first, in order (``tuning.warm_starts``); not with a grid.
    """

    name: str
    space: tuning.Space
    make_model: Callable[[dict[str, Any]], BaseEstimator]
    X: pd.DataFrame
    y: pd.Series
    folds: tuning.Folds
    scorer: tuning.Scorer
    method: tuning.Method
    budget: tuning.Budget
    n_jobs: int = 1
    # Folds with the preprocessing already fitted: trials then fit only the model part
    # (``make_model(params)[1:]``, the steps after "features").
    prepared: list[tuning.PreparedFold] | None = None
    warm_starts: tuple[dict[str, Any], ...] = ()

    def cross_validate(
        self, params: dict[str, Any], on_fold: Callable[[int, float], bool] | None
    ) -> tuning.FoldScores:
        """Cross-validate the model built from ``params``, on prepared folds when there are some.

        Parameters
        ----------
        params : dict of str to Any
        on_fold : callable (int, float) -> bool, or None
            Called after each fold with its index and the running mean; True stops.

        Returns
        -------
        tuning.FoldScores
        """
        model = self.make_model(params)
        if self.prepared is not None:
            return tuning.cross_validate_prepared(
                model[1:], self.prepared, self.scorer, on_fold, self.n_jobs
            )
        return tuning.cross_validate(
            model, self.X, self.y, self.folds, self.scorer, on_fold, self.n_jobs
        )


def run_study(
    task: SearchTask,
    storage: str | None,
    study_name: str,
    *,
    resume: bool,
    on_trial: Callable[[TrialRecord, int, int | None], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> SearchResult:
    """Search one candidate; ``on_trial(record, finished, cap)`` after every trial.

    ``task.warm_starts`` are tried first (``optuna.Study.enqueue_trial``, within the
    budget) unless the method searches a grid. ``stop()`` returning True ends the search
    before its budget (e.g. "good enough").
    Trials left running by a killed process are marked failed and not counted; trials
    that raise are recorded as failed and the search goes on (Optuna ``catch``).

    Parameters
    ----------
    task : SearchTask
    storage : str or None
        An Optuna RDB storage URL (e.g. SQLite); None keeps the study in memory.
    study_name : str
    resume : bool
        Continue an existing study of that name; False deletes it first.
    on_trial : callable (TrialRecord, int, int or None) -> None, optional
        Called with the record, the number of finished trials and the trial cap.
    stop : callable () -> bool, optional

    Returns
    -------
    SearchResult
        With ``error`` set when no trial completed; the search itself does not raise
        for a failing trial.
    """
    import optuna

    kind, cap = task.method.plan(task.space, task.budget)
    storage_obj = _storage(storage)
    if not resume:
        _delete_if_present(storage_obj, study_name)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage_obj,
        sampler=task.method.sampler(kind, task.space),
        pruner=task.method.pruner(len(task.folds)),
        direction=task.scorer.direction,  # type: ignore[arg-type]
        load_if_exists=True,
    )
    _fail_interrupted(study)
    done_before = _finished(study)
    if kind != "grid":  # a grid is searched whole; a warm start would take a point's place
        _enqueue(study, task.warm_starts)
    remaining, seconds_left = _remaining(study, cap, task.budget.seconds)
    started = time.perf_counter()
    deadline = _Deadline(task.budget.share, seconds_left, started, len(task.folds))
    if remaining != 0 and (seconds_left is None or seconds_left > 0):
        callback = _progress_callback(on_trial, cap, stop, deadline)
        study.optimize(
            _objective(task, deadline),
            n_trials=remaining,
            timeout=seconds_left,
            callbacks=[callback],
            catch=(Exception,),
            gc_after_trial=False,
        )
    result = _result(task.name, study)
    result.fold_seconds = deadline.fold_seconds
    if result.error is not None and deadline.at is not None and not _failed_on_its_own(result):
        result.error = deadline.reason()
    result.resumed_trials = done_before
    result.seconds = _used_seconds(study) if done_before else time.perf_counter() - started
    return result


@dataclass
class _Deadline:
    """A candidate's deadline in a time-limited search, and the fold time measured so far.

    ``share``: the candidate's seconds (None: no time limit, nothing enforced inside
    trials); ``left``: what remains of them (less when resumed); ``started``:
    ``time.perf_counter()`` at the start; ``folds``: folds in a trial.
    """

    share: float | None
    left: float | None
    started: float
    folds: int
    fold_seconds: float = math.nan
    at: float | None = field(init=False)

    def __post_init__(self) -> None:
        planned = self.share is not None and self.left is not None
        self.at = self.started + max(0.0, self.left or 0.0) if planned else None

    def no_fold_fits(self) -> bool:
        """True when one more fold, as long as the last one, would end past the deadline."""
        if self.at is None:
            return False
        return (
            time.perf_counter() + (0.0 if math.isnan(self.fold_seconds) else self.fold_seconds)
            > self.at
        )

    def reason(self) -> str:
        """The leaderboard's error of a candidate that finished no trial in its share."""
        share = self.share or 0.0
        if math.isnan(self.fold_seconds):
            return f"{OUT_OF_TIME}: share {share:.1f} s, no fold fitted"
        trial = self.fold_seconds * self.folds
        return f"{OUT_OF_TIME}: trial ~{trial:.1f} s > share {share:.1f} s"


def _failed_on_its_own(result: SearchResult) -> bool:
    """A trial raised (not stopped for time): the candidate failed, it did not run late."""
    return any(t.state == "failed" and t.error and t.error != OUT_OF_TIME for t in result.trials)


def _storage(url: str | None) -> Any:
    import optuna

    if url is None:
        return None
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})


def _delete_if_present(storage: Any, study_name: str) -> None:
    import optuna

    if storage is None:
        return
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=storage)


def _fail_interrupted(study: Any) -> None:
    """Trials left RUNNING by a killed process never finish: mark them failed."""
    import optuna

    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, "error", "interrupted")  # first:
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)


def _enqueue(study: Any, warm_starts: tuple[dict[str, Any], ...]) -> None:
    """Warm starts first, each once: a resumed study skips those it already holds
    (finished, waiting or interrupted), so none is tried twice."""
    for params in warm_starts:
        study.enqueue_trial(params, skip_if_exists=True)


def _finished(study: Any) -> int:
    return sum(1 for t in study.get_trials(deepcopy=False) if _counts(t))


def _counts(trial: Any) -> bool:
    """A trial that used budget: finished, pruned, or failed on its own (not interrupted)."""
    state = trial.state.name
    return state in ("COMPLETE", "PRUNED") or (
        state == "FAIL" and trial.user_attrs.get("error") != "interrupted"
    )


def _remaining(study: Any, cap: int | None, seconds: float | None) -> tuple[int | None, Any]:
    done = _finished(study)
    left = None if cap is None else max(0, cap - done)
    seconds_left = None if seconds is None else seconds - _used_seconds(study)
    return left, seconds_left


def _used_seconds(study: Any) -> float:
    return float(sum(t.user_attrs.get("seconds", 0.0) for t in study.get_trials(deepcopy=False)))


def _objective(task: SearchTask, deadline: _Deadline) -> Callable[[Any], float]:
    import optuna

    folds = len(task.folds)

    def objective(trial: Any) -> float:
        started = time.perf_counter()
        params = tuning.suggest(trial, task.space)

        def on_fold(step: int, running_mean: float) -> bool:
            trial.report(running_mean, step)
            if deadline.at is not None:
                deadline.fold_seconds = (time.perf_counter() - started) / (step + 1)
                if step + 1 < folds and deadline.no_fold_fits():
                    trial.set_user_attr("error", OUT_OF_TIME)  # stopped, not failed
                    return True
            return bool(trial.should_prune())

        try:
            scores = task.cross_validate(params, on_fold)
        except Exception as exc:
            trial.set_user_attr("error", _first_line(exc))
            trial.set_user_attr("seconds", time.perf_counter() - started)
            raise
        trial.set_user_attr("fold_scores", scores.scores)
        trial.set_user_attr("seconds", time.perf_counter() - started)
        if scores.stopped:
            raise optuna.TrialPruned()
        if any(math.isnan(s) for s in scores.scores):
            raise ValueError(f"the metric is undefined for {task.name} (no probabilities?)")
        return scores.mean

    return objective


def _first_line(exc: BaseException) -> str:
    return first_line(exc)[:300]


def _progress_callback(
    on_trial: Callable[[TrialRecord, int, int | None], None] | None,
    cap: int | None,
    stop: Callable[[], bool] | None,
    deadline: _Deadline,
) -> Callable[[Any, Any], None]:
    def callback(study: Any, trial: Any) -> None:
        if on_trial is not None:
            on_trial(_record(trial), _finished(study), cap)
        if (stop is not None and stop()) or deadline.no_fold_fits():
            study.stop()  # a trial that could not finish one fold in time is not started

    return callback


def _record(trial: Any) -> TrialRecord:
    scores = list(trial.user_attrs.get("fold_scores", []))
    frame = pd.Series(scores, dtype=float)
    return TrialRecord(
        number=trial.number,
        params=dict(trial.params),
        state=STATE_OF.get(trial.state.name, trial.state.name.lower()),
        score=float(frame.mean()) if scores else math.nan,
        std=float(frame.std(ddof=0)) if scores else math.nan,
        folds=len(scores),
        seconds=float(trial.user_attrs.get("seconds", 0.0)),
        error=str(trial.user_attrs.get("error", "")),
    )


def _result(name: str, study: Any) -> SearchResult:
    trials = [t for t in study.get_trials(deepcopy=False) if _counts(t)]
    records = [_record(t) for t in trials]
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    if not complete:
        error = next((r.error for r in records if r.error), "no trial finished")
        return SearchResult(name, {}, [], records, error=error)
    best = study.best_trial
    return SearchResult(name, dict(best.params), list(best.user_attrs["fold_scores"]), records)
