"""The registry façade on a real MLflow SQLite store: every reference form, misses in one
line, the alias race retried, tag values cut to the limit."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from loopml.config import TrackingConfig
from loopml.errors import ModelNotFoundError
from loopml.tracking import registry
from loopml.tracking.registry import CHALLENGER, CHAMPION, ModelRef
from loopml.tracking.store import Tracker

MODEL = "houses"


@dataclass
class Store:
    tracker: Tracker
    runs: list[str]  # runs[i] registered version i + 1 of MODEL


def _store(folder: Path, model: str = MODEL) -> Store:
    cfg = TrackingConfig(
        uri=f"sqlite:///{folder / 'mlflow.db'}", artifacts=str(folder / "artifacts")
    )
    tracker = Tracker(cfg, "registry-test", model)
    client = tracker.client
    experiment = tracker.experiment_id()
    assert experiment is not None
    client.create_registered_model(model)
    runs = []
    for _ in range(3):
        run_id = client.create_run(experiment).info.run_id
        client.create_model_version(model, f"runs:/{run_id}/model", run_id)
        runs.append(run_id)
    return Store(tracker, runs)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    made = _store(tmp_path_factory.mktemp("registry"))
    made.tracker.client.set_registered_model_alias(MODEL, CHAMPION, "1")
    made.tracker.client.set_registered_model_alias(MODEL, CHALLENGER, "3")
    return made


def _pinned(store: Store, version: int) -> ModelRef:
    return ModelRef(MODEL, str(version), store.runs[version - 1], f"models:/{MODEL}/{version}")


@pytest.mark.parametrize(
    ("ref", "version"),
    [
        ("champion", 1),
        (None, 3),  # the default alias
        ("", 3),
        ("2", 2),
        (f"models:/{MODEL}@champion", 1),
        (f"models:/{MODEL}/2", 2),
        ("latest", 3),  # MLflow's own alias: the highest version
    ],
)
def test_an_alias_a_version_or_a_registry_uri_resolves_to_its_pinned_version(
    store: Store, ref: str | None, version: int
) -> None:
    assert registry.resolve(store.tracker, ref) == _pinned(store, version)


def test_a_run_id_or_run_uri_resolves_to_the_highest_version_of_this_model(
    store: Store, tmp_path: Path
) -> None:
    client = store.tracker.client
    run_id = store.runs[0]
    # The same run registered again (v4) and under another model: this model's highest wins.
    client.create_registered_model("other")
    client.create_model_version("other", f"runs:/{run_id}/model", run_id)
    client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id)
    try:
        expected = ModelRef(MODEL, "4", run_id, f"models:/{MODEL}/4")
        assert registry.resolve(store.tracker, run_id) == expected
        assert registry.resolve(store.tracker, f"runs:/{run_id}/model") == expected
    finally:
        client.delete_model_version(MODEL, "4")
        client.delete_registered_model("other")


def test_a_run_never_registered_resolves_to_its_run_uri(store: Store) -> None:
    experiment = store.tracker.experiment_id()
    assert experiment is not None
    run_id = store.tracker.client.create_run(experiment).info.run_id

    found = registry.resolve(store.tracker, f"runs:/{run_id}/student")

    assert found == ModelRef(MODEL, None, run_id, f"runs:/{run_id}/student")
    assert found.describe() == f"run {run_id}"
    assert registry.resolve(store.tracker, "2").describe() == f"{MODEL} v2"


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("nope", f"no model version has alias 'nope' in '{MODEL}'"),
        (f"models:/{MODEL}@nope", f"no model version has alias 'nope' in '{MODEL}'"),
        ("99", "finding model '99' failed: "),
        (f"models:/{MODEL}/99", f"finding model 'models:/{MODEL}/99' failed: "),
        ("0" * 32, f"run '{'0' * 32}' does not exist"),
        (f"runs:/{'0' * 32}/model", f"run '{'0' * 32}' does not exist"),
        ("models:/absent@champion", "finding model 'models:/absent@champion' failed: "),
        ("models:/no-version-or-alias", "is not a model URI"),
        ("runs:/xyz/model", "'runs:/xyz/model' is not a model URI: 'xyz' is not a run id"),
    ],
)
def test_a_missing_model_version_alias_or_run_is_one_line(
    store: Store, ref: str, says: str
) -> None:
    with pytest.raises(ModelNotFoundError) as raised:
        registry.resolve(store.tracker, ref)
    message = str(raised.value)
    assert says in message and "\n" not in message, message


@pytest.mark.parametrize(
    ("ref", "uri"),
    [
        (None, f"models:/{MODEL}@champion"),
        ("challenger", f"models:/{MODEL}@challenger"),
        ("7", f"models:/{MODEL}/7"),
        ("a" * 32, f"runs:/{'a' * 32}/model"),
        ("1" * 32, f"runs:/{'1' * 32}/model"),  # a run id, though all digits
        ("A" * 32, f"models:/{MODEL}@{'A' * 32}"),  # not a run id: MLflow's are lowercase
        ("runs:/x/model", "runs:/x/model"),  # a URI is passed on as typed
        (f"models:/{MODEL}/2", f"models:/{MODEL}/2"),
    ],
)
def test_model_uri_spells_each_form_without_asking_the_store(ref: str | None, uri: str) -> None:
    assert registry.model_uri(MODEL, ref, default_alias=CHAMPION) == uri


def test_alias_version_is_none_for_a_missing_alias_or_model(store: Store) -> None:
    client = store.tracker.client
    assert registry.alias_version(client, MODEL, CHAMPION) == "1"
    assert registry.alias_version(client, MODEL, "nope") is None
    assert registry.alias_version(client, "absent", CHAMPION) is None
    assert store.tracker.alias_version(CHALLENGER) == "3"


def test_two_writers_adding_the_same_new_alias_at_once_both_succeed(tmp_path: Path) -> None:
    """SQLite's store reads an alias, then inserts it when absent: writers released together
    by a barrier collide on its key; set_alias retries, so no write fails."""
    made = _store(tmp_path)
    trackers = [made.tracker, Tracker(made.tracker.cfg, "registry-test", MODEL)]
    rounds, barrier = 12, threading.Barrier(2)

    def add_aliases(tracker: Tracker, version: str) -> None:
        for round_ in range(rounds):
            barrier.wait(timeout=30)
            registry.set_alias(tracker, f"race{round_}", version)

    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(add_aliases, t, v) for t, v in zip(trackers, ("1", "2"), strict=True)]
        for future in done:
            future.result(timeout=120)
    aliases = made.tracker.client.get_registered_model(MODEL).aliases
    assert {str(aliases[f"race{round_}"]) for round_ in range(rounds)} <= {"1", "2"}


def test_set_alias_on_a_missing_version_is_one_line(store: Store) -> None:
    with pytest.raises(ModelNotFoundError, match="pointing alias 'x' of houses at v99 failed"):
        registry.set_alias(store.tracker, "x", "99")


def test_tag_values_are_cut_to_the_limit(store: Store) -> None:
    long = "x" * (registry.TAG_VALUE_LIMIT + 10)

    registry.tag_version(store.tracker, "2", {"loopml.long": long, "loopml.short": "ok"})

    tags = store.tracker.client.get_model_version(MODEL, "2").tags
    assert tags["loopml.long"] == "x" * registry.TAG_VALUE_LIMIT
    assert tags["loopml.short"] == "ok"
