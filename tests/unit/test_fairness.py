"""Group fairness: loopml's numbers are Fairlearn's (and the hand-counted ones) on a small
frame; the gate rules on them; one-line errors for settings the audit cannot use."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm

from loopml.config import ColumnsConfig, EvaluationConfig, GateConfig, ProjectConfig
from loopml.core.evaluation import fairness, gate, metrics
from loopml.errors import ConfigError

# 10 test rows, two groups. Group a: 6 rows, 3 positive; group b: 4 rows, 2 positive.
#   a: truth 1 1 1 0 0 0, predicted 1 1 0 1 0 0 -> selection 3/6, TPR 2/3, FPR 1/3, acc 4/6
#   b: truth 1 1 0 0,     predicted 0 1 0 0     -> selection 1/4, TPR 1/2, FPR 0,   acc 3/4
GROUP = ["a"] * 6 + ["b"] * 4
TRUTH = np.array(["yes", "yes", "yes", "no", "no", "no", "yes", "yes", "no", "no"], dtype=object)
PRED = np.array(["yes", "yes", "no", "yes", "no", "no", "no", "yes", "no", "no"], dtype=object)


def _test_rows() -> pd.DataFrame:
    return pd.DataFrame({"group": GROUP, "age": [18, 25, 33, 41, 52, 60, 19, 28, 47, 70]})


def test_per_group_rates_and_differences_equal_fairlearn_and_the_hand_count() -> None:
    found = fairness.audit(_test_rows(), ["group"], TRUTH, PRED, "classification", ["no", "yes"])
    column = found.columns[0]
    table = column.by_group
    assert list(table.index) == ["a", "b"]
    assert table["count"].tolist() == [6, 4]
    assert table["selection_rate"].tolist() == pytest.approx([3 / 6, 1 / 4])
    assert table["true_positive_rate"].tolist() == pytest.approx([2 / 3, 1 / 2])
    assert table["false_positive_rate"].tolist() == pytest.approx([1 / 3, 0.0])
    assert table["accuracy"].tolist() == pytest.approx([4 / 6, 3 / 4])
    # demographic parity: 1/2 - 1/4; equalized odds: max(|2/3 - 1/2|, |1/3 - 0|)
    assert column.differences["demographic_parity_difference"] == pytest.approx(0.25)
    assert column.differences["equalized_odds_difference"] == pytest.approx(1 / 3)
    truth, pred = (TRUTH == "yes").astype(int), (PRED == "yes").astype(int)
    assert column.differences["demographic_parity_difference"] == pytest.approx(
        flm.demographic_parity_difference(truth, pred, sensitive_features=GROUP)
    )
    assert column.differences["equalized_odds_difference"] == pytest.approx(
        flm.equalized_odds_difference(truth, pred, sensitive_features=GROUP)
    )
    by_fairlearn = flm.MetricFrame(
        metrics={"tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate},
        y_true=truth,
        y_pred=pred,
        sensitive_features=GROUP,
    ).by_group
    assert table["true_positive_rate"].tolist() == pytest.approx(by_fairlearn["tpr"].tolist())
    assert table["false_positive_rate"].tolist() == pytest.approx(by_fairlearn["fpr"].tolist())
    assert "positive class 'yes'" in found.scope
    assert column.explain("equalized_odds_difference") == (
        "false positive rate: b 0.0000, a 0.3333"
    )


def test_pos_label_flips_the_positive_class() -> None:
    found = fairness.audit(
        _test_rows(), ["group"], TRUTH, PRED, "classification", ["no", "yes"], pos_label="no"
    )
    table = found.columns[0].by_group
    assert table["selection_rate"].tolist() == pytest.approx([3 / 6, 3 / 4])
    assert "positive class 'no' (evaluation.pos_label)" in found.scope


def test_multiclass_needs_pos_label_and_is_one_vs_rest_for_it() -> None:
    truth = np.array(["x", "y", "z", "x", "y", "z", "x", "y", "z", "x"], dtype=object)
    pred = np.array(["x", "y", "y", "x", "z", "z", "y", "y", "z", "x"], dtype=object)
    with pytest.raises(ConfigError, match=r"^evaluation.pos_label: the target has 3 classes.*'x'"):
        fairness.audit(_test_rows(), ["group"], truth, pred, "classification", ["x", "y", "z"])
    found = fairness.audit(
        _test_rows(), ["group"], truth, pred, "classification", ["x", "y", "z"], pos_label="x"
    )
    table = found.columns[0].by_group
    # a: predicted x in rows 0, 3 -> 2/6; b: rows 9 -> 1/4. Accuracy on the three labels.
    assert table["selection_rate"].tolist() == pytest.approx([2 / 6, 1 / 4])
    assert table["accuracy"].tolist() == pytest.approx([4 / 6, 3 / 4])
    assert "3 classes, one-vs-rest" in found.scope
    with pytest.raises(ConfigError, match=r"'w' is not a class; use one of 'x', 'y', 'z'"):
        fairness.positive_class(["x", "y", "z"], "w")


def test_pos_label_matches_a_numeric_class_written_as_text() -> None:
    assert fairness.positive_class([0, 1], "1") == 1
    assert fairness.positive_class([0.0, 1.0], 1) == 1.0
    assert fairness.positive_class([False, True], True) is True


def test_regression_gets_per_group_errors_and_no_differences() -> None:
    y = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    pred = y + np.array([1.0, -1, 1, -1, 1, -1, 2, 2, 2, 2])
    found = fairness.audit(_test_rows(), ["group"], y, pred, "regression", [])
    table = found.columns[0].by_group
    assert table["mae"].tolist() == pytest.approx([1.0, 2.0])
    assert table["mean_prediction"].tolist() == pytest.approx([3.5, 10.5])
    assert table["mean_actual"].tolist() == pytest.approx([3.5, 8.5])
    assert found.columns[0].differences == {}
    assert found.worst_values() == {}
    assert found.scope.startswith("regression: per group count")


def test_a_continuous_column_is_binned_and_says_so() -> None:
    rows = pd.DataFrame({"age": np.arange(40, dtype=float), "group": ["a", "b"] * 20})
    rows.loc[0, "age"] = np.nan
    y = np.array([0, 1] * 20)
    found = fairness.audit(rows, ["age"], y, y, "classification", [0, 1])
    column = found.columns[0]
    assert len(column.by_group) == fairness.BINS + 1  # quartiles and the missing value
    assert column.by_group.index[-1] == fairness.MISSING
    assert column.by_group["count"].sum() == 40
    assert "'age' has 39 distinct numbers: audited in 4 quantile bins" in column.notes[0]
    assert "add a column of groups" in column.notes[0]


def test_a_group_without_positive_rows_is_said() -> None:
    rows = pd.DataFrame({"group": ["a", "a", "b", "b"]})
    found = fairness.audit(
        rows, ["group"], np.array([1, 0, 0, 0]), np.array([1, 0, 1, 0]), "classification", [0, 1]
    )
    notes = found.columns[0].notes
    assert any("'b' have no positive test rows" in n for n in notes), notes


def test_a_missing_sensitive_column_names_it_and_the_columns() -> None:
    with pytest.raises(ConfigError) as caught:
        fairness.check_columns(["gender"], ["Sex", "Age", "Survived"], "Survived")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("evaluation.sensitive: 'gender' is not a column of the data")
    assert "columns are: Sex, Age" in message
    with pytest.raises(ConfigError, match=r"did you mean 'Sex'\?"):
        fairness.check_columns(["sex"], ["Sex", "Age"], "Survived")
    with pytest.raises(ConfigError, match=r"'Survived' is the target"):
        fairness.check_columns(["Survived"], ["Sex", "Survived"], "Survived")


def test_too_many_text_groups_is_refused_with_the_fix() -> None:
    frame = pd.DataFrame({"name": [f"n{i}" for i in range(30)], "y": [0, 1] * 15})
    settings = EvaluationConfig(sensitive=["name"])
    with pytest.raises(ConfigError, match=r"'name' has 30 distinct values, too many groups"):
        fairness.check(settings, frame, "y", "classification", [0, 1])
    with pytest.raises(ConfigError, match=r"^evaluation.pos_label: a regression"):
        fairness.check(EvaluationConfig(pos_label=1), frame, "y", "regression", [])


def test_not_features_become_ignored_and_a_declared_feature_conflicts() -> None:
    settings = EvaluationConfig(sensitive=["Sex", "PassengerId"], sensitive_is_feature=False)
    columns = ColumnsConfig(id=["PassengerId"], ignore=["Ticket"])
    assert fairness.declared_roles(columns, settings).ignore == ["Ticket", "Sex"]
    kept = EvaluationConfig(sensitive=["Sex"])
    assert fairness.declared_roles(columns, kept) is columns
    with pytest.raises(
        ConfigError, match=r"^data.columns.categorical: 'Sex' is declared a feature"
    ):
        fairness.declared_roles(ColumnsConfig(categorical=["Sex"]), settings)


def test_leaving_sensitive_columns_out_changes_the_training_key_only_then() -> None:
    base = {"name": "p", "data": {"source": "d.csv", "target": "y"}}
    plain = ProjectConfig.model_validate(base)
    audited = ProjectConfig.model_validate({**base, "evaluation": {"sensitive": ["Sex"]}})
    excluded = ProjectConfig.model_validate(
        {**base, "evaluation": {"sensitive": ["Sex"], "sensitive_is_feature": False}}
    )
    assert plain.training_key() == audited.training_key()
    assert excluded.training_key() != plain.training_key()


# --- the gate ---

ACCURACY = metrics.METRICS["accuracy"]


def _inputs(found: fairness.Fairness | None) -> gate.GateInputs:
    fit = gate.overfit(ACCURACY, 0.8, 0.8, 0.8)
    return gate.GateInputs("classification", ACCURACY, {"accuracy": 0.8}, fit, fairness=found)


def _two_columns() -> fairness.Fairness:
    # 'half' selects 2 of 5 rows in each group: parity on it, so 'group' is the worst column
    rows = _test_rows().assign(half=["x", "x", "x", "y", "x", "x", "y", "y", "y", "y"])
    return fairness.audit(rows, ["half", "group"], TRUTH, PRED, "classification", ["no", "yes"])


def test_gate_max_fails_on_the_worst_column_with_its_numbers() -> None:
    found = _two_columns()
    rules = GateConfig(
        max={"demographic_parity_difference": 0.1, "equalized_odds_difference": 0.5},
        beat_champion=None,
        behavioral="report",
    )
    decision = gate.decide(rules, _inputs(found))
    assert not decision.passed
    (failed,) = decision.failed
    assert failed.rule == "max.demographic_parity_difference"
    assert failed.detail.startswith("test demographic_parity_difference 0.2500 > 0.1 on 'group'")
    assert "selection rate: b 0.2500, a 0.5000" in failed.detail
    assert "also 'half' 0.0000" in failed.detail
    assert "max.demographic_parity_difference" in decision.reasons()
    passing = GateConfig(
        max={"demographic_parity_difference": 0.25}, beat_champion=None, behavioral="report"
    )
    assert gate.decide(passing, _inputs(found)).passed


def test_gate_rule_without_an_audit_fails_rather_than_passes() -> None:
    rules = GateConfig(max={"equalized_odds_difference": 0.1}, beat_champion=None)
    decision = gate.decide(rules, _inputs(None))
    assert not decision.passed
    assert "cannot be computed" in decision.failed[0].detail


@pytest.mark.parametrize(
    ("bound", "task", "sensitive", "message"),
    [
        ("min", "classification", ["Sex"], r"better when lower; put it under gate.max"),
        ("max", "regression", ["Sex"], r"defined for classifiers; this project is regression"),
        ("max", "classification", [], r"name them in evaluation.sensitive"),
    ],
)
def test_gate_config_errors_name_the_key(
    bound: str, task: str, sensitive: list[str], message: str
) -> None:
    rules = GateConfig.model_validate({bound: {"demographic_parity_difference": 0.1}})
    selection = metrics.METRICS["accuracy" if task == "classification" else "r2"]
    with pytest.raises(ConfigError, match=rf"^gate.{bound}.demographic_parity_difference: "):
        gate.check_config(rules, task, selection, sensitive=sensitive)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        gate.check_config(rules, task, selection, sensitive=sensitive)  # type: ignore[arg-type]


def test_fairness_summary_is_plain_json() -> None:
    import json

    document = json.loads(json.dumps(_two_columns().as_dict()))
    assert document["worst"]["demographic_parity_difference"] == pytest.approx(0.25)
    groups = document["columns"][1]["groups"]
    assert groups[0] == {
        "group": "a",
        "count": 6,
        "selection_rate": 0.5,
        "true_positive_rate": pytest.approx(2 / 3),
        "false_positive_rate": pytest.approx(1 / 3),
        "accuracy": pytest.approx(4 / 6),
    }
    assert not math.isnan(document["columns"][0]["differences"]["equalized_odds_difference"])
