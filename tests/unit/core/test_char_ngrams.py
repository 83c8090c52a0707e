"""Character n-grams of text columns: the ONNX graph counts them as scikit-learn's char_wb
analyzer does, on text that is hard to split, and explanations quote them."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from tests.conftest import shared_file

from loopml.core import models
from loopml.core.compile import FeatureGraph, _to_onnx, compile_pipeline, feature_difference
from loopml.core.data.roles import ColumnRoles
from loopml.core.features import TextColumn, build_preprocessor, text_terms
from loopml.core.scoring import column_specs

TRICKY = [
    "Hello  World",  # repeated spaces
    "",
    None,
    "a",  # a word shorter than the n-grams: counted whole, once
    "ab ab",
    "a  a  a a",
    "  leading and trailing\t",
    "line\nbreak\r\nhere",
    "é🙂 x\u00a0y\tz",  # no-break space and tab split words, as str.split() does
    "x\x1cy\u3000z\u2028w",  # separators that str.isspace() counts as white space
    "café, 12.5$!! (v2.0) #1 @user",  # punctuation and digits stick to their words
    "ÜBER naïve ÇA",
    "👩\u200d👩\u200d👧 family",  # an emoji sequence: code points, joined by ZWJ
    "e\u0301te",  # a combining accent is a code point of its own
    "ǅungla İstanbul ß",  # lower() changes the length of İ
    "spam SPAM spam 100% FREE!!!",
    "  ",
    "\t",
    "#  #",
    "x\x00y abc",
]
ROLES = ColumnRoles(text=("t",))


def _fitted(texts: list, **params: object) -> Pipeline:
    frame = pd.DataFrame({"t": pd.Series(texts, dtype=object)})
    if params:
        vectorizer = TfidfVectorizer(analyzer="char_wb", min_df=1, **params)  # type: ignore[arg-type]
        branch = Pipeline([("column", TextColumn()), ("chars", vectorizer)])
        from sklearn.compose import ColumnTransformer

        features = ColumnTransformer([("chars_t", branch, ["t"])], sparse_threshold=0.3)
    else:
        features = build_preprocessor(ROLES)
    return Pipeline([("features", features)]).fit(frame)


def _graph(pipeline: Pipeline) -> FeatureGraph:
    onnx_bytes, inputs = _to_onnx(pipeline, column_specs(ROLES), None, no_zipmap=False)
    return FeatureGraph(onnx_bytes, inputs)


def _compare(pipeline: Pipeline, graph: FeatureGraph, texts: list) -> None:
    values = np.array(texts, dtype=object)
    native = pipeline.transform(pd.DataFrame({"t": values}))
    native = native.toarray() if hasattr(native, "toarray") else np.asarray(native)
    found = graph.run({"t": values})
    assert feature_difference(found, native) == ""
    np.testing.assert_allclose(found, native, rtol=0, atol=1e-9)


def test_the_graph_counts_character_ngrams_as_scikit_learn_on_tricky_text() -> None:
    pipeline = _fitted(TRICKY * 2)
    graph = _graph(pipeline)
    _compare(pipeline, graph, TRICKY)
    for row in TRICKY:  # alone, and a batch where every row is empty or missing
        _compare(pipeline, graph, [row])
    _compare(pipeline, graph, ["", None, "   "])


@pytest.mark.parametrize(
    "params",
    [
        {"ngram_range": (1, 3)},  # single characters, spaces included
        {"ngram_range": (4, 6), "lowercase": False},  # short words give themselves whole
        {"ngram_range": (2, 5), "sublinear_tf": True, "norm": "l1", "max_features": 40},
    ],
)
def test_other_ngram_ranges_and_weightings_convert_exactly(params: dict) -> None:
    pipeline = _fitted(TRICKY * 2, **params)
    _compare(pipeline, _graph(pipeline), TRICKY)


@pytest.mark.shared_data
def test_the_graph_equals_scikit_learn_on_made_with_ml_text() -> None:
    data = pd.read_csv(shared_file("madewithml_dataset.csv"))
    pipeline = _fitted(list(data["title"]) + TRICKY)
    _compare(pipeline, _graph(pipeline), list(data["description"]) + TRICKY)


def test_each_text_column_gets_its_words_then_its_character_ngrams() -> None:
    pipeline = _fitted(TRICKY * 2)
    features = pipeline.named_steps["features"]
    where = features.output_indices_
    assert where["text_t"].stop == where["chars_t"].start  # side by side
    piece, terms = text_terms(features)["t"]
    assert piece == slice(where["text_t"].start, where["chars_t"].stop)
    assert len(terms) == piece.stop - piece.start
    assert "spam" in list(terms)  # a word as it is
    assert '"spam "' in list(terms) and '" a "' in list(terms)  # n-grams quoted, spaces shown
    grams = [json.loads(t) for t in terms if t.startswith('"')]
    assert all(2 <= len(g) <= 5 for g in grams)
    words_only = build_preprocessor(ROLES, char_ngrams=False)
    assert [name for name, _, _ in words_only.transformers] == ["text_t"]


def test_naive_bayes_takes_words_and_character_ngrams_and_compiles() -> None:
    """ComplementNB needs non-negative features: TF-IDF of both kinds is."""
    rng = np.random.default_rng(0)
    spam = ["WIN a FREE prize now!!!", "free entry: txt WIN to 80086", "Claim your £1000 cash"]
    ham = ["see you at lunch", "are we meeting today?", "ok, call me later"]
    texts = [str(t) for t in rng.choice(spam + ham, 120)]
    label = pd.Series(["spam" if t in spam else "ham" for t in texts])
    frame = pd.DataFrame({"t": texts})
    model = models.make_estimator("naive_bayes", {}, "classification", 0)
    pipeline = models.build_pipeline(ROLES, model).fit(frame.iloc[:90], label.iloc[:90])
    assert (pipeline.predict(frame.iloc[90:]) == label.iloc[90:]).all()
    compiled, report = compile_pipeline(
        pipeline, column_specs(ROLES), "classification", list(pipeline.classes_), frame.iloc[90:]
    )
    assert report.ok and compiled is not None, report.reason
    assert report.max_proba_diff is not None and report.max_proba_diff < 1e-9


@pytest.mark.parametrize(
    ("name", "chars"),
    [
        ("logistic_regression", True),
        ("naive_bayes", True),
        ("knn", True),
        ("random_forest", False),  # slower and no better on Made-With-ML: the forests say no
        ("extra_trees", False),
        ("svm", False),
        ("gradient_boosting", False),
        ("lightgbm", False),  # fit time grows with the non-zero values: the boosters say no
        ("xgboost", False),
        ("catboost", False),
    ],
)
def test_the_catalog_decides_which_models_get_character_ngrams(name: str, chars: bool) -> None:
    pytest.importorskip(models.MODELS[name].pip or "sklearn")
    estimator = models.make_estimator(name, {}, "classification", 0)
    features = models.build_pipeline(ROLES, estimator).named_steps["features"]
    branches = [branch for branch, _, _ in features.transformers]
    assert branches == (["text_t", "chars_t"] if chars else ["text_t"])


def test_which_models_get_ngrams_is_known_without_the_optional_libraries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make demo` installs no xgboost or catboost: their factories raise ConfigError."""
    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost raises ImportError
    monkeypatch.setitem(sys.modules, "catboost", None)
    models._records_by_type.cache_clear()
    try:
        estimator = models.make_estimator("logistic_regression", {}, "classification", 0)
        assert models.char_ngrams_for(estimator) is True
        forest = models.make_estimator("random_forest", {}, "classification", 0)
        assert models.char_ngrams_for(forest) is False
    finally:
        models._records_by_type.cache_clear()
