"""Tracking overhead: the time to log one MLflow child run per trial (in one batch per run),
as a fraction of the tuning time it records. Goal: under 5%.

The project is titanic with the three default candidates and ``--trials`` trials each. The
same run is logged twice into a fresh SQLite store: without the per-trial child runs
(named baseline: the run, the candidates and the model) and with them; the difference is
what tracking the trials costs.

Usage: python benchmarks/bench_tracking.py [--trials 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from _tuning_common import save, table, write_project

from loopml.config import load_config
from loopml.core.evaluation import metrics
from loopml.tracking.store import Tracker
from loopml.workflows import train as train_flow
from loopml.workflows import tune
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        extra = {"tuning": {"budget": {"trials": args.trials}, "learning_curve": False}}
        cfg = load_config(write_project(Path(folder), "titanic", extra))
        data = prepare(cfg, SilentReporter())
        metric = metrics.resolve(cfg.metric, data.task)
        started = time.perf_counter()
        outcome = tune.tune(cfg, data, metric, SilentReporter())
        tuning_seconds = time.perf_counter() - started
        best = outcome.entries[1]
        test, base, figure = train_flow._test_scores(data, metric, best, outcome.entries[0])
        record = train_flow._record(cfg, data, metric, outcome.entries, best, test, base, figure)
        tracker = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name)
        tracker.experiment_id()  # the store exists before timing
        without = _time_log(tracker, record, outcome.children(metric.name), trials=False)
        with_trials = _time_log(tracker, record, outcome.children(metric.name), trials=True)
    trials = sum(len(s.trials) for s in outcome.searches.values())
    cost = with_trials - without
    rows = [
        {
            "trials_logged": trials,
            "tuning_s": round(tuning_seconds, 2),
            "log_run_without_trials_s": round(without, 2),
            "log_run_with_trials_s": round(with_trials, 2),
            "trial_tracking_s": round(cost, 2),
            "ms_per_trial": round(1000 * cost / max(1, trials), 1),
            "fraction_of_tuning": round(cost / tuning_seconds, 4),
        }
    ]
    print(table(rows))
    path = save("bench_tracking", {"rows": rows})
    print(f"\nwrote {path}")


def _time_log(tracker: Tracker, record: object, children: list, *, trials: bool) -> float:
    kept = children if trials else [dataclasses.replace(c, children=[]) for c in children]
    logged = dataclasses.replace(record, children=kept)  # type: ignore[type-var]
    started = time.perf_counter()
    tracker.log_run(logged)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
