"""k-fold bagging (loopml.core.bagging): scikit-learn's estimator contract, members fitted on
the folds given, averaged answers, the search's folds reproduced, and the ONNX graph."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from loopml.config import CVConfig
from loopml.core import bagging, tuning
from loopml.core.bagging import BaggedClassifier, BaggedRegressor


@parametrize_with_checks(
    [BaggedClassifier(), BaggedRegressor(), BaggedClassifier(LogisticRegression())]
)
def test_the_estimator_contract(estimator: object, check: object) -> None:
    check(estimator)  # type: ignore[operator]


def test_each_member_learns_its_folds_training_rows_and_the_bag_averages_them() -> None:
    X = np.arange(12, dtype=float).reshape(-1, 1)
    y = np.arange(12, dtype=float) ** 2
    folds = [(np.arange(0, 8), np.arange(8, 12)), (np.arange(4, 12), np.arange(0, 4))]
    bag = BaggedRegressor(DummyRegressor(), cv=folds).fit(X, y)
    means = [y[train].mean() for train, _ in folds]
    assert [m.constant_[0][0] for m in bag.estimators_] == pytest.approx(means)
    assert bag.predict(X[:3]) == pytest.approx([np.mean(means)] * 3)


def test_class_probabilities_are_the_members_mean_with_classes_aligned() -> None:
    X, y = make_classification(120, 4, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
    bag = BaggedClassifier(LogisticRegression(max_iter=500), cv=4).fit(X, y)
    expected = np.mean([m.predict_proba(X) for m in bag.estimators_], axis=0)
    np.testing.assert_allclose(bag.predict_proba(X), expected)
    assert list(bag.predict(X)) == list(bag.classes_[np.argmax(expected, axis=1)])
    # a member that never saw class 2 gives it no probability; the columns stay aligned
    few = [(np.flatnonzero(y != 2), np.flatnonzero(y == 2)), (np.arange(120), np.arange(0))]
    odd = BaggedClassifier(LogisticRegression(max_iter=500), cv=few).fit(X, y)
    assert odd.predict_proba(X).shape == (120, 3)
    np.testing.assert_allclose(odd.predict_proba(X).sum(axis=1), 1.0)


def test_a_classifier_without_probabilities_is_refused_in_words() -> None:
    from sklearn.svm import SVC

    with pytest.raises(ValueError, match="bagging averages class probabilities, and SVC"):
        BaggedClassifier(SVC()).fit(*make_classification(40, random_state=0))


def test_the_searchs_splitter_gives_the_searchs_folds_and_splits_more_rows_too() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=90), "y": rng.choice(["a", "b", "c"], 90)})
    folds = tuning.make_folds(CVConfig(folds=5), frame, "y", "classification", 7, False)
    model = bagging.bag(
        LogisticRegression(), "classification", tuning.shuffled_splitter("stratified", 5, 7)
    )
    bag = model.named_steps["model"]
    again = bag.folds(frame[["x"]], frame["y"])
    for (a, b), (c, d) in zip(folds, again, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert (
        sum(len(held) for _, held in bag.folds(frame.iloc[:60][["x"]], frame.iloc[:60]["y"])) == 60
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_bag_of_pipelines_compiles_as_a_vote_with_the_native_answers(task: str) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import Ridge

    from loopml.core._converters import register_converters

    onnxruntime = pytest.importorskip("onnxruntime")
    register_converters()
    X, y = make_classification(150, 4, random_state=1)
    X = X.astype(np.float32)
    model = LogisticRegression() if task == "classification" else Ridge()
    member = Pipeline([("scale", StandardScaler()), ("model", model)])
    bag = bagging.bag(member, task, 5).named_steps["model"]
    bag.fit(X, y if task == "classification" else X @ np.arange(4.0) + y)
    options = {id(bag): {"zipmap": False}} if task == "classification" else None
    graph = to_onnx(bag, X[:1], options=options)
    session = onnxruntime.InferenceSession(graph.SerializeToString())
    answers = session.run(None, {session.get_inputs()[0].name: X})
    if task == "regression":
        np.testing.assert_allclose(answers[0].ravel(), bag.predict(X), rtol=1e-4, atol=1e-4)
        return
    np.testing.assert_allclose(answers[1], bag.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(answers[0], bag.predict(X))


def test_a_members_reason_to_run_natively_is_the_bags() -> None:
    class Native(DummyRegressor):
        native_only = "not compiled: this model has no ONNX form"

    bag = BaggedRegressor(Pipeline([("model", Native())]), cv=3).fit(np.ones((9, 1)), np.arange(9))
    assert bag.native_only == "not compiled: this model has no ONNX form"
    assert (
        BaggedRegressor(DummyRegressor(), cv=3).fit(np.ones((9, 1)), np.arange(9)).native_only
        is None
    )
