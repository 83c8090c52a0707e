"""train.distributed on Ray Data: the driver holds a sample; split, training and test use every row.

A real local Ray instance of 2 CPUs, a real SQLite MLflow store, the real CLI in-process.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import loopml
from loopml import compute
from loopml.compute import ray_prepare
from loopml.config import ProjectConfig, SplitConfig, load_config
from loopml.core.data import dialect, ingest, split
from loopml.workflows import distributed
from loopml.workflows.events import SilentReporter
from tests.conftest import write_project
from tests.integration.conftest import cli
from tests.integration.scaleout import local_ray  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("local_ray")]
ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'loopml[ray]'")
ROWS = 4_000


def _read_on_ray(cfg: ProjectConfig) -> Any:
    """The training data as `loopml train` reads it with train.distributed (Ray running)."""
    return distributed.training_data(cfg, SilentReporter(), compute.make(cfg.compute, cfg.train))


def _frame(rows: int = ROWS) -> pd.DataFrame:
    """Numbers with gaps, categories, dates as text and a label that depends on them."""
    rng = np.random.default_rng(11)
    visits = rng.poisson(3, rows)
    city = rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], rows)
    age = rng.normal(40, 12, rows).round(2)
    age[rng.random(rows) < 0.1] = np.nan
    churn = (visits > 4) | (city == "Kyiv")
    churn ^= rng.random(rows) < 0.05
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.permutation(rows), unit="h")
    return pd.DataFrame(
        {
            "ticket": np.arange(100_000, 100_000 + rows),
            "age": age,
            "visits": visits,
            "city": city,
            "when": days.strftime("%Y-%m-%d %H:%M"),
            "label": np.where(churn, "churn", "stay"),
        }
    )


def _project(folder: Path, frame: pd.DataFrame, **extra: Any) -> Path:
    frame.to_csv(folder / "customers.csv", index=False)
    body = {
        "name": "customers",
        "data": {
            "source": "customers.csv",
            "target": "label",
            "columns": {"id": ["ticket"], "ignore": ["when"]},
        },
        "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
        "models": {"candidates": {"lightgbm": {"n_estimators": 30, "num_leaves": 7}}},
        "train": {"distributed": True, "workers": 2, "checkpoint_every": 10, "sample_rows": 600},
        **extra,
    }
    return write_project(folder, body)


def _as_ray_reads_it(source: Path) -> pd.DataFrame:
    """The CSV with every cell as text, the way the workers see it before typing: as the
    local reader reads it."""
    return ingest.read_csv_text(str(source), dialect.detect(str(source)))


def _rows_on_ray(data: Any) -> pd.DataFrame:
    """Every placed row as the workers hold it (numpy-backed, as they type it)."""
    assert data.on_ray is not None
    batches = data.on_ray.dataset.iter_batches(batch_size=None, batch_format="pyarrow")
    return pd.concat([b.to_pandas() for b in batches], ignore_index=True)


@pytest.mark.slow
def test_a_distributed_run_never_reads_the_file_whole_and_tests_on_every_test_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spreadsheet's export ('; ', decimal commas, cp1252) trained on Ray Train: the
    workers type every row through the data contract, as the local reader does."""
    frame = _frame().replace({"city": {"Oslo": "Malmö"}})
    config = _project(tmp_path, frame.head(0))
    frame.to_csv(tmp_path / "customers.csv", sep=";", decimal=",", encoding="cp1252", index=False)

    def whole_file_read(*_: Any) -> pd.DataFrame:
        raise AssertionError("the driver read the whole file")

    monkeypatch.setattr(ingest, "load", whole_file_read)
    code, stdout, stderr = cli("run", "--config", str(config))

    assert code == 0, stderr[-3000:]
    sampled = re.search(r"Checking a sample of ([\d,]+) of the 4,000 rows", stderr)
    assert sampled and 450 <= int(sampled[1].replace(",", "")) <= 750, stderr[-3000:]
    assert "';'-separated, decimal ','" in stderr and "cp1252" in stderr
    assert "Training lightgbm on 2 Ray workers" in stderr
    run_id = stdout.strip().splitlines()[-1]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.get_run(run_id)

    # Each row's place, rebuilt here from the file alone: the run's splits are those.
    places = split.place(
        split.draws(_as_ray_reads_it(tmp_path / "customers.csv"), 42)[0], SplitConfig()
    )
    counts = pd.Series(places).value_counts()
    for part in split.PARTS:
        assert int(run.data.params[f"rows.{part}"]) == counts[part]
    # The test metrics are the registered model's on every one of the test rows.
    model = loopml.load_model(f"runs:/{run_id}/model", tracking_uri=client.tracking_uri)
    written = pd.read_csv(tmp_path / "customers.csv", sep=";", decimal=",", encoding="cp1252")
    assert written["age"].max() > 60 and set(written["city"]) >= {"Malmö"}  # read back right
    test = written[places == "test"]
    accuracy = float((model.predict(test) == test["label"]).mean())
    assert run.data.metrics["test_accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert accuracy > 0.85
    # The evaluation and the gate use the sample's test rows, logged under their own names.
    assert "test rows of the sample (train.sample_rows)" in stderr
    assert 0.8 < run.data.metrics["sample_test_accuracy"] <= 1
    # LightGBM counts the rows at each tree's root: the booster saw the training rows, all
    # but at most workers - 1 that Ray Train drops to give each worker an equal shard.
    root = re.search(r"^internal_count=(\d+) ", model.pipeline[-1].model_, re.MULTILINE)
    assert root and counts["train"] - 1 <= int(root[1]) <= counts["train"]


def test_every_row_is_typed_like_the_sample_and_split_by_time_with_the_sample_inside(
    tmp_path: Path,
) -> None:
    frame = _frame(3_000)
    config = _project(tmp_path, frame, split={"time_column": "when"})
    cfg = load_config(config)

    data = _read_on_ray(cfg)

    assert data.on_ray is not None
    assert sum(data.on_ray.sizes.values()) == 3_000
    # The time cutoffs are the sample's quantiles: about 20% (600 sampled rows: +-3.3%).
    assert data.on_ray.sizes["test"] == pytest.approx(600, abs=120)
    whole = _rows_on_ray(data)
    placed = whole.pop(ray_prepare.PLACE)
    typed = data.contract.apply(whole)  # the sample's contract, as the workers type blocks
    assert dict(typed.dtypes) == dict(data.frame.dtypes)
    local = ingest.load(cfg.data).set_index("ticket")  # the local reader and contract
    pd.testing.assert_frame_equal(typed.set_index("ticket"), local.loc[typed["ticket"]])
    moments = typed["when"]
    assert moments[placed == "train"].max() < moments[placed == "validation"].min()
    assert moments[placed == "validation"].max() < moments[placed == "test"].min()
    place_of = dict(zip(typed["ticket"], placed, strict=True))
    for part in split.PARTS:
        rows = getattr(data.splits, part)
        assert len(rows) > 0
        assert {place_of[t] for t in rows["ticket"]} == {part}


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("late_date.csv", "split.time_column 'when' has values that are not dates (e.g. 'soon')"),
        ("ragged.csv", "ragged.csv: training on Ray failed"),
        ("customers.jsonl", "customers.jsonl: Ray reads .parquet and .csv files"),
        ("sqlite:///shop.db", "data.source 'sqlite://...': train.distributed reads .parquet"),
    ],
)
def test_bad_data_for_distributed_training_is_one_line_and_logs_nothing(
    source: str, says: str, tmp_path: Path
) -> None:
    frame = _frame(3_000)
    config = _project(tmp_path, frame, split={"time_column": "when"})
    late = frame.astype({"when": object})
    late.loc[2_990, "when"] = "soon"  # far past the sample's rows, most likely
    late.to_csv(tmp_path / "late_date.csv", index=False)
    header, *rows = (tmp_path / "customers.csv").read_text().splitlines(keepends=True)
    (tmp_path / "ragged.csv").write_text("".join([header, *rows, "1,2,3,4,5,6,7,8\n"]))
    frame.to_json(tmp_path / "customers.jsonl", orient="records", lines=True)
    sets = ["--set", f"data.source={source}", "--set", "data.query=select 1"]

    code, _, stderr = cli("train", "--config", str(config), *sets)

    assert code == 1
    lines = [line for line in stderr.strip().splitlines() if line.startswith("error")]
    assert len(lines) == 1 and says in lines[0], stderr[-2000:]
    assert not (tmp_path / "mlflow.db").exists()  # nothing logged, no run left behind
    assert not (tmp_path / ".loopml" / "ray").exists()  # no checkpoint either


def _european(rows: int = 2_000) -> pd.DataFrame:
    """Amounts as '1.234,56', ZIP codes with leading zeros, '?' for an unknown age, and
    text only cp1252 encodes ('€', 'ö')."""
    rng = np.random.default_rng(5)
    amount = rng.uniform(0, 20_000, rows).round(2)
    zips = rng.integers(0, 30_000, rows)  # a third start with 0
    age = rng.integers(18, 90, rows).astype(object)
    age[rng.random(rows) < 0.1] = "?"
    plan = rng.choice(["Basis 5 €", "Plus 9 €", "Malmö"], rows)
    churn = (amount > 12_000) ^ (rng.random(rows) < 0.05)
    return pd.DataFrame(
        {
            "ticket": np.arange(1, rows + 1),
            "amount": [
                f"{a:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for a in amount
            ],
            "zip": [f"{z:05d}" for z in zips],
            "age": age,
            "plan": plan,
            "label": np.where(churn, "churn", "stay"),
        }
    )


def test_a_semicolon_decimal_comma_cp1252_file_reads_and_profiles_on_ray_as_locally(
    tmp_path: Path,
) -> None:
    frame = _european()
    config = _project(
        tmp_path,
        frame.head(0),
        data={"source": "european.csv", "target": "label", "columns": {"id": ["ticket"]}},
    )
    with open(tmp_path / "european.csv", "w", encoding="cp1252", newline="") as out:
        frame.to_csv(out, sep=";", index=False)
    cfg = load_config(config)
    local = ingest.load(cfg.data).set_index("ticket")  # the local reader and contract

    data = _read_on_ray(cfg)

    assert data.on_ray is not None and sum(data.on_ray.sizes.values()) == len(frame)
    whole = _rows_on_ray(data).drop(columns=ray_prepare.PLACE)
    typed = data.contract.apply(whole).set_index("ticket")  # as the workers type each block
    pd.testing.assert_frame_equal(typed, local.loc[typed.index])
    written = frame.set_index(frame["ticket"].astype(str)).loc[typed.index.astype(str)]
    amounts = written["amount"].str.replace(".", "").str.replace(",", ".").astype(float)
    assert typed["amount"].dtype == "float64" and typed["amount"].max() > 1_000
    assert typed["amount"].tolist() == amounts.tolist()  # '1.234,56' is 1234.56
    assert typed["zip"].tolist() == written["zip"].tolist()  # '01234' stays '01234'
    assert typed["zip"].str.startswith("0").sum() > 500
    assert typed["age"].isna().sum() == (frame["age"] == "?").sum() > 0
    assert set(typed["plan"]) == {"Basis 5 €", "Plus 9 €", "Malmö"}
    # Training on Ray Train from such a file: the distributed run's test above.
    # Profiling on Ray: the amounts are numeric, summarised over every row.
    sets = ["--set", "compute.backend=ray", "--set", "profile.sample_rows=500"]
    code, _, stderr = cli("profile", "-c", str(config), *sets)
    assert code == 0, stderr[-3000:]
    page = (tmp_path / "reports" / "profile-customers.html").read_text(encoding="utf-8")
    row = re.search(r"<tr><td>amount</td>((?:<td class=\"n\">[^<]*</td>){6})</tr>", page)
    assert row, page[-3000:]
    cells = [float(c.replace(",", "")) for c in re.findall(r">([^<]*)<", row[1]) if c]
    assert cells[4] == pytest.approx(local["amount"].max(), rel=1e-4)  # shown to 5 digits
    assert cells[5] == local["amount"].nunique()
    assert not re.search(r'<tr><td>zip</td>(<td class="n">[^<]*</td>){6}', page)
    assert re.search(r'<tr><td>zip</td><td class="n">[\d,]+</td><td>[^<]*\b0\d{4} \(', page)
