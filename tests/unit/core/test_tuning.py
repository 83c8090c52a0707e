"""Search spaces, scorers, folds and the study: parse, reject nonsense, prune, resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from loopml.config import CVConfig
from loopml.core import tuning
from loopml.core.study import SearchTask, run_study
from loopml.errors import ConfigError


def test_list_is_a_choice_range_is_a_range_scalar_is_fixed() -> None:
    space = tuning.parse_space(
        "lightgbm",
        {
            "num_leaves": [15, 31, 63],
            "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
            "n_estimators": {"low": 50, "high": 500},
            "verbose": -1,
        },
    )
    assert space["num_leaves"] == tuning.Choice((15, 31, 63))
    assert space["learning_rate"] == tuning.Range(0.01, 0.3, log=True, integer=False)
    assert space["n_estimators"].integer  # type: ignore[union-attr]
    assert space["verbose"] == tuning.Fixed(-1)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"C": {"low": -1, "high": 10, "log": True}},
            "models.candidates.logistic_regression.C: a log range needs low > 0 (got low=-1)",
        ),
        (
            {"C": {"low": 10, "high": 1}},
            "models.candidates.logistic_regression.C: low must be below high",
        ),
        ({"C": {"low": 1, "hi": 2}}, "models.candidates.logistic_regression.C: a range needs"),
        ({"C": {"low": "a", "high": 2}}, "low and high must be numbers"),
        ({"C": []}, "models.candidates.logistic_regression.C: an empty list offers no choice"),
        ({"C": [[1, 2]]}, "choices must be numbers, strings, booleans or null"),
        ({"C": {"low": 1, "high": 2, "log": "yes"}}, "C.log: must be true or false"),
    ],
)
def test_nonsense_spaces_are_one_line_config_errors(raw: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        tuning.parse_space("logistic_regression", raw)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_unknown_metric_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^tuning.metric: unknown metric 'f2_score'"):
        tuning.make_scorer("f2_score", "classification")


def test_metric_of_the_other_task_is_refused() -> None:
    with pytest.raises(ConfigError, match="'r2' is a regression metric"):
        tuning.make_scorer("r2", "classification")


def test_scikit_learn_scorer_names_work_and_are_maximised() -> None:
    scorer = tuning.make_scorer("neg_log_loss", "classification")
    assert scorer.direction == "maximize"
    assert tuning.make_scorer("rmse", "regression").direction == "minimize"


def test_log_range_on_a_grid_is_log_spaced() -> None:
    assert tuning.Range(1e-3, 1e1, log=True).points(5) == [0.001, 0.01, 0.1, 1.0, 10.0]
    assert tuning.Range(2, 6, integer=True).points(3) == [2, 4, 6]


def _frame(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    y = np.where(x[:, 0] + 0.5 * rng.normal(size=rows) > 0, "yes", "no")
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})


def test_folds_are_stratified_seeded_and_cover_every_row_once() -> None:
    frame = _frame()
    cv = CVConfig(folds=4)
    folds = tuning.make_folds(cv, frame, "y", "classification", seed=1, time_ordered=False)
    again = tuning.make_folds(cv, frame, "y", "classification", seed=1, time_ordered=False)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again, strict=True))
    assert sorted(np.concatenate([v for _, v in folds]).tolist()) == list(range(len(frame)))
    share = (frame["y"] == "yes").mean()
    for _, valid in folds:
        assert abs((frame["y"].iloc[valid] == "yes").mean() - share) < 0.05


def test_time_series_folds_train_on_the_past_only() -> None:
    frame = _frame()
    folds = tuning.make_folds(CVConfig(), frame, "y", "classification", 0, time_ordered=True)
    assert all(train.max() < valid.min() for train, valid in folds)


def test_group_folds_keep_groups_together_and_need_the_column() -> None:
    frame = _frame().assign(g=np.arange(120) % 10)
    cv = CVConfig(kind="group", group_column="g", folds=5)
    for train, valid in tuning.make_folds(cv, frame, "y", "classification", 0, False):
        assert not set(frame["g"].iloc[train]) & set(frame["g"].iloc[valid])
    with pytest.raises(ConfigError, match=r"tuning\.cv\.group_column: no column 'nope'"):
        tuning.make_folds(
            CVConfig(kind="group", group_column="nope"), frame, "y", "classification", 0, False
        )


def test_too_many_stratified_folds_for_a_rare_class_is_a_config_error() -> None:
    frame = _frame().head(40)
    frame.loc[:2, "y"] = "rare"
    with pytest.raises(ConfigError, match=r"tuning\.cv\.folds: 5 stratified folds"):
        tuning.make_folds(CVConfig(), frame, "y", "classification", 0, False)


def _task(method: str, space: dict, trials: int, pruning: bool = True) -> SearchTask:
    frame = _frame(200)
    parsed = tuning.parse_space("logistic_regression", space)
    folds = tuning.make_folds(CVConfig(folds=5), frame, "y", "classification", 0, False)

    def make_model(params: dict) -> Pipeline:
        return Pipeline([("s", StandardScaler()), ("model", LogisticRegression(**params))])

    return SearchTask(
        "logistic_regression",
        parsed,
        make_model,
        frame[["a", "b", "c"]],
        frame["y"],
        folds,
        tuning.make_scorer("accuracy", "classification"),
        tuning.Method(method, pruning, seed=3),
        tuning.Budget(trials, None),
    )


def test_halving_prunes_weak_trials_after_few_folds() -> None:
    # C from 1e-6 (predicts one class) to 10: most draws are clearly worse than the best.
    task = _task("halving", {"C": {"low": 1e-6, "high": 10.0, "log": True}}, trials=24)
    result = run_study(task, None, "halving", resume=False)
    pruned = [t for t in result.trials if t.state == "pruned"]
    assert len(result.trials) == 24
    assert pruned, "successive halving pruned nothing"
    assert all(t.folds < 5 for t in pruned)
    assert all(t.folds == 5 for t in result.trials if t.state == "complete")
    assert result.cv_mean > 0.75


def test_same_seed_same_trials() -> None:
    space = {"C": {"low": 1e-3, "high": 10.0, "log": True}}
    first = run_study(_task("tpe", space, 8), None, "a", resume=False)
    second = run_study(_task("tpe", space, 8), None, "b", resume=False)
    assert [t.params for t in first.trials] == [t.params for t in second.trials]
    assert first.best_params == second.best_params


def test_a_finite_space_is_searched_exhaustively_within_the_budget() -> None:
    result = run_study(_task("tpe", {"C": [0.1, 1.0, 10.0]}, 10), None, "g", resume=False)
    assert sorted(t.params["C"] for t in result.trials) == [0.1, 1.0, 10.0]


def test_a_failing_configuration_is_recorded_not_raised() -> None:
    result = run_study(_task("random", {"C": [-1.0]}, 3), None, "f", resume=False)
    assert result.error and result.trials[0].state == "failed"


def test_parallel_folds_give_the_same_scores_as_one_worker() -> None:
    task = _task("random", {}, 1)
    model = task.make_model({"C": 0.5})
    one = tuning.cross_validate(model, task.X, task.y, task.folds, task.scorer)
    two = tuning.cross_validate(model, task.X, task.y, task.folds, task.scorer, n_jobs=2)
    assert one.scores == two.scores


def test_prepared_folds_score_exactly_like_the_whole_pipeline() -> None:
    from lightgbm import LGBMClassifier

    from loopml.core.data.roles import ColumnRoles
    from loopml.core.models import build_pipeline

    frame = _frame(150).assign(kind=lambda f: np.where(f["b"] > 0, "up", "down"))
    roles = ColumnRoles(numeric=("a", "b", "c"), categorical=("kind",))
    model = LGBMClassifier(n_estimators=20, random_state=0, verbose=-1, n_jobs=1)
    pipeline = build_pipeline(roles, model)
    X, y = frame[["a", "b", "c", "kind"]], frame["y"]
    folds = tuning.make_folds(CVConfig(folds=3), frame, "y", "classification", 0, False)
    scorer = tuning.make_scorer("accuracy", "classification")
    whole = tuning.cross_validate(pipeline, X, y, folds, scorer)
    prepared = tuning.prepare_folds(pipeline[0], X, y, folds)
    assert tuning.cross_validate_prepared(pipeline[1:], prepared, scorer).scores == whole.scores
