"""`loopml run --data-variant`: the same configuration on changed training data (rows left
out, labels corrected), scored on the very same test rows, the change logged to MLflow."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from loopml.config import load_config
from loopml.tracking.store import Tracker
from loopml.workflows.events import SilentReporter
from loopml.workflows.init import init_project
from loopml.workflows.prepare import prepare
from tests.integration.conftest import cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("variants")
    init_project(folder, "breast_cancer")
    config = folder / "loopml.yaml"
    body = yaml.safe_load(config.read_text())
    body["models"] = {"candidates": {"logistic_regression": {}}}
    config.write_text(yaml.safe_dump(body))
    code, _, stderr = cli("run", "--config", str(config))
    assert code == 0, stderr
    code, _, stderr = cli("data", "issues", "-o", str(folder / "issues.csv"), "-c", str(config))
    assert code == 0, stderr
    body["data"]["variants"] = {
        "clean": {"exclude_rows": "issues.csv"},
        "fixed": {"relabel": "issues.csv"},  # its 'suggested' column
    }
    config.write_text(yaml.safe_dump(body))
    return config


def test_a_variant_trains_on_changed_rows_and_tests_on_the_same_rows(project: Path) -> None:
    issues = pd.read_csv(project.parent / "issues.csv")
    assert len(issues) > 0
    base = prepare(load_config(project), SilentReporter())
    for name in ("clean", "fixed"):
        varied = prepare(load_config(project, [f"data.variant={name}"]), SilentReporter())
        pd.testing.assert_frame_equal(varied.splits.test, base.splits.test)
        assert varied.fingerprint != base.fingerprint
    clean = prepare(load_config(project, ["data.variant=clean"]), SilentReporter())
    listed = set(issues["row"])
    in_test = listed & set(base.splits.rows[2])
    assert len(clean.splits.train) + len(clean.splits.validation) == (
        len(base.splits.train) + len(base.splits.validation) - (len(listed) - len(in_test))
    )
    assert clean.variant is not None and clean.variant.test_rows_unchanged == len(in_test)

    code, _, stderr = cli("run", "--config", str(project), "--data-variant", "clean")
    assert code == 0, stderr
    assert "Data variant 'clean':" in stderr
    cfg = load_config(project)
    tracker = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name)
    runs = tracker.client.search_runs(
        [tracker.experiment_id(create=False)], "tags.`loopml.data_variant` = 'clean'"
    )
    assert len(runs) == 1
    params = runs[0].data.params
    assert params["data_variant"] == "clean"
    assert int(params["data_variant_removed"]) == len(listed) - len(in_test)


def test_an_unknown_variant_or_a_bad_row_is_one_line(project: Path, tmp_path: Path) -> None:
    code, _, stderr = cli("train", "--config", str(project), "--data-variant", "nope")
    assert code == 1
    assert "data.variant 'nope' is not in data.variants (clean, fixed)" in stderr
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"row": [3, 99999]}).to_csv(bad, index=False)
    code, _, stderr = cli(
        "train", "--config", str(project), "--set", f"data.variants.clean.exclude_rows={bad}",
        "--data-variant", "clean",
    )  # fmt: skip
    assert code == 1
    assert f"{bad}: line 3, column 'row': 99999 is beyond the data, whose rows are 0-568" in stderr
