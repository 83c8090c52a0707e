"""Boosted trees that stop on a holdout: they stop, keep the rounds they found, and say so."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from loopml.core import early_stopping, models, training
from loopml.core.data.roles import ColumnRoles
from loopml.core.early_stopping import MAX_ROUNDS, PATIENCE, fitted_rounds, holdout

# Early stopping is opt-in (benchmarks/bench_boosting.py): a candidate turns it on so.
ON = {"early_stopping_rounds": PATIENCE, "n_estimators": MAX_ROUNDS}


def _easy(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """One informative column and one of noise: a few dozen rounds learn all there is."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n)})
    label = pd.Series(np.where(frame["signal"] + 0.3 * rng.normal(size=n) > 0, "yes", "no"))
    value = pd.Series(3 * frame["signal"] + rng.normal(size=n))
    return frame, label, value


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_catalog_lightgbm_stops_well_before_its_most_rounds_and_keeps_only_those(
    task: str,
) -> None:
    frame, label, value = _easy()
    model = models.make_estimator("lightgbm", ON, task, seed=0)  # type: ignore[arg-type]
    fitted = clone(model).fit(frame, label if task == "classification" else value)
    assert 1 <= fitted.best_iteration_ < MAX_ROUNDS // 4
    assert fitted.booster_.current_iteration() == fitted.best_iteration_  # the rest is dropped
    assert fitted_rounds(fitted) == fitted.best_iteration_


def test_without_a_holdout_every_round_is_trained() -> None:
    frame, label, _ = _easy()
    for params in ({"n_estimators": 40}, {**ON, "validation_fraction": None, "n_estimators": 40}):
        model = models.make_estimator("lightgbm", params, "classification", 0)
        assert clone(model).fit(frame, label).best_iteration_ == 40  # the default: off


def test_the_holdout_is_stratified_and_seeded() -> None:
    y = np.array(["a"] * 90 + ["b"] * 10)
    parts = holdout(y, 0.2, classify=True, seed=0)
    assert parts is not None
    train, valid = parts
    assert len(valid) == 20 and sorted(np.concatenate([train, valid])) == list(range(100))
    assert (y[valid] == "b").sum() == 2  # the class shares of the whole, on both sides
    again = holdout(y, 0.2, classify=True, seed=0)
    assert again is not None and list(again[1]) == list(valid)


def test_no_holdout_when_a_class_has_one_row_or_nothing_is_asked() -> None:
    assert holdout(np.array(["a"] * 30 + ["b"]), 0.1, classify=True, seed=0) is None
    assert holdout(np.arange(30.0), None, classify=False, seed=0) is None
    assert holdout(np.arange(1.0), 0.1, classify=False, seed=0) is None


def test_gradient_boosting_stops_with_scikit_learns_own_holdout() -> None:
    frame, label, _ = _easy(400)
    model = models.make_estimator(
        "gradient_boosting", {"n_iter_no_change": 20, "n_estimators": 500}, "classification", 0
    )
    fitted = clone(model).fit(frame, label)
    assert fitted_rounds(fitted) == fitted.n_estimators_ < fitted.n_estimators


def test_xgboost_stops_and_its_booster_keeps_only_the_rounds_found() -> None:
    pytest.importorskip("xgboost", reason="XGBoost is optional: pip install xgboost")
    import xgboost

    frame, label, value = _easy()
    for task, target in (("classification", label), ("regression", value)):
        model = models.make_estimator("xgboost", ON, task, seed=0)  # type: ignore[arg-type]
        fitted = clone(model).fit(frame, target)
        assert 1 <= fitted.best_iteration_ < MAX_ROUNDS // 4
        booster = fitted.get_booster()
        assert booster.num_boosted_rounds() == fitted.best_iteration_
        # what predict uses is what TreeSHAP (explain) and a saved copy use: every tree kept
        whole = booster.predict(xgboost.DMatrix(frame))
        answer = (
            fitted.predict_proba(frame)[:, 1] if task == "classification" else fitted.predict(frame)
        )
        np.testing.assert_allclose(whole, answer, rtol=1e-6, atol=1e-6)
    assert set(clone(model).fit(frame, value).get_xgb_params()) >= {"max_depth"}
    assert "validation_fraction" not in fitted.get_xgb_params()  # loopml's, not XGBoost's


def test_the_leaderboard_shows_the_rounds_kept() -> None:
    frame, label, _ = _easy()
    roles = ColumnRoles(numeric=("signal", "noise"))
    pipeline = models.build_pipeline(
        roles, models.make_estimator("lightgbm", {**ON, "num_leaves": 7}, "classification", 0)
    ).fit(frame, label)
    entry = training.Fitted("lightgbm", {**ON, "num_leaves": 7}, pipeline, 1.0, 1.0, 0.1)
    rounds = pipeline.steps[-1][1].best_iteration_
    assert rounds < MAX_ROUNDS
    assert entry.shown_params == {**ON, "num_leaves": 7, "best_iteration": rounds}
    assert entry.params == {**ON, "num_leaves": 7}  # what rebuilds the model stays as searched
    forest = models.build_pipeline(
        roles, models.make_estimator("random_forest", {"n_estimators": 5}, "classification", 0)
    ).fit(frame, label)
    plain = training.Fitted("random_forest", {}, forest, 1.0, 1.0, 0.1)
    assert plain.shown_params == {}
    failed = training.Fitted("lightgbm", {}, None, math.nan, math.nan, 0.0, "boom")
    assert failed.shown_params == {}


def test_fitted_rounds_is_none_for_an_unfitted_or_unboosted_model() -> None:
    assert fitted_rounds(early_stopping.EarlyStoppingLGBMClassifier()) is None
    assert fitted_rounds(models.make_estimator("ridge", {}, "regression", 0)) is None


def test_the_search_says_which_candidates_stop_early_and_how_to_turn_it_off() -> None:
    from loopml.core import tuning
    from loopml.workflows.tune import Spec, early_stopping_lines

    def spec(name: str, raw: dict | None = None) -> Spec:
        return Spec(name, tuning.parse_space(name, raw or models.default_space(name)))

    on = {**ON}
    lines = early_stopping_lines(
        [
            spec("lightgbm", on),
            spec("random_forest"),
            spec("gradient_boosting", {"n_iter_no_change": 20}),
            spec("xgboost"),  # the default: off, so nothing to say
        ],
        "classification",
    )
    assert len(lines) == 2
    assert lines[0].startswith("lightgbm: boosting stops once a held-out 10% of each fit's rows")
    assert lines[0].endswith(
        "models.candidates.lightgbm.early_stopping_rounds: null trains every round"
    )
    assert "gradient_boosting.n_iter_no_change: null" in lines[1]
    off = spec("lightgbm", {**on, "validation_fraction": None})
    assert early_stopping_lines([off], "regression") == []
