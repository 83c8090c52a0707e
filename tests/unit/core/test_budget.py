"""The plan of a time limit: the same share for every candidate, a reserve for what follows,
and a search that stops between folds at the candidate's deadline."""

from __future__ import annotations

import dataclasses
import math
import time

import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tests.unit.core.test_tuning import _task

from loopml.core import budget, tuning
from loopml.core.study import OUT_OF_TIME, SearchTask, run_study


def _clock(limit: float, spent: float, *, evaluates: bool = False) -> budget.Clock:
    return budget.Clock(limit, time.monotonic() - spent, evaluates)


@pytest.mark.parametrize(("candidates", "at_once", "waves"), [(3, 1, 3), (3, 2, 2), (4, 4, 1)])
def test_every_candidate_gets_the_same_share_of_the_search_by_waves(
    candidates: int, at_once: int, waves: int
) -> None:
    plan = budget.plan(_clock(100, 2), candidates=candidates, at_once=at_once, folds=5, trials=None)
    assert plan.after == pytest.approx(budget.AFTER_TRAINING * 2, abs=0.1)
    # the search gets (folds-1)/folds of what the fixed reserve leaves, for the refits
    assert plan.search == pytest.approx((100 - 2 - plan.after) * 4 / 5, abs=0.1)
    assert plan.share == pytest.approx(plan.search / waves)
    assert plan.spent + plan.search + plan.reserved == pytest.approx(100, abs=0.1)


def test_run_keeps_more_for_the_evaluation_and_the_gate_and_says_its_plan() -> None:
    train = budget.plan(_clock(60, 4), candidates=3, at_once=1, folds=5, trials=None)
    run = budget.plan(_clock(60, 4, evaluates=True), candidates=3, at_once=1, folds=5, trials=None)
    assert run.after > train.after and run.share < train.share
    line = train.line()
    assert line.startswith("time limit 60 s: 4 s spent on start-up, data and checks, search")
    assert f"({train.share:.1f} s per candidate, 3 candidates, 1 at a time" in line
    assert "trials unlimited" in line and line.endswith("change with --time-limit")


def test_a_limit_spent_before_the_search_leaves_no_share() -> None:
    plan = budget.plan(_clock(10, 12), candidates=2, at_once=1, folds=5, trials=3)
    assert plan.search == 0 and plan.share == 0
    assert "at most 3 trials" in plan.line()


def test_a_refit_is_a_fold_scaled_to_the_whole_training_split() -> None:
    assert budget.refit_seconds(2.0, 5) == pytest.approx(2.5)
    assert budget.refit_seconds(math.nan, 5) == 0.0
    clock = _clock(10, 5)
    assert budget.fits(clock, 1.0, after=3.0) and not budget.fits(clock, 3.0, after=3.0)


def test_a_slower_machine_scales_the_reserve_and_the_estimate_and_says_so() -> None:
    plan = budget.plan(_clock(60, 3), candidates=3, at_once=1, folds=5, trials=None)
    assert plan.pace > 0  # measured when the plan is made
    assert plan.slowdown(plan.pace / 2) == 1.0  # a faster machine never shrinks the reserve
    assert plan.slowdown(plan.pace * 1.15) == 1.0  # within the probe's own noise
    assert plan.slowdown(plan.pace * 3) == pytest.approx(3.0)
    assert budget.TimePlan(**{**plan.__dict__, "pace": math.nan}).slowdown(1.0) == 1.0
    clock = _clock(60, 60 - plan.after - 4.0)  # 4 s left beyond the reserve
    assert budget.late(clock, plan, 3.0, slowdown=1.0) == ""
    reason = budget.late(clock, plan, 3.0, slowdown=2.0)  # 6 s of step, 2x the reserve
    assert "it would take about 6.0 s" in reason
    assert f"{plan.after * 2:.0f} s kept for test scoring and logging" in reason
    assert reason.endswith("the machine is 2.0x slower than when the run was planned)")
    # a needed step (a candidate's refit) may use the limit's 10% tolerance; it is scaled too
    assert budget.late(clock, plan, 9.0, needed=True, slowdown=1.0) == ""
    assert budget.late(clock, plan, 9.0, needed=True, slowdown=3.0) != ""


def test_the_attribution_profile_gets_a_quarter_of_the_reserve_or_of_what_is_left() -> None:
    plan = budget.plan(_clock(60, 3), candidates=3, at_once=1, folds=5, trials=None)
    roomy = _clock(60, 10)  # 50 s left: a quarter of the reserve, at the pace now
    assert budget.profile_seconds(roomy, plan, slowdown=1.0) == pytest.approx(plan.after / 4)
    assert budget.profile_seconds(roomy, plan, slowdown=2.0) == pytest.approx(plan.after / 2)
    tight = _clock(60, 59)  # 1 s left: a quarter of it, whatever the reserve
    assert budget.profile_seconds(tight, plan, slowdown=2.0) == pytest.approx(0.25, abs=0.01)
    assert budget.profile_seconds(_clock(60, 70), plan, slowdown=1.0) == 0.0  # past the limit


def test_the_reserve_grows_with_the_model_that_would_win_and_says_so() -> None:
    plan = budget.plan(_clock(60, 3), candidates=3, at_once=1, folds=5, trials=None)
    plan = dataclasses.replace(plan, pace=budget.REFERENCE_PACE)  # the measured machine
    assert plan.kept == plan.after  # no model yet: the fixed reserve
    mb = 2**20
    big = plan.for_model(12 * mb, trials=0)
    assert big.kept == pytest.approx(plan.after + 12 * budget.LOG_SECONDS_PER_MB)
    assert big.for_model(mb, trials=0).kept == pytest.approx(plan.after + budget.LOG_SECONDS_PER_MB)
    # a machine twice as slow as the one measured takes twice as long per MB; a faster
    # one never shrinks it
    assert budget.model_seconds(mb, budget.REFERENCE_PACE * 2) == pytest.approx(
        2 * budget.LOG_SECONDS_PER_MB
    )
    assert budget.model_seconds(mb, budget.REFERENCE_PACE / 2) == budget.LOG_SECONDS_PER_MB
    assert budget.model_seconds(mb) == budget.LOG_SECONDS_PER_MB  # pace not measured
    # `run` evaluates the model too: its reserve per MB is larger
    run = budget.plan(_clock(60, 3, evaluates=True), candidates=3, at_once=1, folds=5, trials=None)
    run = dataclasses.replace(run, pace=budget.REFERENCE_PACE).for_model(mb, trials=0)
    assert run.kept - run.after == pytest.approx(
        budget.LOG_SECONDS_PER_MB + budget.EVALUATION_SECONDS_PER_MB
    )
    # a step that fits beside a small model's logging does not beside a 12 MB model's
    clock = _clock(60, 60 - plan.after - 4.0)
    assert budget.late(clock, plan, 3.0, slowdown=1.0) == ""
    reason = budget.late(clock, big, 3.0, slowdown=1.0)
    assert f"{big.kept:.0f} s kept for test scoring and logging" in reason
    assert f"({12 * budget.LOG_SECONDS_PER_MB:.0f} s for the 12.0 MB model; tuning" in reason
    # a search of many trials keeps time for logging each as a child run
    many = plan.for_model(0, trials=2_000)
    assert many.kept == pytest.approx(
        max(plan.after, budget.MIN_AFTER + 2_000 * budget.CHILD_RUN_SECONDS)
    )
    assert plan.for_model(0, trials=10).kept == plan.after  # the fixed reserve covers a few
    reason = budget.late(clock, many, 3.0, slowdown=1.0)
    assert f"({many.kept:.0f} s for logging 2000 trials; tuning.budget" in reason
    # the attribution profile does not take the time the model's logging needs
    roomy = _clock(60, 60 - plan.after - 12 * budget.LOG_SECONDS_PER_MB)
    assert budget.profile_seconds(roomy, big, slowdown=1.0) == pytest.approx(
        plan.after / 4, abs=0.05
    )
    tight = _clock(60, 60 - 12 * budget.LOG_SECONDS_PER_MB)  # only the model's logging left
    assert budget.profile_seconds(tight, big, slowdown=1.0) == pytest.approx(0, abs=0.05)


def test_pace_takes_milliseconds() -> None:
    assert 0 < budget.pace(repeats=3) < 1.0


def _planned(task: SearchTask, share: float, trials: int | None = None) -> SearchTask:
    planned = tuning.Budget(trials, None, time_limit=60.0, share=share)
    return SearchTask(
        task.name, task.space, task.make_model, task.X, task.y, task.folds, task.scorer,
        task.method, planned,
    )  # fmt: skip


def test_a_candidate_whose_trial_does_not_fit_its_share_is_out_of_time() -> None:
    fast = _task("random", {"C": {"low": 1e-2, "high": 10.0, "log": True}}, 1)

    def slow_model(params: dict) -> Pipeline:  # a few hundred trees: a fold takes a while
        forest = RandomForestClassifier(n_estimators=400, random_state=0, n_jobs=1)
        return Pipeline([("s", StandardScaler()), ("model", forest)])

    task = _planned(fast, share=0.05)
    task = SearchTask(
        "random_forest", tuning.parse_space("random_forest", {}), slow_model, task.X, task.y,
        task.folds, task.scorer, task.method, task.budget,
    )  # fmt: skip
    started = time.perf_counter()
    result = run_study(task, None, "slow", resume=False)
    took = time.perf_counter() - started
    assert result.out_of_time and result.error is not None
    assert result.error.startswith(f"{OUT_OF_TIME}: trial ~")
    assert result.error.endswith("> share 0.1 s")  # 0.05 shown with one decimal
    assert result.fold_seconds > 0.05
    (trial,) = result.trials
    assert trial.state == "pruned" and trial.folds == 1  # stopped after its first fold
    assert took < 0.05 + 2 * result.fold_seconds + 1.0  # one fold past the deadline at most


def test_a_share_stops_the_search_between_trials_and_keeps_what_finished() -> None:
    task = _planned(_task("random", {"C": {"low": 1e-2, "high": 10.0, "log": True}}, 1), 1.5)
    result = run_study(task, None, "fast", resume=False)
    assert result.error is None and not result.out_of_time
    assert len(result.trials) > 1  # trials unlimited: as many as fit in 1.5 s
    complete = [t for t in result.trials if t.state == "complete"]
    assert complete and all(t.folds == 5 for t in complete)
    assert result.seconds < 1.5 + 5 * result.fold_seconds + 1.0


def test_trials_and_a_share_together_stop_at_whichever_comes_first() -> None:
    task = _planned(_task("random", {"C": {"low": 1e-2, "high": 10.0, "log": True}}, 1), 30, 2)
    result = run_study(task, None, "capped", resume=False)
    assert len(result.trials) == 2 and result.seconds < 30


def test_successive_halving_gives_the_better_half_the_rest_of_the_search() -> None:
    plan = budget.plan(_clock(100, 2), candidates=4, at_once=1, folds=5, trials=None)
    assert budget.first_rung(plan) == pytest.approx(plan.share / 2)
    # accuracy: higher is better; a candidate with no finished trial (NaN) never goes on
    scores = {"a": 0.80, "b": 0.85, "c": math.nan, "d": 0.83, "e": 0.70}
    assert budget.survivors(scores, higher_is_better=True) == ["b", "d"]
    assert budget.survivors({"x": 3.0, "y": 1.0, "z": 2.0}, higher_is_better=False) == ["y", "z"]
    assert budget.survivors({"x": math.nan}, higher_is_better=True) == []
    # what is left of the search, by waves of survivors searched at once
    assert budget.second_rung(40.0, 2, 1) == pytest.approx(20.0)
    assert budget.second_rung(40.0, 2, 2) == pytest.approx(40.0)
    assert budget.second_rung(40.0, 3, 2) == pytest.approx(20.0)
    assert budget.second_rung(-1.0, 2, 1) == 0.0
