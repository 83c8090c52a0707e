"""`loopml profile` with compute.backend ray: a real local Ray instance, same numbers as local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.config import load_config
from loopml.core.data import dialect, ingest
from loopml.core.data import profile as data_profile
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare
from tests.conftest import write_project
from tests.integration.conftest import cli
from tests.integration.scaleout import local_ray  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("local_ray")]
ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'loopml[ray]'")
ROWS = 3_000


def _frame() -> pd.DataFrame:
    """Numbers with gaps, categories with gaps and ties, text, and a label."""
    rng = np.random.default_rng(7)
    age = rng.normal(40, 12, ROWS).round(1)
    age[rng.random(ROWS) < 0.1] = np.nan
    shares = [0.4, 0.3, 0.2, 0.099, 0.001]
    city = rng.choice(["Oslo", "Lima", "Pune", "Kyiv", "Rare"], ROWS, p=shares)
    return pd.DataFrame(
        {
            "age": age,
            "visits": rng.poisson(3, ROWS),
            "fare": rng.exponential(30, ROWS).round(2),
            "city": pd.Series(city).where(rng.random(ROWS) > 0.05),
            "plan": rng.choice(["basic", "plus"], ROWS),
            "note": rng.choice(["late delivery again", "great service", "box was broken"], ROWS),
            "label": rng.choice(["churn", "stay"], ROWS, p=[0.3, 0.7]),
        }
    )


def _project(folder: Path, kind: str, **extra: object) -> Path:
    source = folder / f"customers.{kind}"
    frame = _frame()
    frame.to_parquet(source) if kind == "parquet" else frame.to_csv(source, index=False)
    body = {
        "name": "customers",
        "data": {"source": source.name, "target": "label", "columns": {"text": ["note"]}},
        "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
        **extra,
    }
    return write_project(folder, body)


@pytest.mark.parametrize(("kind", "target"), [("csv", "label"), ("parquet", "fare")])
def test_column_statistics_on_ray_equal_the_local_ones(
    kind: str, target: str, tmp_path: Path
) -> None:
    from loopml.compute import ray_profile

    config = _project(tmp_path, kind)
    config.write_text(config.read_text().replace("target: label", f"target: {target}"))
    cfg = load_config(config)
    data = prepare(cfg, SilentReporter(), leak_stops=False)
    args: tuple[Any, ...] = (data.frame, data.target, data.task, data.roles, data.splits, [])
    local = data_profile.build(*args)
    classification = data.task == "classification"
    dataset, _ = ray_profile.read(cfg.data.source)
    whole = ray_profile.whole_data(dataset, data.contract, data.roles, data.target, classification)
    on_ray = data_profile.with_whole_data(data_profile.build(*args), whole)

    assert classification == (target == "label")
    assert set(data.roles.numeric) == {"age", "visits", "fare"} - {target}
    assert set(data.roles.categorical) == {"city", "plan", "label"} - {target}
    assert on_ray.rows == local.rows == ROWS and not on_ray.sampled
    assert on_ray.missing == local.missing and on_ray.missing_cells == local.missing_cells
    assert [m["column"] for m in local.missing] == ["age", "city"]
    assert on_ray.categories == local.categories
    if classification:
        assert on_ray.labels is not None and local.labels is not None
        assert on_ray.labels.to_dict() == local.labels.to_dict()
    else:
        assert on_ray.target_mean == pytest.approx(local.target_mean, rel=1e-9)
    assert on_ray.highlights() == local.highlights()
    for ray_row, local_row in zip(on_ray.numeric, local.numeric, strict=True):
        assert ray_row["column"] == local_row["column"]
        assert ray_row["distinct"] == local_row["distinct"]
        for name in ("mean", "std", "min", "median", "max"):
            assert ray_row[name] == pytest.approx(local_row[name], rel=1e-9), name


def test_sample_is_read_back_as_the_local_reader_reads_it(tmp_path: Path) -> None:
    from loopml.compute import ray_profile

    cfg = load_config(_project(tmp_path, "csv"))
    local = ingest.read_table(cfg.data.source).frame  # every cell as the text written
    dataset, found = ray_profile.read(cfg.data.source)
    sample, rows = ray_profile.sample(dataset, cfg.data.source, 500, 1)
    assert found == dialect.detect(cfg.data.source)
    assert rows == ROWS and len(sample) == 500
    assert sample.dtypes.astype(str).to_dict() == local.dtypes.astype(str).to_dict()
    assert sample.map(lambda cell: isinstance(cell, str)).all().all()
    assert len(sample.merge(local.drop_duplicates())) == 500  # rows of the file, unchanged


def test_profile_command_on_ray_reports_every_row_and_samples_the_rest(tmp_path: Path) -> None:
    config = _project(tmp_path, "csv", compute={"backend": "ray"}, profile={"sample_rows": 600})
    code, stdout, stderr = cli("profile", "-c", str(config))
    assert code == 0, stderr
    assert "Sampled 600 of 3,000 rows" in stderr
    assert stdout.strip().endswith("profile-customers.html")  # the report's path, for scripts
    page = (tmp_path / "reports" / "profile-customers.html").read_text(encoding="utf-8")
    assert "all 3,000 rows (Ray Data)" in page
    assert "a random sample of 600 rows" in page
    assert '<div class="value">3,000</div>' in page  # the rows card counts the whole file


@pytest.mark.parametrize(
    ("source", "named", "says"),
    [
        ("customers.jsonl", "customers.jsonl", "Ray reads .parquet and .csv files"),
        ("ragged_head.csv", "ragged_head.csv", "Expected 7 columns, got 9"),  # the driver's
        ("ragged.csv", "ragged.csv", "Failed to read CSV file"),  # a worker's
        ("sqlite:///shop.db", "data.source 'sqlite://...'", "set compute.backend: local"),
    ],
)
def test_profile_on_ray_refuses_what_it_cannot_read_in_one_line(
    source: str, named: str, says: str, tmp_path: Path
) -> None:
    config = _project(tmp_path, "csv", compute={"backend": "ray"})
    frame = pd.read_csv(tmp_path / "customers.csv")
    frame.to_json(tmp_path / "customers.jsonl", orient="records", lines=True)
    header, *rows = (tmp_path / "customers.csv").read_text().splitlines(keepends=True)
    bad = "1,2,3,4,5,6,7,8,9\n"
    (tmp_path / "ragged_head.csv").write_text("".join([header, bad, *rows]))
    (tmp_path / "ragged.csv").write_text("".join([header, *rows, bad]))  # past the first block
    sets = ["--set", f"data.source={source}", "--set", "data.query=select 1"]
    code, _, stderr = cli("profile", "-c", str(config), *sets)
    assert code == 1
    lines = [line for line in stderr.strip().splitlines() if line.startswith("error")]
    assert len(lines) == 1 and named in lines[0] and says in lines[0], stderr[-2000:]
    assert not (tmp_path / "reports").exists()
