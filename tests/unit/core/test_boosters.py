"""BoosterModel: LightGBM/XGBoost as one estimator; text model state that survives skops."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris

from loopml.core.boosters import BoosterModel


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_multiclass_booster_learns_and_round_trips_through_skops(library: str) -> None:
    pytest.importorskip(library, reason=f"{library} is optional: pip install {library}")
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    model = clone(BoosterModel(library, "classification", {"max_depth": 3}, rounds=30)).fit(
        X, labels
    )
    proba = model.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert (model.predict(X) == labels).mean() > 0.95
    blob = skops.io.dumps(model)
    untrusted = skops.io.get_untrusted_types(data=blob)
    assert untrusted == ["loopml.core.boosters.BoosterModel"]  # the model itself is plain text
    restored = skops.io.loads(blob, trusted=untrusted)
    np.testing.assert_allclose(restored.predict_proba(X), proba, rtol=0, atol=1e-12)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_regression_booster_beats_the_mean(library: str) -> None:
    pytest.importorskip(library, reason=f"{library} is optional: pip install {library}")
    X, y = load_diabetes(return_X_y=True)
    model = BoosterModel(library, "regression", rounds=50).fit(X, y)
    residual = ((model.predict(X) - y) ** 2).mean()
    assert residual < 0.5 * ((y - y.mean()) ** 2).mean()
    with pytest.raises(AttributeError):
        model.predict_proba(X)


def test_binary_probabilities_have_two_columns_in_class_order() -> None:
    X, y = load_iris(return_X_y=True)
    labels = np.where(y == 0, "yes", "no")
    model = BoosterModel("lightgbm", "classification", rounds=10).fit(X, labels)
    assert list(model.classes_) == ["no", "yes"]
    assert model.predict_proba(X[:5]).shape == (5, 2)
    assert list(model.predict(X[:3])) == ["yes", "yes", "yes"]
