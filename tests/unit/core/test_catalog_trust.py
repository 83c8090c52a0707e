"""Every catalog model, fitted in loopml's pipeline, saves with skops and loads again with
the allow-list derived from the catalog records (real skops, no mock)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.base import clone

from loopml.core.data.roles import ColumnRoles
from loopml.core.models import (
    MODELS,
    PIPELINE_TYPES,
    CatalogModel,
    build_pipeline,
    is_trusted,
    make_estimator,
    trusted_types,
)
from loopml.tracking.models import SAFE_PREFIXES

TABULAR = ColumnRoles(numeric=("x", "z"), categorical=("colour",))
TEXT = ColumnRoles(text=("note",))  # naive Bayes needs counts: tf-idf is non-negative


def _frame(task: str) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    frame = pd.DataFrame(
        {
            "x": x,
            "z": rng.normal(size=60),
            "colour": rng.choice(["red", "green", "blue"], size=60),
            "note": np.where(x > 0, "warm sunny day", "cold rainy night"),
        }
    )
    y = np.where(x > 0, "up", "down") if task == "classification" else 3 * x + 1
    return frame, y


CASES = [(name, task) for name, m in MODELS.items() for task in m.tasks]


@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_catalog_model_round_trips_through_skops_with_the_derived_allow_list(
    name: str, task: str
) -> None:
    if MODELS[name].pip:
        pytest.importorskip(MODELS[name].pip)
    roles = TEXT if name == "naive_bayes" else TABULAR
    frame, y = _frame(task)
    space = MODELS[name].space
    rounds = next((k for k in ("n_estimators", "iterations") if k in space), None)
    point = {rounds: 5} if rounds else {}
    estimator = make_estimator(name, point, task, seed=0)  # type: ignore[arg-type]
    pipeline = build_pipeline(roles, clone(estimator)).fit(frame[list(roles.features)], y)

    blob = skops.io.dumps(pipeline)
    untrusted = skops.io.get_untrusted_types(data=blob)
    refused = [t for t in untrusted if not is_trusted(t, trusted_types())]
    assert refused == [], f"{name}: declare these types in its catalog record"
    restored = skops.io.loads(blob, trusted=untrusted)
    rows = frame[list(roles.features)]
    np.testing.assert_array_equal(restored.predict(rows), pipeline.predict(rows))


def test_only_its_own_record_makes_a_boosters_types_loadable() -> None:
    pytest.importorskip("lightgbm")
    frame, y = _frame("classification")
    pipeline = build_pipeline(
        TABULAR, make_estimator("lightgbm", {"n_estimators": 5}, "classification", seed=0)
    ).fit(frame[list(TABULAR.features)], y)
    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    without = [m for m in MODELS.values() if m.name != "lightgbm"]
    refused = [t for t in untrusted if not is_trusted(t, trusted_types(without))]
    assert refused and all(t.startswith("lightgbm.") for t in refused)


def test_a_record_without_its_types_fails_loudly() -> None:
    with pytest.raises(ValueError, match="'catboost' declares no types"):
        CatalogModel("catboost", ("classification",), lambda task, seed: None, {}, ())


def test_serving_allow_list_is_the_catalogs() -> None:
    assert SAFE_PREFIXES == trusted_types()
    assert set(PIPELINE_TYPES) <= set(SAFE_PREFIXES)
    for model in MODELS.values():
        assert set(model.trusts) <= set(SAFE_PREFIXES)


def test_trust_is_exact_or_by_a_dot_ended_prefix() -> None:
    assert is_trusted("sklearn.pipeline.Pipeline", ("sklearn.",))
    assert not is_trusted("sklearnx.Evil", ("sklearn.",))
    assert is_trusted("mypkg.Model", ("mypkg.Model",))
    assert not is_trusted("mypkg.ModelX", ("mypkg.Model",))
