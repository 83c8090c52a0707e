"""Choosing served rows to label: abstained first, then the least confident and rows from
drifted regions in turn; each input once; nothing labelled already."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.core.data.roles import ColumnRoles
from loopml.core.label_queue import choose
from loopml.core.reference import build_profile

ROLES = ColumnRoles(numeric=("size",), categorical=("colour",))


def _profile(task: str = "classification") -> object:
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {"size": rng.normal(10, 1, 1000), "colour": rng.choice(["red", "blue"], 1000)}
    )
    classes = ["no", "yes"] if task == "classification" else []
    return build_profile(train, ROLES, task=task, target="y", classes=classes)  # type: ignore[arg-type]


def _logged(n: int, *, proba: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    yes = rng.uniform(0, 1, n)
    rows = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "row": 0,
            "size": rng.normal(10, 0.8, n),  # within the training range (about 6.9-13.1)
            "colour": rng.choice(["red", "blue"], n).astype(object),
            "prediction": np.where(yes > 0.5, "yes", "no").astype(object),
        }
    )
    if proba:
        rows["proba_no"], rows["proba_yes"] = 1 - yes, yes
    return rows


def test_abstained_rows_come_first_then_uncertain_and_drifted_rows_take_turns() -> None:
    rows = _logged(200)
    rows.loc[[3, 9], "prediction"] = None  # withheld by the model
    rows.loc[150:159, "size"] = 25.0 + np.arange(10)  # beyond anything seen in training
    rows.loc[160:164, "colour"] = "green"  # a category training never saw
    queue = choose(rows, ["size", "colour"], _profile(), ["size", "colour"], max_rows=12)
    kinds = [r.split(":")[0] for r in queue.reasons]
    assert kinds[:2] == ["abstained", "abstained"] and set(queue.positions[:2]) == {3, 9}
    assert kinds[2:] == ["uncertain", "drifted region"] * 5
    margins = (rows["proba_yes"] - rows["proba_no"]).abs().to_numpy()
    uncertain = [p for p, k in zip(queue.positions, kinds, strict=True) if k == "uncertain"]
    ranked = [int(i) for i in np.argsort(margins) if i not in (3, 9)]
    assert uncertain == ranked[:5]  # the smallest margins, smallest first
    drifted = [p for p, k in zip(queue.positions, kinds, strict=True) if k == "drifted region"]
    assert set(drifted) <= set(range(150, 165))
    assert queue.considered == 200 and queue.counts() == {
        "abstained": 2,
        "uncertain": 5,
        "drifted region": 5,
        "random": 0,
    }


def test_each_input_is_queued_once_and_labelled_rows_never() -> None:
    rows = _logged(50)
    rows.loc[1, ["size", "colour"]] = rows.loc[0, ["size", "colour"]].to_numpy()  # same inputs
    margins = (rows["proba_yes"] - rows["proba_no"]).abs()
    rows.loc[[0, 1], ["proba_no", "proba_yes"]] = 0.5  # the most uncertain, twice
    labelled = {("r2", 0)}
    rows.loc[2, ["proba_no", "proba_yes"]] = [0.5, 0.5]
    queue = choose(rows, ["size", "colour"], _profile(), [], max_rows=50, labelled=labelled)
    assert 0 in queue.positions and 1 not in queue.positions and 2 not in queue.positions
    assert len(queue.positions) == 48 and queue.considered == 49
    assert margins.notna().all()


def test_a_regressor_is_queued_by_drift_alone_and_says_so() -> None:
    rows = _logged(100, proba=False)
    rows["prediction"] = 1.0
    rows.loc[:9, "size"] = 40.0 + np.arange(10)
    queue = choose(rows, ["size", "colour"], _profile("regression"), ["size"], max_rows=30)
    assert sorted(queue.positions[:10]) == list(range(10))
    assert all(r.startswith("drifted region: size (") for r in queue.reasons[:10])
    assert any("no uncertainty sampling" in note for note in queue.notes)
    # nothing else stands out: a random sample of the other rows fills the queue
    assert len(queue.positions) == 30 and set(queue.positions[10:]).isdisjoint(range(10))
    assert all(r.startswith("random: ") for r in queue.reasons[10:])
    again = choose(rows, ["size", "colour"], _profile("regression"), ["size"], max_rows=30)
    assert again.positions == queue.positions  # seeded


def test_max_rows_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_rows=0"):
        choose(_logged(5), ["size"], _profile(), [], max_rows=0)


def test_a_row_unusual_in_two_drifted_columns_comes_before_one_unusual_in_one() -> None:
    rows = _logged(200)
    rows.loc[20:29, "size"] = 30.0 + np.arange(10)  # beyond training
    rows.loc[25:29, "colour"] = "green"  # ... and an unseen category too
    queue = choose(rows, ["size", "colour"], _profile(), ["size", "colour"], max_rows=20)
    drifted = [p for p, r in zip(queue.positions, queue.reasons, strict=True) if "drifted" in r]
    assert drifted[:5] == [25, 26, 27, 28, 29] and set(drifted[5:10]) == set(range(20, 25))
