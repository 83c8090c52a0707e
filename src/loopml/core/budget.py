"""A time limit for a whole run (``tuning.budget.time_limit``): the plan and the clock.

The run is timed from its start (``loopml run``/``train``, or the Python API's call) to
its end: data preparation, search, refits, ensemble, learning curve, test scoring,
MLflow logging and registration (and, for ``run``, the evaluation and the gate). What
is left when the search is about to start is split in three:

* a **fixed reserve** for what comes after the search whatever the models (test scoring,
  logging, registration, evaluation), estimated from the time the work before the search
  took (reading and checking the data and opening the tracking store do the same kind of
  work on the same machine: parsing the data, SQL on the tracking store; the imports
  before it are not counted, they are done once), times ``AFTER_TRAINING`` (or
  ``AFTER_RUN``), at least ``MIN_AFTER`` seconds;
* the **search**, every candidate the same share of it: candidates are searched
  ``at_once`` at a time, so ``ceil(candidates / at_once)`` waves share the search time
  (the fairness rule of ``workflows.tune``: same budget for every candidate);
* a **refit reserve**: refitting a candidate's best configuration on the whole training
  split costs about one fold's fit times ``folds / (folds - 1)`` (a fold fits
  ``(folds - 1) / folds`` of the rows, and the fits are close to linear in the rows for
  the catalog's models); a trial is at most the candidate's share, so one fold is at
  most ``share / folds`` and a wave of refits at most ``share / (folds - 1)``; the search
  gets ``(folds - 1) / folds`` of what is left after the fixed reserve.

After the search, a step that would not fit in what remains (a refit, the ensemble, the
learning curve, the winner's refit on train+validation) is skipped and said (:func:`late`),
with its estimate from the fold times the search measured. Once the candidates are
refitted, the reserve also grows with the size of the model that would win
(:meth:`TimePlan.for_model`, :func:`model_seconds`): logging an 11.7 MB random forest
takes seconds that a small model's run, which the fixed reserve is measured from, does
not show. The machine may have become
slower since the plan (other processes competing for the cores): a short pure-Python
workload (:func:`pace`) is timed when the plan is made and again before each such step,
and the reserve and the estimate are scaled by the ratio (never below 1).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass

TOLERANCE = 0.1  # the run ends within the limit plus this share of it
MIN_AFTER = 3.0  # seconds: the least kept for test scoring, logging and registration
# The fixed reserve as a multiple of the work before the search, measured on titanic
# (2026-12-03, a quiet 2-core machine): test scoring, logging (one child run per trial,
# about 13 ms each on SQLite: 3.5 s for titanic's ~180 trials) and registration took 7.0 s
# after 2.9 s of work before the search (2.4x); the evaluation, its report and the gate
# (run) about as much again (benchmarks/bench_time_limit.py).
AFTER_TRAINING = 2.5  # `loopml train`
AFTER_RUN = 4.0  # `loopml run`: the evaluation, its report and the gate come after training
# of the fixed reserve: the most the reference's attribution profile may take (TreeSHAP on
# taxis' 11.7 MB random forest: ~75 ms a row, 7.5 s for its 100 rows, of a 10 s reserve)
PROFILE_SHARE = 0.25
_PACE_LOOP = 150_000  # iterations of pace()'s loop: about 6 ms on a 2024 server core
# Logging a fitted model takes longer the larger it is (ONNX Runtime compiles it and
# checks its parity, skops writes it, MLflow copies it), and so does evaluating it (`run`:
# permutation importance and the slices predict with it many times). Seconds per MB of
# the pickled model, beyond the small models the fixed reserve was measured with
# (2026-12-03, taxis, a random forest of 10 then 60 trees, 3.4 then 20.5 MB refitted on
# train+validation: logging 4.9 -> 12.8 s, logging and evaluation 15.6 -> 49 s, at a
# pace() of 7.2 ms); scaled by this machine's pace against REFERENCE_PACE (model_seconds).
LOG_SECONDS_PER_MB = 0.5
EVALUATION_SECONDS_PER_MB = 1.5  # `loopml run` adds it: the evaluation and its report
# Each trial is logged as a child run (a run, a batch of params and metrics, its end):
# about 13 ms on SQLite at REFERENCE_PACE (titanic, 2026-12-03). The fixed reserve,
# measured with titanic's ~180 trials, covers a search of that size; a fast search of
# hundreds more (taxis' LightGBM trials at n_jobs 2) needs more (TimePlan.kept).
CHILD_RUN_SECONDS = 0.013
REFERENCE_PACE = 0.007  # seconds pace() took where the per-MB seconds were measured
# a ratio of paces below this is the probe's own noise (1.09-1.14 seen on a quiet machine),
# not a slower machine: it counts as 1
SLOWDOWN_NOISE = 1.25


@dataclass(frozen=True)
class Clock:
    """The run's time limit and when the run started.

    Parameters
    ----------
    limit : float
        Seconds the whole run may take (``tuning.budget.time_limit``).
    started : float
        ``time.monotonic()`` at the run's start.
    evaluates : bool, default False
        True for ``loopml run``: an evaluation and the gate come after training, and the
        fixed reserve is larger (``AFTER_RUN`` instead of ``AFTER_TRAINING``).
    work_started : float or None, default None
        ``time.monotonic()`` when the work before the search began (after the imports);
        None: at ``started``.
    """

    limit: float
    started: float
    evaluates: bool = False
    work_started: float | None = None

    @classmethod
    def start(cls, limit: float, *, evaluates: bool = False) -> Clock:
        """A clock started now.

        Parameters
        ----------
        limit : float
            Seconds, above 0.
        evaluates : bool, default False

        Returns
        -------
        Clock
        """
        return cls(limit, time.monotonic(), evaluates)

    def spent(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.started

    def left(self) -> float:
        """Seconds left of the limit (negative once past it)."""
        return self.limit - self.spent()

    def working(self) -> Clock:
        """This clock, noting that the work (reading the data) starts now.

        Returns
        -------
        Clock
        """
        return dataclasses.replace(self, work_started=time.monotonic())

    def worked(self) -> float:
        """Seconds since the work began (``work_started``, else ``started``)."""
        return time.monotonic() - (self.work_started or self.started)


@dataclass(frozen=True)
class TimePlan:
    """How a time limit is spent: what the search gets, each candidate's share, the reserve.

    Parameters
    ----------
    limit : float
        Seconds of the whole run.
    spent : float
        Seconds used before the search (data preparation, checks).
    search : float
        Seconds of search, all waves of candidates together.
    share : float
        Each candidate's seconds of search (the same for all).
    candidates : int
    at_once : int
        Candidates searched at a time (``tuning.n_jobs``, at most ``candidates``).
    after : float
        The fixed reserve: test scoring, logging, registration (and evaluation).
    trials : int or None
        The trial cap per candidate within the share (None: unlimited).
    pace : float, default NaN
        Seconds :func:`pace` took when the plan was made (NaN: not measured, no scaling).
    model_bytes : int, default 0
        The pickled size of the model that would win (:meth:`for_model`); 0 before the
        candidates are refitted.
    trials_run : int, default 0
        Trials the search ran (:meth:`for_model`), each logged as a child run.
    evaluates : bool, default False
        True for ``loopml run``: the evaluation's per-MB seconds are kept too.
    """

    limit: float
    spent: float
    search: float
    share: float
    candidates: int
    at_once: int
    after: float
    trials: int | None
    pace: float = math.nan
    model_bytes: int = 0
    evaluates: bool = False
    trials_run: int = 0

    def for_model(self, size_bytes: int, trials: int) -> TimePlan:
        """This plan, its reserve grown for logging a model of ``size_bytes``
        (:func:`model_seconds` at the plan's pace) and ``trials`` child runs; not
        compounded: the last values given count.

        Parameters
        ----------
        size_bytes : int
            The pickled size of the model that would be logged (``Fitted.size_bytes``).
        trials : int
            Trials the search ran, each logged as a child run.

        Returns
        -------
        TimePlan
        """
        return dataclasses.replace(
            self,
            model_bytes=max(0, int(size_bytes)),
            trials_run=max(0, int(trials)),
        )

    @property
    def kept(self) -> float:
        """Seconds kept for what comes after the optional steps: the fixed reserve or, when
        larger, ``MIN_AFTER`` plus logging the search's trials (``CHILD_RUN_SECONDS`` each,
        at the plan's pace), plus logging the model in hand (:func:`model_seconds`)."""
        return max(self.after, self.trials_seconds()) + self.model_seconds()

    def trials_seconds(self) -> float:
        """``MIN_AFTER`` plus logging the search's trials as child runs
        (``CHILD_RUN_SECONDS`` each, at the plan's pace)."""
        return MIN_AFTER + CHILD_RUN_SECONDS * self.trials_run * _scale(self.pace)

    def model_seconds(self) -> float:
        """Seconds of the reserve for the model in hand: :func:`model_seconds` at the
        plan's pace, with the evaluation's share for ``loopml run``."""
        return model_seconds(self.model_bytes, self.pace, evaluates=self.evaluates)

    def slowdown(self, now: float | None = None) -> float:
        """How many times slower the machine is than when the plan was made.

        Parameters
        ----------
        now : float or None
            Seconds :func:`pace` takes now; None: measured now.

        Returns
        -------
        float
            ``now / self.pace``; 1 below ``SLOWDOWN_NOISE`` (the probe's own noise) and when
            the plan's pace was not measured.
        """
        if math.isnan(self.pace) or self.pace <= 0:
            return 1.0
        ratio = (pace() if now is None else now) / self.pace
        return ratio if ratio >= SLOWDOWN_NOISE else 1.0

    @property
    def reserved(self) -> float:
        """Seconds kept after the search: refits, ensemble, logging (and evaluation)."""
        return max(0.0, self.limit - self.spent - self.search)

    def line(self) -> str:
        """The plan in one line, for the user.

        Returns
        -------
        str
            E.g. ``"time limit 60 s: 4 s spent on start-up, data and checks, search 42 s (14 s per
            candidate, 3 candidates, 1 at a time, trials unlimited), 14 s reserved for
            refits, ensemble and logging; change with --time-limit"``.
        """
        trials = "trials unlimited" if self.trials is None else f"at most {self.trials} trials"
        return (
            f"time limit {self.limit:g} s: {self.spent:.0f} s spent on start-up, data and checks, "
            f"search {self.search:.0f} s ({self.share:.1f} s per candidate, "
            f"{self.candidates} candidates, {self.at_once} at a time, {trials} "
            f"(tuning.budget.trials)), {self.reserved:.0f} s reserved for refits, ensemble "
            f"and logging; change with --time-limit"
        )


def plan(
    clock: Clock, *, candidates: int, at_once: int, folds: int, trials: int | None
) -> TimePlan:
    """Split what is left of ``clock`` between the search and what comes after it.

    Parameters
    ----------
    clock : Clock
        The run's limit and start; what it has spent is before the search.
    candidates : int
        Candidates to search, at least 1.
    at_once : int
        Candidates searched at a time, at least 1.
    folds : int
        Cross-validation folds, at least 2.
    trials : int or None
        The trial cap per candidate (None: unlimited within the share).

    Returns
    -------
    TimePlan
        ``share`` is 0 when the fixed reserve leaves nothing to search: every candidate is
        then out of time.

    Notes
    -----
    The search gets ``(left - after) * (folds - 1) / folds`` and each of the
    ``ceil(candidates / at_once)`` waves the same part of it; see the module docstring
    for where the reserve's sizes come from.
    """
    spent = clock.spent()
    factor = AFTER_RUN if clock.evaluates else AFTER_TRAINING
    after = max(MIN_AFTER, factor * clock.worked())
    at_once = max(1, min(at_once, candidates))
    waves = math.ceil(candidates / at_once)
    search = max(0.0, clock.limit - spent - after) * (folds - 1) / folds
    return TimePlan(
        limit=clock.limit,
        spent=spent,
        search=search,
        share=search / waves,
        candidates=candidates,
        at_once=at_once,
        after=after,
        trials=trials,
        pace=pace(repeats=7),
        evaluates=clock.evaluates,
    )


def refit_seconds(fold_seconds: float, folds: int) -> float:
    """A refit's estimated seconds on the whole training split, from one fold's fit.

    Parameters
    ----------
    fold_seconds : float
        Seconds one cross-validation fold took (fit and score), NaN when unknown.
    folds : int
        Number of folds, at least 2: a fold fits ``(folds - 1) / folds`` of the rows.

    Returns
    -------
    float
        ``fold_seconds * folds / (folds - 1)``, 0 when ``fold_seconds`` is NaN (nothing
        measured, nothing to refit).
    """
    if math.isnan(fold_seconds):
        return 0.0
    return fold_seconds * folds / (folds - 1)


def pace(repeats: int = 5) -> float:
    """Seconds a fixed single-threaded pure-Python loop takes now (median of ``repeats``).

    Timed when the plan is made and again before each step after the search: the ratio
    is how much slower the machine has become (other processes competing for the cores
    slow the logging, which is mostly Python, about as much). About 6 ms a repeat.

    Parameters
    ----------
    repeats : int, default 5

    Returns
    -------
    float
        Seconds, the median over the repeats.
    """
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        total = 0
        for i in range(_PACE_LOOP):
            total += i * i % 7
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def model_seconds(size_bytes: int, pace: float = math.nan, *, evaluates: bool = False) -> float:
    """Seconds logging (and, for ``run``, evaluating) a model of ``size_bytes`` adds to the
    fixed reserve.

    ``LOG_SECONDS_PER_MB`` (plus ``EVALUATION_SECONDS_PER_MB`` when ``evaluates``) per MB
    (2**20 bytes) of the pickled model, scaled by how much slower this machine's
    :func:`pace` is than ``REFERENCE_PACE`` (never below 1).

    Parameters
    ----------
    size_bytes : int
        Pickled size, bytes.
    pace : float, default NaN
        Seconds :func:`pace` took on this machine (NaN: not measured, no scaling).
    evaluates : bool, default False
        True for ``loopml run``.

    Returns
    -------
    float
        Seconds, at least 0.
    """
    per_mb = LOG_SECONDS_PER_MB + (EVALUATION_SECONDS_PER_MB if evaluates else 0.0)
    return per_mb * max(0, size_bytes) / 2**20 * _scale(pace)


def _scale(pace: float) -> float:
    """How much slower this machine is than the one the per-unit seconds were measured on
    (``pace / REFERENCE_PACE``, at least 1; 1 when ``pace`` is NaN)."""
    return 1.0 if math.isnan(pace) else max(1.0, pace / REFERENCE_PACE)


def late(
    clock: Clock,
    plan: TimePlan,
    seconds: float,
    *,
    needed: bool = False,
    slowdown: float | None = None,
) -> str:
    """Why a step after the search is skipped, or "" when it still fits.

    The step's estimate and the reserve (:attr:`TimePlan.kept`: the fixed reserve and
    logging the model in hand) are both scaled by the machine's slowdown since the plan
    (:meth:`TimePlan.slowdown`). A ``needed`` step (a candidate's refit:
    without it the candidate is lost) may also use the limit's ``TOLERANCE``; an optional
    one (the ensemble, the learning curve, the refit on train+validation) may not.

    Parameters
    ----------
    clock : Clock
    plan : TimePlan
    seconds : float
        The step's estimate at the pace of the search.
    needed : bool, default False
    slowdown : float or None
        The slowdown to use; None: measured now.

    Returns
    -------
    str
        E.g. ``"it would take about 3.1 s and 1.2 s remain before the 12 s kept for test
        scoring and logging (tuning.budget.time_limit 60 s; the machine is 2.4x slower
        than when the run was planned)"``; "" when the step fits.
    """
    slow = plan.slowdown() if slowdown is None else max(1.0, slowdown)
    after = plan.kept * slow
    tolerance = TOLERANCE * plan.limit if needed else 0.0
    if fits(clock, seconds * slow - tolerance, after):
        return ""
    left = max(0.0, clock.left() - after)
    slower = (
        f"; the machine is {slow:.1f}x slower than when the run was planned" if slow > 1 else ""
    )
    model = plan.model_seconds() * slow
    trials = plan.trials_seconds()
    parts = []
    if trials > plan.after:
        parts.append(f"{trials * slow:.0f} s for logging {plan.trials_run} trials")
    if model >= 0.5:
        parts.append(f"{model:.0f} s for the {plan.model_bytes / 2**20:.1f} MB model")
    sized = "".join(f"{part}; " for part in parts)
    return (
        f"it would take about {seconds * slow:.1f} s and {left:.1f} s remain before the "
        f"{after:.0f} s kept for test scoring and logging "
        f"({sized}tuning.budget.time_limit {plan.limit:g} s{slower})"
    )


def profile_seconds(clock: Clock, plan: TimePlan, slowdown: float | None = None) -> float:
    """Seconds the reference's attribution profile may take: ``PROFILE_SHARE`` of the fixed
    reserve at the machine's pace now, and never more than that share of the time left.

    Parameters
    ----------
    clock : Clock
    plan : TimePlan
    slowdown : float or None
        None: measured now (:meth:`TimePlan.slowdown`).

    Returns
    -------
    float
        Seconds, at least 0.
    """
    slow = plan.slowdown() if slowdown is None else max(1.0, slowdown)
    return PROFILE_SHARE * max(
        0.0,
        min(plan.after * slow, clock.left() - plan.model_seconds() * slow),
    )


def fits(clock: Clock, seconds: float, after: float) -> bool:
    """True when a step of ``seconds`` still ends before the fixed reserve ``after``.

    Parameters
    ----------
    clock : Clock
    seconds : float
        The step's estimate.
    after : float
        The fixed reserve kept for what must come after (``TimePlan.after``).

    Returns
    -------
    bool
    """
    return clock.left() - after >= seconds


def first_rung(plan: TimePlan) -> float:
    """Each candidate's seconds in the first rung of successive halving across candidates.

    Half the planned share: every candidate gets it (the fairness rule holds for the
    first rung); the other half of the search goes to the better half of the candidates
    (:func:`survivors`, :func:`second_rung`). Successive halving as in Jamieson &
    Talwalkar (2016), "Non-stochastic best arm identification and hyperparameter
    optimization", with two rungs and a halving rate of 2, over candidates rather than
    configurations.

    Parameters
    ----------
    plan : TimePlan

    Returns
    -------
    float
        Seconds, ``plan.share / 2``.
    """
    return plan.share / 2


def survivors(scores: dict[str, float], *, higher_is_better: bool) -> list[str]:
    """The better half of the candidates by cross-validation score, best first.

    Parameters
    ----------
    scores : dict of str to float
        Candidate name to the CV score of its best trial; NaN (no trial finished) never
        survives.
    higher_is_better : bool
        The scorer's direction.

    Returns
    -------
    list of str
        ``ceil(n / 2)`` names of the ``n`` scored candidates; ties keep the given order.
    """
    scored = [(name, s) for name, s in scores.items() if not math.isnan(s)]
    ranked = sorted(scored, key=lambda pair: -pair[1] if higher_is_better else pair[1])
    return [name for name, _ in ranked[: math.ceil(len(ranked) / 2)]]


def second_rung(seconds: float, survivors: int, at_once: int) -> float:
    """Each survivor's extra seconds in the second rung: what is left of the search,
    split equally among the waves of survivors.

    Parameters
    ----------
    seconds : float
        Seconds of the planned search still left (``TimePlan.search`` minus what the first
        rung used); negative counts as 0.
    survivors : int
        Candidates in the second rung, at least 1.
    at_once : int
        Candidates searched at a time, at least 1.

    Returns
    -------
    float
        ``max(0, seconds) / ceil(survivors / at_once)``.
    """
    waves = math.ceil(survivors / max(1, min(at_once, survivors)))
    return max(0.0, seconds) / waves
