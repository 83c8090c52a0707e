"""Warm starts: each catalog model's portfolio, fitted into a space, tried before the sampler."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tests.unit.core.test_tuning import _task

from loopml.core import models, tuning
from loopml.core.study import run_study

C_SPACE = {"C": {"low": 1e-3, "high": 10.0, "log": True}}
PORTFOLIO = ({"C": 0.5}, {"C": 2.0})


@pytest.mark.parametrize("name", [n for n, m in models.MODELS.items() if m.portfolio])
def test_every_portfolio_lies_inside_its_models_default_space(name: str) -> None:
    record = models.MODELS[name]
    space = tuning.parse_space(name, record.space)
    found, notes = tuning.warm_starts(name, record.portfolio, space)
    assert notes == []
    assert found == [dict(entry) for entry in record.portfolio]
    for task in record.tasks:  # and every configuration builds
        for entry in found:
            models.make_estimator(name, entry, task, seed=0)


def test_the_boosted_trees_have_warm_starts() -> None:
    assert all(models.MODELS[n].portfolio for n in ("lightgbm", "xgboost", "gradient_boosting"))


def test_a_users_space_clips_ranges_leaves_choices_to_the_sampler_and_says_so() -> None:
    space = tuning.parse_space(
        "lightgbm",
        {
            "learning_rate": {"low": 0.06, "high": 0.2},
            "num_leaves": [15, 63],
            "min_child_samples": {"low": 5, "high": 10},
            "colsample_bytree": 0.8,  # fixed: not searched, the user's value wins
        },
    )
    found, notes = tuning.warm_starts("lightgbm", models.MODELS["lightgbm"].portfolio, space)
    assert found == [
        {"learning_rate": 0.1, "min_child_samples": 10},
        {"learning_rate": 0.06, "min_child_samples": 5},
    ]
    assert notes == [
        "models.candidates.lightgbm.num_leaves: warm start 1 has 31, not one of your choices; "
        "the sampler picks it",
        "models.candidates.lightgbm.min_child_samples: warm start 1 has 20, outside your "
        "range; tried with 10",
        "models.candidates.lightgbm.learning_rate: warm start 2 has 0.03, outside your range; "
        "tried with 0.06",
        "models.candidates.lightgbm.num_leaves: warm start 2 has 127, not one of your choices; "
        "the sampler picks it",
        "models.candidates.lightgbm.min_child_samples: warm start 2 has 3, outside your range; "
        "tried with 5",
    ]


def test_a_step_range_takes_the_nearest_step_and_repeats_are_dropped() -> None:
    space = tuning.parse_space("m", {"depth": {"low": 2, "high": 10, "step": 4}})
    found, _ = tuning.warm_starts("m", ({"depth": 5}, {"depth": 7}, {"other": 1}), space)
    assert found == [{"depth": 6}]


def test_warm_starts_are_the_first_trials_then_the_sampler_explores() -> None:
    task = dataclasses.replace(_task("tpe", C_SPACE, 5), warm_starts=PORTFOLIO)
    result = run_study(task, None, "warm", resume=False)
    assert [t.params for t in result.trials[:2]] == [dict(p) for p in PORTFOLIO]
    assert len(result.trials) == 5  # within the budget
    assert all(t.params["C"] not in (0.5, 2.0) for t in result.trials[2:])


def test_a_grid_search_is_not_warm_started() -> None:
    space = {"C": [0.01, 0.1, 1.0]}
    task = dataclasses.replace(_task("grid", space, 3), warm_starts=({"C": 1.0},))
    result = run_study(task, None, "grid", resume=False)
    assert sorted(t.params["C"] for t in result.trials) == [0.01, 0.1, 1.0]


@pytest.mark.integration
def test_a_resumed_search_does_not_try_its_warm_starts_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    first = run_study(
        dataclasses.replace(_task("random", C_SPACE, 1, pruning=False), warm_starts=PORTFOLIO),
        url,
        "s",
        resume=False,
    )
    assert [t.params for t in first.trials] == [{"C": 0.5}]
    again = run_study(
        dataclasses.replace(_task("random", C_SPACE, 4, pruning=False), warm_starts=PORTFOLIO),
        url,
        "s",
        resume=True,
    )
    assert again.resumed_trials == 1
    values = [t.params["C"] for t in again.trials]
    assert len(values) == 4 and values[:2] == [0.5, 2.0]
    assert values.count(0.5) == 1 and values.count(2.0) == 1
