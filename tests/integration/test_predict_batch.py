"""`loopml predict` end to end: files in, ids beside predictions out, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml.core.scoring import ScoringModel
from tests.integration.conftest import Project, cli

pytestmark = pytest.mark.integration

COLUMNS = ["patient_id", "prediction", "proba_benign", "proba_malignant"]


def _predict(project: Project, source: Path, output: Path, *extra: str) -> str:
    """Run `loopml predict`, assert it succeeded; return stderr."""
    code, stdout, stderr = cli(
        "predict", str(source), "-o", str(output), "--config", str(project.config_path), *extra
    )
    assert code == 0, stderr
    assert stdout.strip() == str(output)
    return stderr


def _fails(project: Project, source: Path, output: Path, *extra: str) -> str:
    """Run `loopml predict`, assert exit 1 with one error line; return that line."""
    code, _, stderr = cli(
        "predict", str(source), "-o", str(output), "--config", str(project.config_path), *extra
    )
    assert code == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.fixture(scope="module")
def source(breast_cancer: Project) -> Path:
    return breast_cancer.folder / "data" / "score_me.csv"


@pytest.fixture(scope="module")
def model(breast_cancer: Project) -> ScoringModel:
    return loopml.load_model(
        "models:/breast-cancer@champion", tracking_uri=breast_cancer.cfg.tracking.uri
    )


@pytest.fixture(scope="module")
def default_output(
    breast_cancer: Project, source: Path, tmp_path_factory: pytest.TempPathFactory
) -> pd.DataFrame:
    """score_me.csv scored with the defaults into Parquet."""
    output = tmp_path_factory.mktemp("predict") / "scored.parquet"
    stderr = _predict(breast_cancer, source, output)
    assert "Wrote 50 predictions from breast-cancer v1" in stderr
    return pd.read_parquet(output)


def test_csv_in_parquet_out(
    source: Path, default_output: pd.DataFrame, model: ScoringModel
) -> None:
    given = pd.read_csv(source)
    assert len(given) == 50
    assert list(default_output.columns) == COLUMNS
    assert len(default_output) == len(given)
    assert default_output["patient_id"].tolist() == given["patient_id"].tolist()
    assert default_output["prediction"].tolist() == model.predict(given).tolist()
    proba = model.predict_proba(given)
    assert default_output["proba_benign"].to_numpy() == pytest.approx(proba[:, 0], abs=1e-12)
    assert default_output["proba_malignant"].to_numpy() == pytest.approx(proba[:, 1], abs=1e-12)
    assert set(default_output["prediction"]) == {"benign", "malignant"}


def _same(written: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Ids, order and predictions exactly; probabilities to 1e-12 (BLAS sums in another order
    on another batch size, so the last bits of a float may differ)."""
    assert list(written.columns) == COLUMNS
    assert written["patient_id"].tolist() == expected["patient_id"].tolist()
    assert written["prediction"].tolist() == expected["prediction"].tolist()
    for column in ("proba_benign", "proba_malignant"):
        assert written[column].to_numpy() == pytest.approx(expected[column].to_numpy(), abs=1e-12)


def test_small_chunks_give_the_same_output(
    breast_cancer: Project, source: Path, default_output: pd.DataFrame, tmp_path: Path
) -> None:
    output = tmp_path / "chunked.parquet"
    stderr = _predict(breast_cancer, source, output, "--set", "batch.chunk_rows=7")
    assert "Wrote 50 predictions" in stderr
    _same(pd.read_parquet(output), default_output)


def test_parquet_in(
    breast_cancer: Project, source: Path, default_output: pd.DataFrame, tmp_path: Path
) -> None:
    parquet = tmp_path / "score_me.parquet"
    pd.read_csv(source).to_parquet(parquet, index=False)
    output = tmp_path / "scored.parquet"
    _predict(breast_cancer, parquet, output, "--set", "batch.chunk_rows=7")
    _same(pd.read_parquet(output), default_output)


def test_parquet_in_csv_out(
    breast_cancer: Project, source: Path, default_output: pd.DataFrame, tmp_path: Path
) -> None:
    parquet = tmp_path / "score_me.parquet"
    pd.read_csv(source).to_parquet(parquet, index=False)
    output = tmp_path / "scored.csv"
    _predict(breast_cancer, parquet, output, "--set", "batch.chunk_rows=7")
    _same(pd.read_csv(output), default_output)
    mask = os.umask(0)
    os.umask(mask)
    assert output.stat().st_mode & 0o777 == 0o666 & ~mask  # a plain file, not a private one


def test_json_lines_in(
    breast_cancer: Project, source: Path, default_output: pd.DataFrame, tmp_path: Path
) -> None:
    jsonl = tmp_path / "score_me.jsonl"
    pd.read_csv(source).to_json(jsonl, orient="records", lines=True)
    output = tmp_path / "scored.parquet"
    _predict(breast_cancer, jsonl, output, "--set", "batch.chunk_rows=7")
    _same(pd.read_parquet(output), default_output)


@pytest.mark.parametrize("which", ["1", "champion", "run_id"])
def test_model_by_version_alias_or_run_id(
    breast_cancer: Project,
    source: Path,
    default_output: pd.DataFrame,
    tmp_path: Path,
    which: str,
) -> None:
    chosen = breast_cancer.run_id if which == "run_id" else which
    output = tmp_path / "scored.parquet"
    stderr = _predict(breast_cancer, source, output, "--model", chosen)
    _same(pd.read_parquet(output), default_output)
    if which == "run_id":
        assert breast_cancer.run_id in stderr
    else:
        assert "breast-cancer v1" in stderr


def test_missing_feature_column_writes_nothing(
    breast_cancer: Project, source: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "no_radius.csv"
    pd.read_csv(source).drop(columns=["mean radius"]).to_csv(broken, index=False)
    folder = tmp_path / "out"
    output = folder / "scored.parquet"
    line = _fails(breast_cancer, broken, output)
    assert "'mean radius'" in line
    assert not output.exists()
    assert not folder.exists() or list(folder.iterdir()) == []


def test_bad_value_in_a_later_chunk_leaves_no_partial_file(
    breast_cancer: Project, source: Path, tmp_path: Path
) -> None:
    # Four chunks of 7 rows are scored and written before row 30 fails: the earlier
    # output must survive untouched and no temp file may be left beside it.
    frame = pd.read_csv(source)
    frame["mean radius"] = frame["mean radius"].astype(object)
    frame.loc[30, "mean radius"] = "large"
    broken = tmp_path / "late_error.csv"
    frame.to_csv(broken, index=False)
    folder = tmp_path / "out"
    folder.mkdir()
    output = folder / "scored.parquet"
    output.write_text("previous results\n")
    line = _fails(breast_cancer, broken, output, "--set", "batch.chunk_rows=7")
    assert "mean radius" in line and "'large'" in line
    assert output.read_text() == "previous results\n"
    assert sorted(p.name for p in folder.iterdir()) == ["scored.parquet"]


def test_nonexistent_input(breast_cancer: Project, tmp_path: Path) -> None:
    output = tmp_path / "scored.parquet"
    line = _fails(breast_cancer, tmp_path / "nope.csv", output)
    assert "nope.csv" in line and "no such file" in line
    assert not output.exists()


def test_output_with_unknown_extension(
    breast_cancer: Project, source: Path, tmp_path: Path
) -> None:
    output = tmp_path / "scored.txt"
    line = _fails(breast_cancer, source, output)
    assert "'.txt'" in line
    assert list(tmp_path.iterdir()) == []
