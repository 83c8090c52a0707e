"""One evaluation of a trained model on its own splits: everything the report and gate use.

Pure: it takes the model, its splits and the settings, and returns an ``Evaluation``.
Loading runs and logging results live in ``loopml.workflows.evaluate``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loopml.config import BehavioralTest, EvaluationConfig, GateConfig, RuleConfig, Task
from loopml.core import label_issues, rules, training
from loopml.core.data.roles import ColumnRoles
from loopml.core.data.split import Splits
from loopml.core.evaluation import (
    behavioral,
    fairness,
    gate,
    inspection,
    metrics,
    significance,
    slices,
)
from loopml.core.evaluation.behavioral import BehavioralResult
from loopml.core.evaluation.calibration import ReliabilityCurve, reliability_curve
from loopml.core.evaluation.fitted_rows import FittedRows, unseen
from loopml.core.evaluation.inspection import GlobalAttributions, Importance, LearningCurve
from loopml.core.evaluation.significance import Comparison
from loopml.core.evaluation.slices import Slice, SliceScore
from loopml.core.evaluation.threshold import Selective, selective
from loopml.core.reference import explain_sample
from loopml.core.scoring import ScoringModel
from loopml.errors import PredictionInputError, first_line

LEARNING_CURVE_MAX_ROWS = 20_000
WEAK_ACCURACY_POINTS = 0.05  # a classifier's slice this much less accurate is weak
WEAK_MAE_SHARE = 0.25  # a regression slice with this much more MAE is weak
WHY_APPROXIMATE = 5  # worst errors explained by the (slow) permutation explainer


@dataclass(frozen=True)
class Predictions:
    """A model's predictions on some rows.

    Parameters
    ----------
    predicted : numpy.ndarray, shape (n_rows,)
        The argmax label or the value, before any confidence threshold.
    proba : numpy.ndarray, shape (n_rows, n_classes), or None
        Class probabilities in [0, 1], columns in the model's class order.
    """

    predicted: np.ndarray  # argmax label or value, before any confidence threshold
    proba: np.ndarray | None


def score(model: ScoringModel, frame: pd.DataFrame) -> Predictions:
    """One pass through the pipeline: a classifier's label is its most probable class.

    Parameters
    ----------
    model : loopml.core.scoring.ScoringModel
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        Rows with at least the model's input columns.

    Returns
    -------
    Predictions

    Raises
    ------
    loopml.errors.PredictionInputError
        An input column is missing.
    loopml.errors.DataContractError
        A value does not read as its column's kind.
    """
    features, pipeline = model.conform(frame), model.pipeline
    if model.task == "classification" and hasattr(pipeline, "predict_proba"):
        proba = np.asarray(pipeline.predict_proba(features))
        return Predictions(np.asarray(pipeline.classes_)[proba.argmax(axis=1)], proba)
    predicted, _ = training.predict(pipeline, features, model.task)
    return Predictions(predicted, None)


@dataclass(frozen=True)
class Champion:
    """The current champion, to compare the evaluated model with.

    Parameters
    ----------
    version : str
        Its registry version.
    model : loopml.core.scoring.ScoringModel
    fitted : FittedRows or None, default None
        The rows it was fitted on; None when not recorded (then every test row is used).
    """

    version: str
    model: ScoringModel
    fitted: FittedRows | None = None  # the rows it was fitted on; None when not recorded


@dataclass(frozen=True)
class Subject:
    """The model under evaluation and the data it was trained and tested on.

    Parameters
    ----------
    model : loopml.core.scoring.ScoringModel
    splits : loopml.core.data.split.Splits
        Typed train, validation and test rows, target included.
    roles : loopml.core.data.roles.ColumnRoles
    target : str
    metric : loopml.core.evaluation.metrics.Metric
        The selection metric.
    seed : int, default 0
        Seed of every sample drawn (bootstrap, importance, explanations, behaviour).
    """

    model: ScoringModel
    splits: Splits
    roles: ColumnRoles
    target: str
    metric: metrics.Metric
    seed: int = 0


@dataclass
class Evaluation:
    """Everything one evaluation found: the report and the gate read it.

    Parameters
    ----------
    task : {"classification", "regression"}
    metric : str
        The selection metric.
    classes : list
        The classifier's classes (empty for regression).
    rows : int
        Test rows.
    metrics : dict of str to float
        The task's standard metrics and the selection metric on the test rows (NaN where
        undefined).
    y_true : numpy.ndarray, shape (n_test,)
    test : Predictions
        The predictions on the test rows.
    overfit : loopml.core.evaluation.gate.Overfit
    per_class : list of dict, default []
        Precision, recall, F1, support per class.
    confusion : numpy.ndarray, shape (n_classes, n_classes), or None
    reliability : ReliabilityCurve or None
    threshold : Selective or None
        Coverage and precision at the model's confidence threshold.
    slices, weak_slices : list of SliceScore
    slice_masks : list of Slice
    slice_metric : str
        "accuracy" or "mae".
    champion : str or None
        The champion's version.
    is_champion : bool
    comparison : Comparison or None
    comparison_problem, comparison_scope : str
        Why no comparison was made; which test rows were compared.
    simpson : str
        A Simpson's-paradox warning, or "".
    behavioral : list of BehavioralResult
    worst : pandas.DataFrame or None
        Worst errors (see ``inspection.worst_errors``), with a "why" column when explained.
    label_issues : pandas.DataFrame or None
        Test rows whose label is likely wrong (see ``core.label_issues``).
    importance : list of Importance
    attributions : GlobalAttributions or None
        None when the model has no explainer.
    learning : LearningCurve or None
    fairness : Fairness or None
        With ``evaluation.sensitive``.
    notes : list of str
        What was skipped or failed, one line each.
    rules : dict of str to float
        ``models.rules`` name to its selection metric on the test rows.
    """

    task: Task
    metric: str
    classes: list[Any]
    rows: int
    metrics: dict[str, float]
    y_true: np.ndarray
    test: Predictions
    overfit: gate.Overfit
    per_class: list[dict[str, Any]] = field(default_factory=list)
    confusion: np.ndarray | None = None
    reliability: ReliabilityCurve | None = None
    threshold: Selective | None = None
    slices: list[SliceScore] = field(default_factory=list)
    slice_masks: list[Slice] = field(default_factory=list, repr=False)
    weak_slices: list[SliceScore] = field(default_factory=list)
    slice_metric: str = ""
    champion: str | None = None
    is_champion: bool = False
    comparison: Comparison | None = None
    comparison_problem: str = ""
    comparison_scope: str = ""  # which test rows the champion was compared on, and why
    simpson: str = ""
    behavioral: list[BehavioralResult] = field(default_factory=list)
    worst: pd.DataFrame | None = None
    # test rows whose label is likely wrong, from the model's held-out predictions
    label_issues: pd.DataFrame | None = None
    importance: list[Importance] = field(default_factory=list)
    attributions: GlobalAttributions | None = None  # None: the model has no explainer
    learning: LearningCurve | None = None
    fairness: fairness.Fairness | None = None  # with evaluation.sensitive
    notes: list[str] = field(default_factory=list)
    rules: dict[str, float] = field(default_factory=dict)  # rule -> test selection metric

    def gate_inputs(self) -> gate.GateInputs:
        """What the gate rules are checked against, from this evaluation.

        Returns
        -------
        loopml.core.evaluation.gate.GateInputs
        """
        return gate.GateInputs(
            task=self.task,
            metric=metrics.METRICS[self.metric],
            test_metrics=self.metrics,
            overfit=self.overfit,
            champion=self.champion,
            is_champion=self.is_champion,
            comparison=self.comparison,
            comparison_problem=self.comparison_problem,
            comparison_scope=self.comparison_scope,
            behavioral=self.behavioral,
            fairness=self.fairness,
            rules=self.rules,
        )

    def summary(self) -> dict[str, Any]:
        """JSON-friendly numbers (no row-level arrays).

        Returns
        -------
        dict of str to Any
            Metrics (NaN as None), per-class scores, overfitting, threshold, slices, champion
            comparison, behavioural results, importance, attributions, fairness, the number
            of label issues, notes and rule scores.
        """
        return {
            "task": self.task,
            "metric": self.metric,
            "rows": self.rows,
            "metrics": {k: _plain(v) for k, v in self.metrics.items()},
            "per_class": self.per_class,
            "overfit": self.overfit.as_dict(),
            "threshold": self.threshold.as_dict() if self.threshold else None,
            "slice_metric": self.slice_metric,
            "slices": [s.as_dict() for s in self.slices],
            "weak_slices": [s.name for s in self.weak_slices],
            "champion": self.champion,
            "comparison": self.comparison.as_dict() if self.comparison else None,
            "comparison_problem": self.comparison_problem,
            "comparison_scope": self.comparison_scope,
            "simpson": self.simpson,
            "behavioral": [r.as_dict() for r in self.behavioral],
            "importance": [i.__dict__ for i in self.importance],
            "attributions": self.attributions.as_dict() if self.attributions else None,
            "fairness": self.fairness.as_dict() if self.fairness else None,
            "label_issues": None if self.label_issues is None else len(self.label_issues),
            "notes": self.notes,
            "rules": {k: _plain(v) for k, v in self.rules.items()},
        }


def assess(
    subject: Subject,
    settings: EvaluationConfig,
    tests: list[BehavioralTest],
    gate_cfg: GateConfig,
    *,
    champion: Champion | None = None,
    full: bool = True,
    rule_baselines: Mapping[str, RuleConfig] | None = None,
) -> Evaluation:
    """Metrics, slices, calibration, threshold, overfitting, champion comparison, behavior,
    and the test score of each rule of ``rule_baselines`` (``models.rules``).

    The champion is compared on the test rows it was not fitted on (see
    ``fitted_rows.unseen``). Extras that may fail on a user's model (label issues,
    attributions, learning curve) add a note instead of raising.

    Parameters
    ----------
    subject : Subject
    settings : loopml.config.EvaluationConfig
    tests : list of loopml.config.BehavioralTest
    gate_cfg : loopml.config.GateConfig
        Its ``beat_champion`` settings drive the comparison.
    champion : Champion, optional
    full : bool, default True
        Also compute worst errors, label issues, permutation importance, attributions and
        the learning curve.
    rule_baselines : mapping of str to loopml.config.RuleConfig, optional

    Returns
    -------
    Evaluation

    Raises
    ------
    loopml.errors.PredictionInputError
        The test rows lack a column the model needs.
    loopml.errors.DataContractError
        A test value does not read as its column's kind.
    loopml.errors.ConfigError
        A declared slice, rule or behavioural change that does not evaluate, or a bad
        ``evaluation.pos_label`` / sensitive column.
    """
    model, test = subject.model, subject.splits.test
    y = test[subject.target].to_numpy()
    scored = score(model, test)
    classes = list(model.classes) if model.task == "classification" else []
    found = Evaluation(
        task=model.task,
        metric=subject.metric.name,
        classes=classes,
        rows=len(test),
        metrics=_test_metrics(model.task, subject.metric, y, scored, classes),
        y_true=y,
        test=scored,
        overfit=_overfit(subject, scored, y, classes),
    )
    if model.task == "classification":
        _add_classification(found, model, y, scored, classes)
    _add_slices(found, subject, settings, y, scored, classes)
    if settings.sensitive:
        _add_fairness(found, subject, settings, y, scored, classes)
    _add_champion(found, subject, gate_cfg, champion, y, scored, classes)
    found.rules = _rule_scores(subject, rule_baselines or {}, y, classes)
    found.behavioral = [behave(model, t, test, subject.seed) for t in tests]
    if full:
        _add_inspection(found, subject, settings, y, scored, classes)
    return found


def _test_metrics(
    task: Task, metric: metrics.Metric, y: np.ndarray, scored: Predictions, classes: list[Any]
) -> dict[str, float]:
    values = metrics.report(task, y, scored.predicted, scored.proba, classes or None)
    values[metric.name] = metrics.score_safely(metric, y, scored.predicted, scored.proba, classes)
    return values


def _overfit(
    subject: Subject, test: Predictions, y: np.ndarray, classes: list[Any]
) -> gate.Overfit:
    def on(frame: pd.DataFrame, scored: Predictions | None = None) -> float:
        scored = scored or score(subject.model, frame)
        truth = frame[subject.target].to_numpy()
        return metrics.score_safely(subject.metric, truth, scored.predicted, scored.proba, classes)

    splits = subject.splits
    return gate.overfit(
        subject.metric, on(splits.train), on(splits.validation), on(splits.test, test)
    )


def _add_classification(
    found: Evaluation, model: ScoringModel, y: np.ndarray, scored: Predictions, classes: list[Any]
) -> None:
    found.per_class = metrics.per_class(y, scored.predicted, classes)
    found.confusion = metrics.confusion(y, scored.predicted, classes)
    if scored.proba is not None:
        found.reliability = reliability_curve(y, scored.proba, classes)
        if model.threshold is not None:
            found.threshold = selective(y, scored.proba, classes, model.threshold.min_confidence)


def _slice_metric(subject: Subject) -> metrics.Metric:
    """Accuracy or MAE: unlike F1 or R², they mean the same in a slice of one class or range."""
    name = "accuracy" if subject.model.task == "classification" else "mae"
    return metrics.METRICS[name]


def _add_slices(
    found: Evaluation,
    subject: Subject,
    settings: EvaluationConfig,
    y: np.ndarray,
    scored: Predictions,
    classes: list[Any],
) -> None:
    test = subject.splits.test
    listed = slices.declared(test, settings.slices)
    listed += slices.automatic(test, subject.roles, settings.min_slice_rows)
    metric = _slice_metric(subject)
    found.slice_metric = metric.name
    found.slices = slices.score(listed, metric, y, scored.predicted, scored.proba, classes)
    overall = metrics.score_safely(metric, y, scored.predicted, scored.proba, classes)
    regression = subject.model.task == "regression"
    margin = settings.weak_slice_margin
    if margin is None:
        margin = WEAK_MAE_SHARE if regression else WEAK_ACCURACY_POINTS
    found.weak_slices = slices.flag_weak(found.slices, overall, metric, margin, relative=regression)
    found.slice_masks = listed


def _add_fairness(
    found: Evaluation,
    subject: Subject,
    settings: EvaluationConfig,
    y: np.ndarray,
    scored: Predictions,
    classes: list[Any],
) -> None:
    """Group fairness of the sensitive columns on the test rows (see ``fairness``)."""
    found.fairness = fairness.audit(
        subject.splits.test,
        settings.sensitive,
        y,
        scored.predicted,
        subject.model.task,
        classes,
        settings.pos_label,
    )
    used = [c for c in settings.sensitive_excluded() if c in subject.model.feature_names]
    if used:
        found.notes.append(
            f"evaluation.sensitive_is_feature is false, but this model uses {', '.join(used)} "
            "as feature(s): it was trained before the setting; train again to leave them out"
        )


def _rule_scores(
    subject: Subject, baselines: Mapping[str, RuleConfig], y: np.ndarray, classes: list[Any]
) -> dict[str, float]:
    """Each rule's selection metric on the test rows (fitted on train: it learns the classes)."""
    features, train = list(subject.roles.features), subject.splits.train
    test = subject.model.conform(subject.splits.test)
    found = {}
    for name, rule in baselines.items():
        model = rules.make(name, rule, subject.model.task).fit(
            train[features], train[subject.target]
        )
        predicted, proba = training.predict(model, test[features], subject.model.task)
        own = list(getattr(model, "classes_", classes))
        found[name] = metrics.score_safely(subject.metric, y, predicted, proba, own)
    return found


def _add_champion(
    found: Evaluation,
    subject: Subject,
    gate_cfg: GateConfig,
    champion: Champion | None,
    y: np.ndarray,
    scored: Predictions,
    classes: list[Any],
) -> None:
    """Compare with the champion on the test rows it was not fitted on (see fitted_rows)."""
    if champion is None:
        return
    found.champion = champion.version
    if subject.model.version == champion.version:
        found.is_champion = True
        return
    settings = gate_cfg.beat_champion
    keep = _unseen_by(found, subject.splits.test, champion, settings.min_rows if settings else 1)
    if keep is None:
        return
    try:
        theirs = score(champion.model, subject.splits.test[keep])
    except PredictionInputError as exc:
        found.comparison_problem = (
            f"champion v{champion.version} cannot score these test rows: {exc}"
        )
        return
    ours = Predictions(scored.predicted[keep], None if scored.proba is None else scored.proba[keep])
    found.comparison = significance.compare(
        gate.beat_metric(gate_cfg, subject.metric),
        y[keep],
        (ours.predicted, ours.proba),
        (theirs.predicted, theirs.proba),
        classes,
        test=settings.test if settings else "bootstrap",
        resamples=settings.resamples if settings else 1000,
        seed=subject.seed,
    )
    _compare_slices(found, subject, y, keep, ours, theirs, classes)


def _unseen_by(
    found: Evaluation, test: pd.DataFrame, champion: Champion, min_rows: int
) -> np.ndarray | None:
    """The test rows the champion was not fitted on; None (and the problem) when too few."""
    who = f"champion v{champion.version}"
    if champion.fitted is None:
        found.comparison_scope = (
            f"{len(test)} test rows; {who} recorded no fitted rows (trained on Ray or by an "
            "older loopml), so some may be rows it was fitted on"
        )
        return np.ones(len(test), dtype=bool)
    try:
        keep = unseen(test, champion.fitted)
    except KeyError as exc:
        found.comparison_problem = (
            f"{who} was fitted on column {exc.args[0]!r}, which these test rows lack; "
            "its fitted rows cannot be told apart: retrain it or promote by hand"
        )
        return None
    kept = int(keep.sum())
    found.comparison_scope = (
        f"{kept} of {len(test)} test rows unseen by {who} ({len(test) - kept} it was fitted on "
        "left out)"
    )
    if kept < min_rows:
        found.comparison_problem = (
            f"only {kept} of {len(test)} test rows were not seen by {who} in its fitting, "
            f"fewer than gate.beat_champion.min_rows={min_rows}; no fair comparison is "
            "possible: add rows, raise split.test, or lower gate.beat_champion.min_rows"
        )
        return None
    return keep


def _compare_slices(
    found: Evaluation,
    subject: Subject,
    y: np.ndarray,
    keep: np.ndarray,
    ours: Predictions,
    theirs: Predictions,
    classes: list[Any],
) -> None:
    """The champion's score on each slice's unseen rows (the challenger's is on all of them)."""
    metric = _slice_metric(subject)
    kept = [dataclasses.replace(s, mask=s.mask[keep]) for s in found.slice_masks]
    for scored_slice, theirs_slice in zip(
        found.slices,
        slices.score(kept, metric, y[keep], theirs.predicted, theirs.proba, classes),
        strict=True,
    ):
        scored_slice.champion = theirs_slice.value
    on_kept = metrics.score_safely(metric, y[keep], ours.predicted, ours.proba, classes)
    champ = metrics.score_safely(metric, y[keep], theirs.predicted, theirs.proba, classes)
    found.simpson = slices.simpson_warning(found.slices, on_kept, champ, metric)


def behave(
    model: ScoringModel, test: BehavioralTest, rows: pd.DataFrame, seed: int = 0
) -> BehavioralResult:
    """Run one behavioral test on the model; say so when it changes columns the model ignores.

    Parameters
    ----------
    model : loopml.core.scoring.ScoringModel
    test : loopml.config.BehavioralTest
    rows : pandas.DataFrame, shape (n_rows, n_columns)
        The test rows.
    seed : int, default 0

    Returns
    -------
    BehavioralResult

    Raises
    ------
    loopml.errors.ConfigError
        As ``behavioral.run_one``.
    """
    classes = list(model.classes) if model.task == "classification" else []
    result = behavioral.run_one(test, rows, predictor(model), classes, seed)
    unused = [c for c in behavioral.columns_of(test) if c not in model.feature_names]
    if unused:
        result.detail += f" (the model does not use {', '.join(unused)}: nothing can change)"
    return result


def predictor(model: ScoringModel) -> behavioral.Predictor:
    """What users get: thresholded predictions, and probabilities when the model has them.

    Parameters
    ----------
    model : loopml.core.scoring.ScoringModel

    Returns
    -------
    behavioral.Predictor
        rows -> (``model.predict(rows)``, ``model.predict_proba(rows)`` or None).
    """

    def predict(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        proba = (
            model.predict_proba(rows)
            if model.task == "classification" and hasattr(model.pipeline, "predict_proba")
            else None
        )
        return model.predict(rows), proba

    return predict


def _add_inspection(
    found: Evaluation,
    subject: Subject,
    settings: EvaluationConfig,
    y: np.ndarray,
    scored: Predictions,
    classes: list[Any],
) -> None:
    model, test = subject.model, subject.splits.test
    columns = [c for c in test.columns if c != subject.target]
    found.worst = inspection.worst_errors(
        test, columns, y, scored.predicted, scored.proba, model.task, settings.worst_errors
    )
    _add_label_issues(found, subject, y, scored, classes)
    found.importance = inspection.importance(
        model.pipeline,
        model.conform(test),
        y,
        subject.metric,
        model.task,
        classes,
        rows=settings.importance_rows,
        seed=subject.seed,
    )
    _add_attributions(found, subject)
    _add_learning(found, subject, settings, classes)


def _add_label_issues(
    found: Evaluation, subject: Subject, y: np.ndarray, scored: Predictions, classes: list[Any]
) -> None:
    """Test rows whose given label is likely wrong (``core.label_issues``): the test rows
    are held out, so the model's own predictions play the out-of-fold part. Rows are
    numbered as in the data file when the split numbers them."""
    test = subject.splits.test
    rows = subject.splits.rows[2] if len(subject.splits.rows) == 3 else np.arange(len(test))
    labels = pd.Series(y, index=rows)
    ids = test[list(subject.roles.id)].set_axis(rows)
    try:
        if subject.model.task == "regression":
            predicted = np.asarray(scored.predicted, float)
            found_rows = label_issues.from_residuals(labels, predicted, source="held-out")
        elif scored.proba is not None and len(classes) > 1:
            found_rows = label_issues.from_probabilities(
                labels, scored.proba, classes, source="held-out"
            )
        else:
            return
        found.label_issues = label_issues.combine([found_rows], ids)
    except Exception as exc:  # an extra: cleanlab refusing these rows must not lose the rest
        found.notes.append(f"label issues not searched on the test rows: {first_line(exc)}")


def _add_attributions(found: Evaluation, subject: Subject) -> None:
    """Global attributions on a sample of the test rows, and each worst error's largest
    contributions (column ``why``), from the explainer serving uses (``core.explain``)."""
    model = subject.model
    try:
        features = model.conform(subject.splits.test).reset_index(drop=True)
        rows, explained = explain_sample(model.explainer(), features, subject.seed)
        roles = {c.name: c.role for c in model.columns}
        found.attributions = inspection.global_attributions(rows, explained, roles)
        if found.worst is not None and len(found.worst):
            shown = list(found.worst.index)[: None if explained.exact else WHY_APPROXIMATE]
            worst = model.explainer().explain(features.iloc[shown])
            reasons = inspection.why(worst) + [""] * (len(found.worst) - len(shown))
            # a feature may be called "why": the reasons never replace it
            name = next(n for n in inspection.WHY_NAMES if n not in found.worst.columns)
            found.worst = found.worst.assign(**{name: reasons})
    except Exception as exc:  # an extra: a failing explainer must not lose the evaluation
        found.notes.append(f"attributions not computed: {first_line(exc)}")


def _add_learning(
    found: Evaluation, subject: Subject, settings: EvaluationConfig, classes: list[Any]
) -> None:
    train_rows = len(subject.splits.train)
    wanted = settings.learning_curve
    if wanted is False or (wanted == "auto" and train_rows > LEARNING_CURVE_MAX_ROWS):
        if wanted == "auto":
            found.notes.append(
                f"learning curve skipped: {train_rows:,} training rows > "
                f"{LEARNING_CURVE_MAX_ROWS:,}; set evaluation.learning_curve: true to draw it"
            )
        return
    try:
        found.learning = inspection.learning(
            subject.model.pipeline,
            subject.splits.train,
            subject.splits.validation,
            subject.model.feature_names,
            subject.target,
            subject.metric,
            subject.model.task,
            classes,
        )
    except Exception as exc:  # a user's estimator may not refit on small shares
        found.notes.append(f"learning curve not drawn: {first_line(exc)}")


def _plain(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value
