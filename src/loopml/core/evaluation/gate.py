"""The promotion gate: every rule of ``gate:`` checked against one evaluation.

Rules: ``min``/``max`` on test metrics (``max`` also on the fairness differences of
``evaluation.sensitive``, over the worst column), ``max_overfit_gap`` between train and held-out
scores, ``beat_champion`` (better than the champion, significantly, on the test rows neither
model was fitted on: fewer than ``min_rows`` of them fail the rule),
``behavioral: must_pass`` and ``beat_rules`` (a better test score than every rule of
``models.rules``). A version is promoted only when every rule passes.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

from loopml.config import GateConfig, Task
from loopml.core.evaluation import fairness, metrics
from loopml.core.evaluation.behavioral import BehavioralResult
from loopml.core.evaluation.significance import Comparison
from loopml.errors import ConfigError


@dataclass(frozen=True)
class Overfit:
    """Train, validation and test scores of the selection metric, and the largest gap.

    Parameters
    ----------
    metric : str
        Name of the selection metric.
    train, validation, test : float
        Its score on the training, validation and test rows.
    gap : float
        The larger of train-minus-validation and train-minus-test, sign-flipped for a
        lower-is-better metric: positive when the model does better on its training rows.
    """

    metric: str
    train: float
    validation: float
    test: float
    gap: float

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON reports).

        Returns
        -------
        dict of str to Any
        """
        return dict(self.__dict__)


def overfit(metric: metrics.Metric, train: float, validation: float, test: float) -> Overfit:
    """How much better the model does on its training rows than on held-out rows.

    Parameters
    ----------
    metric : loopml.core.evaluation.metrics.Metric
        The selection metric (its direction sets the sign of the gap).
    train, validation, test : float
        The metric on the training, validation and test rows.

    Returns
    -------
    Overfit
        With ``gap = max(s * (train - validation), s * (train - test))``, ``s`` = +1 for a
        higher-is-better metric and -1 otherwise.
    """
    sign = 1.0 if metric.higher_is_better else -1.0
    gap = max(sign * (train - validation), sign * (train - test))
    return Overfit(metric.name, train, validation, test, float(gap))


@dataclass(frozen=True)
class GateInputs:
    """Everything the gate rules are checked against, for one evaluated model version.

    Parameters
    ----------
    task : {"classification", "regression"}
    metric : loopml.core.evaluation.metrics.Metric
        The selection metric.
    test_metrics : dict of str to float
        Metric name to its value on the test rows (NaN when it cannot be computed).
    overfit : Overfit
        For ``max_overfit_gap``.
    champion : str or None, default None
        The champion's version, if there is one.
    is_champion : bool, default False
        The evaluated version is the champion itself.
    comparison : loopml.core.evaluation.significance.Comparison or None, default None
        Challenger against champion, for ``beat_champion``.
    comparison_problem : str, default ""
        Why the champion could not be compared, if it could not.
    comparison_scope : str, default ""
        The rows compared on (test rows the champion was not fitted on).
    behavioral : list of BehavioralResult, default []
        Results of the behavioural tests, for ``behavioral: must_pass``.
    fairness : loopml.core.evaluation.fairness.Fairness or None, default None
        Fairness audit of ``evaluation.sensitive``, for fairness bounds under ``gate.max``.
    rules : dict of str to float, default {}
        ``models.rules`` name to its test score on the selection metric, for ``beat_rules``.
    """

    task: Task
    metric: metrics.Metric  # the selection metric
    test_metrics: dict[str, float]
    overfit: Overfit
    champion: str | None = None  # the champion's version, if any
    is_champion: bool = False
    comparison: Comparison | None = None
    comparison_problem: str = ""  # why the champion could not be compared, if it could not
    comparison_scope: str = ""  # the rows compared on: test rows the champion was not fitted on
    behavioral: list[BehavioralResult] = field(default_factory=list)
    fairness: fairness.Fairness | None = None
    rules: dict[str, float] = field(default_factory=dict)  # models.rules: test selection metric


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one gate rule.

    Parameters
    ----------
    rule : str
        The rule's name, e.g. ``"min.f1_macro"``, ``"max_overfit_gap"``, ``"beat_champion"``.
    passed : bool
    detail : str
        One line saying why, with the values compared.
    """

    rule: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON reports).

        Returns
        -------
        dict of str to Any
        """
        return dict(self.__dict__)


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict: passed only when every rule passed.

    Parameters
    ----------
    passed : bool
    rules : list of RuleResult
        Every rule checked, in the order ``decide`` checks them.
    """

    passed: bool
    rules: list[RuleResult]

    @property
    def failed(self) -> list[RuleResult]:
        """The rules that did not pass, in order."""
        return [r for r in self.rules if not r.passed]

    def reasons(self) -> str:
        """One line for logs and errors: the failed rules with their details, or, when every rule
        passed, how many did (plus the ``beat_champion`` and ``beat_rules`` details).

        Returns
        -------
        str
        """
        if self.passed:
            champion = [
                f"; {r.rule}: {r.detail}"
                for r in self.rules
                if r.rule in ("beat_champion", "beat_rules")
            ]
            return f"all {len(self.rules)} gate rules passed" + "".join(champion)
        return "; ".join(f"{r.rule}: {r.detail}" for r in self.failed)

    def as_dict(self) -> dict[str, Any]:
        """``{"passed": bool, "rules": [RuleResult.as_dict(), ...]}`` for JSON reports.

        Returns
        -------
        dict of str to Any
        """
        return {"passed": self.passed, "rules": [r.as_dict() for r in self.rules]}


def check_config(
    gate: GateConfig, task: Task, selection: metrics.Metric, *, sensitive: list[str] | None = None
) -> None:
    """A ConfigError naming the key for a metric that is unknown, of another task or upside down;
    a fairness difference needs ``evaluation.sensitive`` and a classifier.

    Parameters
    ----------
    gate : loopml.config.GateConfig
        The ``gate:`` section.
    task : {"classification", "regression"}
    selection : loopml.core.evaluation.metrics.Metric
        The selection metric (not used by the checks).
    sensitive : list of str, optional
        The ``evaluation.sensitive`` columns.

    Raises
    ------
    loopml.errors.ConfigError
        A ``gate.min``/``gate.max`` or ``gate.beat_champion.metric`` name that is not a
        metric of ``task`` (with a close match suggested); a higher-is-better metric under
        ``max`` or a lower-is-better one under ``min``; a fairness difference under ``min``,
        for a regression task, or without ``evaluation.sensitive``.
    """
    for bound, limits in (("min", gate.min), ("max", gate.max)):
        for name in limits:
            if name in fairness.NAMES:
                _fairness_known(f"gate.{bound}.{name}", bound, task, sensitive or [])
                continue
            metric = _known(f"gate.{bound}.{name}", name, task)
            if (bound == "min") != metric.higher_is_better:
                other = "max" if bound == "min" else "min"
                way = "higher" if metric.higher_is_better else "lower"
                raise ConfigError(
                    f"gate.{bound}.{name}: {name} is better when {way}; put it under gate.{other}"
                )
    if gate.beat_champion and gate.beat_champion.metric:
        _known("gate.beat_champion.metric", gate.beat_champion.metric, task)


def beat_metric(gate: GateConfig, selection: metrics.Metric) -> metrics.Metric:
    """The metric ``beat_champion`` compares on: ``gate.beat_champion.metric`` or the selection
    metric.

    Parameters
    ----------
    gate : loopml.config.GateConfig
    selection : loopml.core.evaluation.metrics.Metric
        The selection metric, used when ``beat_champion`` names none.

    Returns
    -------
    loopml.core.evaluation.metrics.Metric
    """
    chosen = gate.beat_champion.metric if gate.beat_champion else None
    return metrics.METRICS[chosen] if chosen else selection


def _fairness_known(key: str, bound: str, task: Task, sensitive: list[str]) -> None:
    if bound == "min":
        raise ConfigError(
            f"{key}: a fairness difference is better when lower; put it under gate.max"
        )
    if task != "classification":
        raise ConfigError(
            f"{key}: fairness differences are defined for classifiers; this project is {task} "
            "(its per-group errors are in the report), so remove the rule"
        )
    if not sensitive:
        raise ConfigError(
            f"{key}: no column to audit; name them in evaluation.sensitive: [column, ...]"
        )


def _known(key: str, name: str, task: Task) -> metrics.Metric:
    fits = metrics.names_for(task)
    if name not in metrics.METRICS:
        close = difflib.get_close_matches(name, fits, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(fits)}"
        raise ConfigError(f"{key}: unknown metric '{name}'; {hint}")
    if metrics.METRICS[name].task != task:
        raise ConfigError(f"{key}: '{name}' is not a {task} metric; use one of {', '.join(fits)}")
    return metrics.METRICS[name]


def decide(gate: GateConfig, inputs: GateInputs) -> GateDecision:
    """Check every configured gate rule against one evaluation.

    Rules, in order: ``min``/``max`` bounds on test metrics and fairness differences (a
    metric that is NaN fails), ``max_overfit_gap``, ``beat_champion`` (strictly better on
    its metric with p-value below ``significance``; passes when there is no champion or
    the version is the champion), ``behavioral: must_pass`` and ``beat_rules``.

    Parameters
    ----------
    gate : loopml.config.GateConfig
        The ``gate:`` section (checked beforehand with ``check_config``).
    inputs : GateInputs
        The evaluation to judge.

    Returns
    -------
    GateDecision
        Passed only when every rule passed; a failed rule is reported, never raised.
    """
    rules = [*_bounds(gate, inputs)]
    if gate.max_overfit_gap is not None:
        rules.append(_overfit_rule(gate.max_overfit_gap, inputs.overfit))
    if gate.beat_champion is not None:
        rules.append(_champion_rule(gate, inputs))
    if gate.behavioral == "must_pass":
        rules.append(_behavioral_rule(inputs.behavioral))
    if gate.beat_rules:
        rules.append(_beat_rules_rule(inputs))
    return GateDecision(all(r.passed for r in rules), rules)


def _bounds(gate: GateConfig, inputs: GateInputs) -> list[RuleResult]:
    rules = []
    for bound, limits in (("min", gate.min), ("max", gate.max)):
        for name, limit in limits.items():
            if name in fairness.NAMES:
                rules.append(_fairness_rule(f"{bound}.{name}", name, limit, inputs.fairness))
                continue
            value = inputs.test_metrics.get(name, math.nan)
            if math.isnan(value):
                rules.append(
                    RuleResult(
                        f"{bound}.{name}", False, f"{name} cannot be computed on the test rows"
                    )
                )
                continue
            ok = value >= limit if bound == "min" else value <= limit
            sign = (">=" if ok else "<") if bound == "min" else ("<=" if ok else ">")
            rules.append(
                RuleResult(f"{bound}.{name}", ok, f"test {name} {value:.4f} {sign} {limit:g}")
            )
    return rules


def _fairness_rule(
    rule: str, name: str, limit: float, found: fairness.Fairness | None
) -> RuleResult:
    """The worst sensitive column's difference against the limit, with the groups behind it."""
    worst = found.worst(name) if found else None
    if found is None or worst is None:
        return RuleResult(rule, False, f"{name} cannot be computed on the test rows")
    value = worst.differences[name]
    ok = value <= limit
    others = [
        f"'{c.column}' {c.differences[name]:.4f}"
        for c in found.columns
        if c is not worst and not math.isnan(c.differences.get(name, math.nan))
    ]
    also = f"; also {', '.join(others)}" if others else ""
    detail = (
        f"test {name} {value:.4f} {'<=' if ok else '>'} {limit:g} on '{worst.column}' "
        f"({worst.explain(name)}{also})"
    )
    return RuleResult(rule, ok, detail)


def _overfit_rule(limit: float, fit: Overfit) -> RuleResult:
    ok = fit.gap <= limit
    detail = (
        f"{fit.metric} train {fit.train:.4f}, validation {fit.validation:.4f}, "
        f"test {fit.test:.4f}: gap {fit.gap:.4f} {'<=' if ok else '>'} {limit:g}"
    )
    return RuleResult("max_overfit_gap", ok, detail)


def _champion_rule(gate: GateConfig, inputs: GateInputs) -> RuleResult:
    rule = "beat_champion"
    if inputs.champion is None:
        return RuleResult(rule, True, "no champion yet; nothing to beat")
    if inputs.is_champion:
        return RuleResult(rule, True, f"this version is the champion (v{inputs.champion})")
    if inputs.comparison is None:
        return RuleResult(
            rule, False, inputs.comparison_problem or "no comparison with the champion"
        )
    c, settings = inputs.comparison, gate.beat_champion
    assert settings is not None
    better = (c.delta > 0) == metrics.METRICS[c.metric].higher_is_better and c.delta != 0
    ok = better and c.p_value < settings.significance
    detail = (
        f"{c.metric} {c.challenger:.4f} vs champion v{inputs.champion} {c.champion:.4f} "
        f"({c.delta:+.4f}), p={c.p_value:.3g} {'<' if c.p_value < settings.significance else '>='} "
        f"{settings.significance:g} ({_test_name(c.test)}, "
        f"{inputs.comparison_scope or f'{c.rows} rows'})"
    )
    return RuleResult(rule, ok, detail)


def _test_name(test: str) -> str:
    return "paired bootstrap" if test == "bootstrap" else "McNemar"


def _behavioral_rule(results: list[BehavioralResult]) -> RuleResult:
    failed = [r for r in results if not r.passed]
    if not results:
        return RuleResult("behavioral", True, "no behavioral tests declared")
    if not failed:
        return RuleResult("behavioral", True, f"all {len(results)} behavioral tests pass")
    listed = ", ".join(f"{r.name} ({r.agreement:.2f} < {r.required:.2f})" for r in failed)
    return RuleResult("behavioral", False, f"{len(failed)} of {len(results)} failed: {listed}")


def _beat_rules_rule(inputs: GateInputs) -> RuleResult:
    """Better than the best rule of ``models.rules`` on the same test rows (strictly)."""
    metric = inputs.metric
    scored = {n: v for n, v in inputs.rules.items() if not math.isnan(v)}
    model = inputs.test_metrics.get(metric.name, math.nan)
    if not scored or math.isnan(model):
        return RuleResult("beat_rules", False, f"{metric.name} cannot be computed on the test rows")
    sign = 1.0 if metric.higher_is_better else -1.0
    name = max(scored, key=lambda n: sign * scored[n])
    best = scored[name]
    ok = sign * (model - best) > 0
    detail = (
        f"test {metric.name} {model:.4f} {'beats' if ok else 'does not beat'} the best of "
        f"{len(scored)} rule(s), {name}, {best:.4f} ({model - best:+.4f})"
    )
    return RuleResult("beat_rules", ok, detail)
