"""models: the candidates and their search spaces, ensembles, bagging and rule baselines."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from loopml.config._base import _Strict

Value = str | int | float | bool


class RuleConfig(_Strict):
    """A rule baseline: where ``when`` holds, ``then``, elsewhere ``else``.

    ``when`` is a pandas expression over the feature columns (``DataFrame.eval`` /
    ``DataFrame.query`` syntax; backticks around names with spaces). ``then`` and ``else``
    are class labels, or for regression numbers or expressions (``"fare * 1.1"``).
    """

    model_config = ConfigDict(
        extra="forbid", validate_default=True, validate_by_name=True, serialize_by_alias=True
    )

    when: str = Field(description='pandas expression, e.g. "`mean area` > 700".')
    then: Value = Field(description="Label (or number / expression) where `when` holds.")
    else_: Value = Field(alias="else", description="Label (or number / expression) elsewhere.")


class EnsembleConfig(_Strict):
    """Voting, weighted voting or stacking over the top-k tuned candidates, scored like any
    candidate. ``weighted``: greedy ensemble selection (Caruana et al., 2004) on the
    members' out-of-fold predictions picks each member's weight, as AutoGluon does."""

    method: Literal["none", "voting", "weighted", "stacking"] = "none"
    top_k: int = Field(3, ge=2, description="How many of the best candidates it combines.")


class BaggingConfig(_Strict):
    """k-fold bagging of the best candidate (AutoGluon's ``num_bag_folds``): its best
    configuration fitted on each of k training folds and the k models averaged, entered
    on the leaderboard as ``bagged_<name>`` and picked on validation like any candidate."""

    folds: int = Field(
        0,
        description="0: off. k >= 2: bag the best candidate on k folds (the search's folds "
        "when k equals tuning.cv.folds); stratified or k-fold CV only.",
    )

    @model_validator(mode="after")
    def _off_or_two(self) -> BaggingConfig:
        if self.folds == 1 or self.folds < 0:
            raise ValueError(f"folds is {self.folds}: write 0 (off) or at least 2")
        return self


class ModelsConfig(_Strict):
    candidates: dict[str, dict[str, Any]] | None = Field(
        None,
        description="Catalog names or import paths mapped to a search space: a value is fixed, "
        "a list is a choice, {low, high, log} a range, {} the catalog's default space. "
        "Regression candidates also take target_transform: none, log1p or [none, log1p] "
        "(added by loopml when the target is skewed).",
    )
    ensemble: EnsembleConfig = Field(default_factory=lambda: EnsembleConfig())
    bagging: BaggingConfig = Field(default_factory=lambda: BaggingConfig())
    rules: dict[str, RuleConfig] = Field(
        default_factory=dict,
        description="Rule baselines by name, scored on the same splits as the candidates and "
        "listed in the leaderboard beside the majority baseline.",
    )
    register_rule: str | None = Field(
        None,
        description="Tune no candidate: register this rule (a name under models.rules) as the "
        "model, to serve it before any training.",
    )

    @model_validator(mode="after")
    def _known_rule(self) -> ModelsConfig:
        if self.register_rule is not None and self.register_rule not in self.rules:
            known = ", ".join(self.rules) or "none declared"
            raise ValueError(
                f"register_rule '{self.register_rule}' is not a rule under models.rules "
                f"({known}); declare it there or fix the name"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, value: Any) -> Any:
        """A list of names, or a name with no parameters, means the catalog's defaults."""
        if not isinstance(value, dict):
            return value
        candidates = value.get("candidates")
        if isinstance(candidates, list):
            candidates = {name: {} for name in candidates}
        if isinstance(candidates, dict):
            candidates = {name: params or {} for name, params in candidates.items()}
        return {**value, "candidates": candidates}
