"""beat_champion compares the two models only on test rows the champion was not fitted on.

v1 is trained with split.seed=42, v2 with split.seed=7: most of v2's test rows were in v1's
train or validation split, where v1 scores as on rows it learned. The gate must leave
those rows out, show how many it compared on, and fail (not pretend) when too few remain.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from loopml.config import load_config
from loopml.core.data import split
from loopml.core.evaluation.fitted_rows import unseen
from loopml.tracking.store import Tracker
from loopml.workflows.evaluate import champion_of, load
from loopml.workflows.events import SilentReporter
from loopml.workflows.init import init_project
from tests.integration.conftest import cli

pytestmark = pytest.mark.integration
FAST = ("--set", "models.candidates=[logistic_regression]", "--set", "tuning.budget.trials=2")


def _aliases(config: Path) -> dict[str, str]:
    cfg = load_config(config)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    return {k: str(v) for k, v in client.get_registered_model(cfg.model_name).aliases.items()}


def test_the_gate_never_scores_the_champion_on_rows_it_was_fitted_on(tmp_path: Path) -> None:
    init_project(tmp_path, "breast_cancer")
    config = tmp_path / "loopml.yaml"
    code, _, stderr = cli("run", "-c", str(config), *FAST)
    assert code == 0, stderr
    assert _aliases(config)["champion"] == "1"

    # v2 on another split: 24 of its 114 test rows are outside v1's train+validation rows
    code, _, stderr = cli("run", "-c", str(config), "--force", "--set", "split.seed=7", *FAST)
    assert code == 0, stderr
    assert "Gate failed: breast-cancer v2 stays challenger" in stderr
    assert (
        "beat_champion: only 24 of 114 test rows were not seen by champion v1 in its fitting, "
        "fewer than gate.beat_champion.min_rows=30" in " ".join(stderr.split())
    )
    assert _aliases(config) == {"champion": "1", "challenger": "2"}

    # with a lower minimum the comparison runs, on those 24 rows only, and says so
    _, _, stderr = cli("promote", "2", "-c", str(config), "--set", "gate.beat_champion.min_rows=20")
    lines = " ".join(stderr.split())
    assert "24 of 114 test rows unseen by champion v1 (90 it was fitted on left out)" in lines
    tags = (
        mlflow.MlflowClient(tracking_uri=load_config(config).tracking.uri)
        .get_model_version("breast-cancer", "2")
        .tags
    )
    rule = next(r for r in json.loads(tags["loopml.gate.rules"]) if r["rule"] == "beat_champion")
    assert "24 of 114 test rows" in rule["detail"]

    # the 24 rows, checked by value (not by hash) against v1's own split of the data
    cfg = load_config(config)
    tracker = Tracker.from_config(cfg)
    frame = pd.read_csv(tmp_path / "data" / "breast_cancer.csv")
    v1 = split.make(frame, cfg.split, "diagnosis", "classification")  # split.seed=42, as v1
    seen = pd.concat([v1.train, v1.validation])
    v2_test = load(cfg, tracker, "2", SilentReporter()).data.splits.test  # its own split
    champion = champion_of(cfg, tracker)
    assert champion is not None and champion.fitted is not None
    assert len(champion.fitted.hashes) == len(seen) == 455
    compared = v2_test[unseen(v2_test, champion.fitted)]
    assert len(compared) == 24
    overlap = compared.merge(seen, how="inner", on=list(frame.columns))
    assert overlap.empty, f"{len(overlap)} compared rows were in v1's train or validation split"
    left_out = v2_test[~unseen(v2_test, champion.fitted)]
    assert len(left_out.merge(seen, how="inner", on=list(frame.columns))) == 90
