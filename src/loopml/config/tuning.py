"""tuning: the hyperparameter search, its budget and cross-validation."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from loopml.config._base import Duration, Renamed, _Strict


class BudgetConfig(_Strict):
    """What every candidate gets, the same for each: trials and/or a time limit of search;
    and, with ``time_limit``, the time of the whole run, split fairly among them."""

    _section = "tuning.budget"
    _renamed: ClassVar[dict[str, Renamed]] = {
        "seconds": Renamed("timeout"),
        "total_seconds": Renamed("time_limit"),  # issue 18's name; a number is seconds
    }

    trials: int | None = Field(
        10, gt=0, description="Trials per candidate; unlimited (null) with only a time_limit."
    )
    timeout: Duration | None = Field(
        None, gt=0, description="Search time per candidate (as Optuna's timeout), e.g. 2m."
    )
    time_limit: Duration | None = Field(
        None,
        gt=0,
        description="The whole `loopml run`/`train`, from start to registration (and the "
        "gate), within this plus 10%: each candidate gets the same share of the search, the "
        "rest is kept for refits, ensemble, test scoring and logging; e.g. 5m (--time-limit).",
    )

    successive_halving: bool = Field(
        False,
        description="With time_limit: every candidate gets half its share, then the better "
        "half of the candidates (by CV score) share the rest of the search equally.",
    )

    @model_validator(mode="after")
    def _some_limit(self) -> BudgetConfig:
        if self.trials is None and self.timeout is None and self.time_limit is None:
            raise ValueError(
                "set tuning.budget.trials, tuning.budget.timeout or tuning.budget.time_limit"
            )
        if self.time_limit is not None and "trials" not in self.model_fields_set:
            self.trials = None  # trials unlimited within the time limit, unless set too
        return self


class CVConfig(_Strict):
    """Cross-validation folds on the training split, the same for every candidate."""

    folds: int = Field(5, ge=2, le=50)
    kind: Literal["auto", "kfold", "stratified", "group", "time_series"] = Field(
        "auto",
        description="auto: time_series with split.time_column, stratified for "
        "classification, kfold otherwise.",
    )
    group_column: str | None = Field(None, description="Rows sharing a value stay in one fold.")

    @model_validator(mode="after")
    def _group_needs_column(self) -> CVConfig:
        if self.kind == "group" and not self.group_column:
            raise ValueError("kind 'group' needs tuning.cv.group_column: <column>")
        return self


class TuningConfig(_Strict):
    """Hyperparameter search: one method behind one interface, equal budget for all."""

    method: Literal["grid", "random", "tpe", "halving"] = Field(
        "tpe", description="tpe (Optuna), random, grid, or halving (random + successive halving)."
    )
    pruning: bool = Field(True, description="Stop unpromising trials after a few folds.")
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    cv: CVConfig = Field(default_factory=CVConfig)
    metric: str | None = Field(
        None,
        description="What the search optimises: a loopml metric or any scikit-learn scorer "
        "name; default: the project's metric.",
    )
    n_jobs: int | None = Field(
        None, description="Parallel workers for the search; default compute.n_jobs."
    )
    seed: int | None = Field(None, description="Sampler, folds and models; default split.seed.")
    grid_points: int = Field(5, ge=2, description="Values a range takes in a grid search.")
    learning_curve: bool = Field(True, description="Plot score against training-set size.")
    portfolio: bool = Field(
        True,
        description="Try each catalog model's warm starts (configurations known to do well "
        "across datasets) before the sampler explores; not with method grid.",
    )
