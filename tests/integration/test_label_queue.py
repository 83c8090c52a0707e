"""`loopml label-queue` on a real prediction log and MLflow store: the CSV it writes goes
back through `loopml feedback` unchanged once labels are filled in."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.conftest import Project, cli
from tests.integration.logged import entry, write

pytestmark = pytest.mark.integration


def test_the_queue_holds_abstained_uncertain_and_drifted_rows_and_round_trips_into_feedback(
    breast_cancer: Project, tmp_path: Path
) -> None:
    import loopml

    cfg = breast_cancer.cfg
    data = pd.read_csv(breast_cancer.folder / "data" / "breast_cancer.csv").sample(
        300, random_state=3
    )
    model = loopml.load_model("models:/breast-cancer@champion", tracking_uri=cfg.tracking.uri)
    features = data[model.feature_names].copy()
    features.iloc[150:, features.columns.get_loc("mean radius")] *= 3  # beyond training
    proba = model.predict_proba(features)
    predicted = list(model.predict(features))
    abstained = [i % 50 == 7 for i in range(len(features))]  # 6 rows the model withheld
    now = time.time()
    entries = [
        entry(
            f"r{i}",
            {c: [v] for c, v in record.items()},
            [None if abstained[i] else predicted[i]],
            at=now,
            model="breast-cancer",
            probabilities=[proba[i]],
            abstained=[abstained[i]],
        )
        for i, record in enumerate(features.to_dict("records"))
    ]
    url = f"sqlite:///{tmp_path / 'log.db'}"
    write(url, entries)
    settings = ["-c", str(breast_cancer.config_path), "--set", f"serve.prediction_log.url={url}"]
    settings += ["--set", "monitoring.drift.min_rows=100"]
    queue = tmp_path / "queue.csv"
    code, stdout, stderr = cli("label-queue", "-o", str(queue), "--max", "40", *settings)
    assert code == 0, stderr
    table = pd.read_csv(queue)
    assert len(table) == 40 and "of 300 unlabelled" in stdout
    reasons = table["reason"].str.split(":").str[0]
    assert list(reasons[:6]) == ["abstained"] * 6  # every withheld row, first
    assert set(table["request_id"][:6]) == {f"r{i}" for i in range(300) if abstained[i]}
    assert (reasons == "uncertain").sum() == 17 and (reasons == "drifted region").sum() == 17
    drifted = table[reasons == "drifted region"]
    assert drifted["reason"].str.contains("mean radius").all()
    assert (drifted["request_id"].str[1:].astype(int) >= 150).all()  # the shifted rows
    uncertain = table[reasons == "uncertain"]
    margins = uncertain["reason"].str.extract(r"margin ([\d.]+)")[0].astype(float)
    assert margins.is_monotonic_increasing
    assert table["diagnosis"].isna().all() and {"row", "prediction"} <= set(table.columns)
    assert f"fill in 'diagnosis', then: loopml feedback {queue}" in stderr

    # a labeller fills in half the rows; feedback takes the file as it is
    truth = dict(zip([f"r{i}" for i in range(300)], data["diagnosis"], strict=True))
    table["diagnosis"] = table["diagnosis"].astype(object)
    table.loc[:19, "diagnosis"] = [truth[r] for r in table["request_id"][:20]]
    table.to_csv(queue, index=False)
    code, stdout, stderr = cli("feedback", str(queue), *settings)
    assert code == 0, stderr
    assert stdout.strip() == "20" and "20 rows have no value in 'diagnosis'" in stderr

    _retraining_data_gains_the_labelled_rows(breast_cancer, url, table.head(20), features)

    again = tmp_path / "again.csv"
    code, _, stderr = cli("label-queue", "-o", str(again), "--max", "40", *settings)
    assert code == 0, stderr
    labelled = set(table["request_id"][:20])
    assert not labelled & set(pd.read_csv(again)["request_id"])  # labelled rows are not queued


def test_an_empty_log_is_one_line_and_no_file(breast_cancer: Project, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    write(url, [entry("x0", {"a": [1]}, ["benign"], model="another-model")])
    queue = tmp_path / "queue.csv"
    code, _, stderr = cli(
        "label-queue", "-o", str(queue), "-c", str(breast_cancer.config_path),
        "--set", f"serve.prediction_log.url={url}",
    )  # fmt: skip
    assert code == 1
    assert "holds no prediction of breast-cancer" in stderr and not queue.exists()
    problems = [line for line in stderr.splitlines() if line.strip() and "•" not in line]
    assert len(problems) == 1  # progress lines aside, one line


def _retraining_data_gains_the_labelled_rows(
    project: Project, url: str, labelled: pd.DataFrame, features: pd.DataFrame
) -> None:
    """retraining.data.feedback: loopml watch retrains on the file plus the labelled rows."""
    from loopml.config import load_config
    from loopml.tracking import monitoring as runs
    from loopml.tracking import registry
    from loopml.tracking.store import Tracker
    from loopml.workflows.monitor import model_contract
    from loopml.workflows.watch import retraining_data

    def data(feedback: bool) -> pd.DataFrame:
        cfg = load_config(
            project.config_path,
            [f"serve.prediction_log.url={url}", f"retraining.data.feedback={feedback}"],
        )
        tracker = Tracker.from_config(cfg)
        ref = registry.resolve(tracker, f"models:/{cfg.model_name}@champion")
        profile = runs.load_reference(tracker, ref)
        return retraining_data(cfg, profile, contract=model_contract(tracker, ref, cfg))

    without, with_feedback = data(False), data(True)
    assert len(with_feedback) == len(without) + 20
    added = with_feedback.tail(20)
    served = features.iloc[[int(r[1:]) for r in labelled["request_id"]]]
    expected = sorted(zip(served["worst area"].round(6), labelled["diagnosis"], strict=True))
    got = sorted(zip(added["worst area"].round(6), added["diagnosis"], strict=True))
    assert got == expected  # each served row with its label, as the target
    assert added["patient_id"].isna().all()  # an id the server never saw
