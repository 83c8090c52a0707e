"""`loopml data issues` through the real CLI on the shared trained project (read-only)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.integration.conftest import Project, cli

pytestmark = pytest.mark.integration


def test_issues_csv_has_the_columns_ranked_with_ids(breast_cancer: Project, tmp_path: Path) -> None:
    out = tmp_path / "issues.csv"
    code, stdout, stderr = cli(
        "data", "issues", "-c", str(breast_cancer.config_path), "-o", str(out)
    )
    assert code == 0, stderr
    assert "out-of-fold predictions" in stderr and f"to {out}" in stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["row", "patient_id", "given", "suggested", "score", "reason"]
    outlier = table["reason"].str.startswith("outlier:")
    assert len(table) >= 1 and table.loc[~outlier, "score"].is_monotonic_decreasing
    assert not outlier.any() or outlier.idxmax() == (~outlier).sum()  # outliers come last
    assert table.loc[outlier, "score"].is_monotonic_decreasing
    data = pd.read_csv(breast_cancer.folder / "data" / "breast_cancer.csv")
    for _, issue in table.iterrows():  # row and id point at the same data row
        assert data.loc[issue["row"], "patient_id"] == issue["patient_id"]
        assert data.loc[issue["row"], "diagnosis"] == issue["given"] != issue["suggested"]
    assert "likely label issues in 569 rows" in stdout


def test_issues_without_a_model_is_one_line(tmp_path: Path) -> None:
    from loopml.workflows.init import init_project

    init_project(tmp_path, "breast_cancer")
    code, stdout, stderr = cli("data", "issues", "-c", str(tmp_path / "loopml.yaml"))
    assert code == 1 and stdout == ""
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "challenger" in last, stderr


def test_top_below_one_is_refused_naming_the_option() -> None:
    code, stdout, stderr = cli("data", "issues", "--top", "0")
    assert code == 2 and stdout == ""
    assert "Invalid value for '--top'" in stderr, stderr
