"""`loopml predict` with compute.backend ray: a real local Ray instance, same rows as local."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.integration.conftest import Project, cli
from tests.integration.scaleout import local_ray  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("local_ray")]
ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'loopml[ray]'")


@pytest.fixture(scope="module")
def many_rows(breast_cancer: Project, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """12,000 rows to score, shuffled, with a unique id per row."""
    base = pd.read_csv(breast_cancer.folder / "data" / "breast_cancer.csv").drop(
        columns="diagnosis"
    )
    rng = np.random.default_rng(0)
    frame = base.sample(n=12_000, replace=True, random_state=1).reset_index(drop=True)
    frame["patient_id"] = rng.permutation(len(frame)) + 100_000
    return frame


def _predict(project: Project, source: Path, output: Path, *overrides: str) -> pd.DataFrame:
    sets = [arg for item in overrides for arg in ("--set", item)]
    code, _, stderr = cli(
        "predict", str(source), "-o", str(output), "--config", str(project.config_path), *sets
    )
    assert code == 0, stderr
    return pd.read_parquet(output) if output.suffix == ".parquet" else pd.read_csv(output)


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_ray_backend_scores_like_local_in_input_order(
    breast_cancer: Project, many_rows: pd.DataFrame, tmp_path: Path, kind: str
) -> None:
    source = tmp_path / f"input.{kind}"
    if kind == "parquet":
        many_rows.to_parquet(source, index=False, row_group_size=400)  # 30 groups
    else:
        many_rows.to_csv(source, index=False)
    local = _predict(breast_cancer, source, tmp_path / f"local.{kind}")
    on_ray = _predict(
        breast_cancer,
        source,
        tmp_path / f"ray.{kind}",
        "compute.backend=ray",
        "batch.chunk_rows=1500",
    )
    assert list(on_ray.columns) == ["patient_id", "prediction", "proba_benign", "proba_malignant"]
    assert on_ray["patient_id"].tolist() == many_rows["patient_id"].tolist()
    pd.testing.assert_frame_equal(on_ray, local)


def test_ray_backend_bad_column_is_one_line_and_writes_nothing(
    breast_cancer: Project, many_rows: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "bad.parquet"
    bad = many_rows.copy()
    bad["mean radius"] = bad["mean radius"].astype(str)
    bad.loc[7_000, "mean radius"] = "huge"  # deep in the file: found by a Ray worker
    bad.to_parquet(source, index=False, row_group_size=2_000)
    output = tmp_path / "out.parquet"
    code, stdout, stderr = cli(
        "predict", str(source), "-o", str(output), "--config", str(breast_cancer.config_path),
        "--set", "compute.backend=ray", "--set", "batch.chunk_rows=1000",
    )  # fmt: skip
    assert code == 1 and stdout == ""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "mean radius" in errors[0] and "'huge'" in errors[0] and str(source) in errors[0]
    assert not output.exists() and not list(tmp_path.glob(".out.parquet*"))
