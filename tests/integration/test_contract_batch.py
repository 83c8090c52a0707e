"""`loopml predict` reads a file through the model's data contract, on the real CLI.

One project is trained once for the module on a spreadsheet export as many users have one:
``;``-separated, decimal commas, thousands points, cp1252 text, ZIP codes with leading
zeros. Scoring a file written the same way must give what ``loopml.load_model(...).predict``
gives for the same rows in plain typed form.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.core.reference import ReferenceProfile
from loopml.core.scoring import ScoringModel
from loopml.tracking.prediction_log import resolve_url
from loopml.workflows.watch import retraining_data
from tests.conftest import write_project
from tests.integration.conftest import Project, cli, train_cli
from tests.integration.logged import write_frame
from tests.integration.scaleout import local_ray  # noqa: F401  (a fixture)

pytestmark = pytest.mark.integration

ZIPS = ["02134", "06520", "94103", "00501", "10001"]
ZONES = ["León", "Cádiz", "Málaga"]


def rows(n: int, seed: int) -> pd.DataFrame:
    """Typed rows: the truth a file written in any dialect must read back to."""
    rng = np.random.default_rng(seed)
    precio = rng.uniform(1, 20_000, n).round(2)
    peso = rng.uniform(0.1, 5, n).round(3)
    zip_ = rng.choice(ZIPS, n)
    score = precio / 20_000 + 0.3 * peso + np.isin(zip_, ["02134", "00501"]) * 0.8
    return pd.DataFrame(
        {
            "pedido": [f"P{seed}-{i:04d}" for i in range(n)],
            "precio": precio,
            "peso": peso,
            "zona": rng.choice(ZONES, n),
            "zip": zip_,
            "clase": np.where(score + rng.normal(0, 0.3, n) > 1.6, "alta", "baja"),
        }
    )


def spanish(value: float, places: int) -> str:
    """``15250.0`` as a Spanish spreadsheet writes it: ``15.250,00``."""
    return f"{value:,.{places}f}".replace(",", "_").replace(".", ",").replace("_", ".")


def write_spanish(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` as a ``;``-separated, decimal-comma, cp1252 file (every row as written)."""
    written = frame.assign(
        precio=[spanish(v, 2) for v in frame["precio"]],
        peso=[spanish(v, 3) for v in frame["peso"]],
    )
    lines = [";".join(written.columns)]
    lines += [";".join(str(v) for v in record) for record in written.itertuples(index=False)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


@pytest.fixture(scope="module")
def ventas(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("ventas")
    trained = rows(300, 0)
    trained.loc[[3, 50, 97, 144, 191, 238], "zona"] = "?"  # a marker of missing values
    write_spanish(trained, folder / "ventas.csv")
    config = write_project(
        folder,
        {
            "name": "ventas",
            "data": {"source": "ventas.csv", "target": "clase", "columns": {"id": ["pedido"]}},
            "models": {"candidates": {"logistic_regression": {}, "lightgbm": {}}},
            "tuning": {"budget": {"trials": 2}, "learning_curve": False},
            "tracking": {"uri": "sqlite:///.loopml/mlflow.db"},
        },
    )
    return Project(folder, config, train_cli(config))


def model_of(project: Project) -> ScoringModel:
    return loopml.load_model(f"runs:/{project.run_id}/model", tracking_uri=project.cfg.tracking.uri)


def predict(project: Project, source: Path, output: Path, *sets: str) -> tuple[int, str]:
    code, _, stderr = cli(
        "predict", str(source), "-o", str(output), "--config", str(project.config_path),
        "--model", project.run_id, *(arg for item in sets for arg in ("--set", item)),
    )  # fmt: skip
    return code, stderr


def test_a_file_in_the_training_dialect_scores_as_load_model_on_typed_values(
    ventas: Project, tmp_path: Path
) -> None:
    model = model_of(ventas)
    assert model.contract is not None
    assert model.contract.dialect["sep"] == ";" and model.contract.dialect["decimal"] == ","
    assert model.contract.rule("precio").kind == "number"
    typed = rows(200, 1)
    source = write_spanish(typed, tmp_path / "nuevos.csv")
    code, stderr = predict(ventas, source, tmp_path / "scored.csv")
    assert code == 0, stderr
    scored = pd.read_csv(tmp_path / "scored.csv", dtype={"pedido": str})
    assert scored["pedido"].tolist() == typed["pedido"].tolist()
    expected = model.predict(typed.drop(columns=["pedido", "clase"]))
    assert scored["prediction"].tolist() == list(expected)
    # Both classes occur, so equal lists are not one constant answer.
    assert set(expected) == {"alta", "baja"}
    # The same rows typed in Parquet (15250.0, not "15.250,00") give the same predictions.
    typed.to_parquet(tmp_path / "nuevos.parquet", index=False)
    code, stderr = predict(ventas, tmp_path / "nuevos.parquet", tmp_path / "typed.csv")
    assert code == 0, stderr
    assert pd.read_csv(tmp_path / "typed.csv")["prediction"].tolist() == list(expected)


def test_a_bad_value_is_one_line_naming_the_file_row_and_column(
    ventas: Project, tmp_path: Path
) -> None:
    frame = rows(120, 2)
    source = write_spanish(frame, tmp_path / "malo.csv")
    lines = source.read_bytes().decode("cp1252").split("\r\n")
    cells = lines[57].split(";")  # line 0 is the header: this is the 57th row
    cells[frame.columns.get_loc("peso")] = "dos kilos"
    lines[57] = ";".join(cells)
    source.write_bytes("\r\n".join(lines).encode("cp1252"))
    output = tmp_path / "scored.parquet"
    code, stderr = predict(ventas, source, output, "batch.chunk_rows=50")  # row 57: 2nd chunk
    assert code == 1
    message = [line for line in stderr.splitlines() if line.startswith("error")]
    assert len(message) == 1 and "Traceback" not in stderr, stderr
    assert "malo.csv" in message[0] and "row 57" in message[0] and "'peso'" in message[0]
    assert "'dos kilos'" in message[0]
    assert not output.exists()
    assert not list(tmp_path.glob(".scored.parquet*"))  # no temporary file left behind


def test_zip_codes_keep_their_leading_zeros(ventas: Project, tmp_path: Path) -> None:
    model = model_of(ventas)
    assert model.contract is not None and model.contract.rule("zip").code
    typed = rows(40, 3).assign(zip=["02134", "94103"] * 20)
    source = write_spanish(typed, tmp_path / "zips.csv")
    code, stderr = predict(ventas, source, tmp_path / "scored.parquet")
    assert code == 0, stderr
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    expected = model.predict_proba(typed.drop(columns=["pedido", "clase"]))
    # Batch may score through the compiled graph (float32): equal within its parity bound.
    np.testing.assert_allclose(
        scored[["proba_alta", "proba_baja"]].to_numpy(), expected, rtol=0, atol=1e-5
    )
    # The code matters to the model: read as the number 2134 it would be an unknown category.
    unknown = model.predict_proba(typed.drop(columns=["pedido", "clase"]).assign(zip="2134"))
    assert not np.allclose(unknown, expected)


def test_monitor_reads_logged_values_by_the_contract_and_flags_missingness(
    ventas: Project, tmp_path: Path
) -> None:
    """Logged traffic as the rows were sent: ``precio`` half as written in the file
    (``"15.250,00"``), half as plain numbers; ``peso`` missing in 60% of rows (0% at
    training). Only ``peso``'s missing share is drift."""
    cfg = ventas.cfg
    traffic = rows(300, 4)
    gone = np.random.default_rng(4).random(len(traffic)) < 0.6
    logged = pd.DataFrame(
        {
            "precio": [
                spanish(v, 2) if i % 2 else float(v) for i, v in enumerate(traffic["precio"])
            ],
            "peso": [
                None if g else spanish(v, 3) for v, g in zip(traffic["peso"], gone, strict=True)
            ],
            "zona": traffic["zona"],
            "zip": traffic["zip"],
        }
    )
    predicted = list(model_of(ventas).predict(traffic.drop(columns=["pedido", "clase"])))
    url = resolve_url(cfg.serve.prediction_log.url, cfg.root)
    write_frame(url, logged, predicted, model=cfg.model_name, prefix="r")
    code, stdout, stderr = cli(
        "monitor", "--config", str(ventas.config_path), "--model", ventas.run_id,
        "-o", str(tmp_path), "--set", "monitoring.drift.min_rows=200",
    )  # fmt: skip
    assert code == 3, stderr  # an alert
    assert "(missing)" in stdout, stdout  # the CLI table has the row (its width may wrap it)
    report = json.loads((tmp_path / "monitor.json").read_text(encoding="utf-8"))
    found = {f["name"]: f for f in report["drift"]["features"]}
    assert found["peso (missing)"]["drifted"] and found["peso (missing)"]["test"] == "z"
    assert found["peso (missing)"]["missing_reference"] == 0.0
    assert found["peso (missing)"]["missing_current"] == pytest.approx(gone.mean())
    # "15.250,00" is read as 15250.0: precio is never missing (so its missing share is not
    # even tested) and does not drift.
    assert "precio (missing)" not in found and found["precio"]["missing_current"] == 0.0
    assert not found["precio"]["drifted"]
    assert [f["name"] for f in report["drift"]["features"] if f["drifted"]] == ["peso (missing)"]


def test_the_evaluation_report_shows_the_data_contract(ventas: Project) -> None:
    reports = sorted(ventas.folder.rglob("evaluation-*.html"))
    assert reports, "loopml run wrote no evaluation report"
    page = html.unescape(reports[-1].read_text(encoding="utf-8"))
    section = page[page.index('<section id="contract">') :]
    section = section[: section.index("</section>")]
    assert "';'-separated, decimal ',', thousands '.', encoding cp1252" in section

    def row(name: str) -> str:
        found = re.search(rf"<tr><td>{name}</td>(.*?)</tr>", section)
        assert found, f"no row for {name} in the contract table"
        return found.group(1)

    assert row("precio").startswith(
        "<td>numeric</td><td>number</td><td>decimal ',', thousands '.'</td>"
    )
    assert "<td>categorical</td>" in row("zip") and "code, leading zeros kept" in row("zip")
    assert "<td>'?' ×6</td><td class=\"n\">2.0%</td>" in row("zona")
    assert row("clase").startswith("<td>target</td>")
    assert row("pedido").startswith("<td>id</td>")


def test_retraining_data_is_read_by_the_champions_contract(ventas: Project, tmp_path: Path) -> None:
    """New rows whose ZIP codes happen to have no leading zero stay codes, as at training
    (read on their own they would become the numbers 94103 and 10001)."""
    typed = rows(50, 6).assign(zip=["94103", "10001"] * 25)
    cfg = ventas.cfg
    cfg.retraining.data.source = str(write_spanish(typed, tmp_path / "nuevos.csv"))
    profile = ReferenceProfile(
        created="2026-01-01", task="classification", target="clase", rows=300, features={}
    )
    frame = retraining_data(cfg, profile, contract=model_of(ventas).contract)
    assert frame["zip"].tolist() == typed["zip"].tolist()
    assert frame["precio"].tolist() == typed["precio"].tolist()  # "15.250,00" -> 15250.0
    assert frame["clase"].tolist() == typed["clase"].tolist()


@pytest.mark.ray
@pytest.mark.usefixtures("local_ray")
def test_ray_reads_the_file_through_the_same_contract(ventas: Project, tmp_path: Path) -> None:
    """compute.backend ray: the same predictions as local, and a bad value placed in its row
    of the file although a worker sees one block."""
    typed = rows(300, 5)
    source = write_spanish(typed, tmp_path / "lote.csv")
    sets = ("batch.chunk_rows=100",)
    code, stderr = predict(ventas, source, tmp_path / "local.parquet", *sets)
    assert code == 0, stderr
    code, stderr = predict(ventas, source, tmp_path / "ray.parquet", "compute.backend=ray", *sets)
    assert code == 0, stderr
    local, on_ray = (
        pd.read_parquet(tmp_path / "local.parquet"),
        pd.read_parquet(tmp_path / "ray.parquet"),
    )
    assert on_ray["pedido"].tolist() == typed["pedido"].tolist()
    pd.testing.assert_frame_equal(on_ray, local)
    lines = source.read_bytes().decode("cp1252").split("\r\n")
    cells = lines[257].split(";")  # the 257th row, in the third block of 100
    cells[typed.columns.get_loc("peso")] = "dos kilos"
    lines[257] = ";".join(cells)
    source.write_bytes("\r\n".join(lines).encode("cp1252"))
    output = tmp_path / "bad.parquet"
    code, stderr = predict(ventas, source, output, "compute.backend=ray", *sets)
    assert code == 1 and not output.exists()
    message = [line for line in stderr.splitlines() if line.startswith("error")]
    assert len(message) == 1 and "row 257" in message[0] and "lote.csv" in message[0], stderr
