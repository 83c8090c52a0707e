"""models: the candidates and their search spaces, ensembles and rule baselines."""

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


class ModelsConfig(_Strict):
    candidates: dict[str, dict[str, Any]] | None = Field(
        None,
        description="Catalog names or import paths mapped to a search space: a value is fixed, "
        "a list is a choice, {low, high, log} a range, {} the catalog's default space. "
        "Regression candidates also take target_transform: none, log1p or [none, log1p] "
        "(added by loopml when the target is skewed).",
    )
    ensemble: EnsembleConfig = Field(default_factory=lambda: EnsembleConfig())
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
