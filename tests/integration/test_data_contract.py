"""Real-world files read right: the training side of the data contract.

Each case is a few lines of synthetic data written the way a spreadsheet exports it; the
typed frame must equal the one read from the same data written plainly, so the model
trained on it is the model trained on clean data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.config import load_config
from loopml.workflows.prepare import Prepared, prepare
from tests.conftest import Recorder
from tests.integration.conftest import cli


def sales(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """precio, peso, zona and a class from a numeric rule."""
    rng = np.random.default_rng(seed)
    precio = np.round(rng.uniform(1, 2000, rows), 2)
    peso = np.round(rng.uniform(0.5, 5, rows), 3)
    zona = rng.choice(["norte", "sur", "este"], rows)
    clase = np.where(precio * peso > 2500, "alta", "baja")
    return pd.DataFrame({"precio": precio, "peso": peso, "zona": zona, "clase": clase})


def project(folder: Path, file_name: str, target: str, extra: str = "") -> Path:
    config = folder / "loopml.yaml"
    config.write_text(
        f"name: contract\ndata: {{source: {file_name}, target: {target}{extra}}}\n"
        "tuning: {budget: {trials: 2}, cv: {folds: 3}}\n"
        "models: {candidates: {logistic_regression: {}}}\n",
        encoding="utf-8",
    )
    return config


def prepared(config: Path) -> tuple[Prepared, Recorder]:
    recorder = Recorder()
    return prepare(load_config(config), recorder), recorder


def spanish(value: float, decimals: int) -> str:
    """1234.5 -> '1.234,50': thousands '.', decimal ','."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    folder = tmp_path_factory.mktemp("clean")
    sales().to_csv(folder / "ventas.csv", index=False)
    return prepared(project(folder, "ventas.csv", "clase"))[0]


def test_semicolon_decimal_comma_cp1252_reads_as_the_clean_file(
    tmp_path: Path, clean: Prepared
) -> None:
    frame = sales()
    lines = ["precio;peso;zona;clase"] + [
        f"{spanish(p, 2)};{spanish(w, 3)};{z};{c}" for p, w, z, c in frame.itertuples(index=False)
    ]
    (tmp_path / "ventas.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))

    data, recorder = prepared(project(tmp_path, "ventas.csv", "clase"))

    assert data.roles.numeric == ("precio", "peso")
    pd.testing.assert_frame_equal(data.frame, clean.frame)
    assert data.fingerprint == clean.fingerprint  # the same rows: the same model
    said = [s for s in recorder.stages if s.startswith("read ")]
    assert said and "';'-separated, decimal ','" in said[0] and "thousands '.'" in said[0]


def test_every_field_quoted_with_decimal_commas_stays_numeric(
    tmp_path: Path, clean: Prepared
) -> None:
    frame = sales()
    lines = ['"precio","peso","zona","clase"'] + [
        f'"{p:.2f}","{w:.3f}","{z}","{c}"'.replace(".", ",")
        for p, w, z, c in frame.itertuples(index=False)
    ]
    (tmp_path / "ventas.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    data, _ = prepared(project(tmp_path, "ventas.csv", "clase"))

    assert data.roles.numeric == ("precio", "peso")
    pd.testing.assert_frame_equal(data.frame, clean.frame)


def test_latin1_accents_are_read_and_the_encoding_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    lines = ["edad,región,ingresos,situación"]
    for _ in range(120):
        edad = int(rng.integers(18, 80))
        region = rng.choice(["León", "Cádiz", "Málaga"])
        answer = "sí" if (edad > 45) != (rng.random() < 0.2) else "no"
        lines.append(f"{edad},{region},{int(rng.integers(900, 5000))},{answer}")
    (tmp_path / "personas.csv").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))

    data, recorder = prepared(project(tmp_path, "personas.csv", "situación"))

    assert list(data.frame.columns) == ["edad", "región", "ingresos", "situación"]
    assert set(data.frame["región"]) == {"León", "Cádiz", "Málaga"}
    assert set(data.frame["situación"]) == {"sí", "no"}
    said = next(s for s in recorder.stages if s.startswith("read "))
    assert "encoding cp1252" in said or "encoding latin-1" in said


def test_question_marks_in_an_integer_column_keep_it_numeric_with_a_warning(
    tmp_path: Path,
) -> None:
    frame = sales(200)
    income = [str(int(p * 10)) for p in frame["precio"]]
    for i in range(6):
        income[i * 30] = "?"
    frame["income"] = income
    frame.to_csv(tmp_path / "income.csv", index=False)

    data, recorder = prepared(project(tmp_path, "income.csv", "clase"))

    assert "income" in data.roles.numeric
    assert int(data.frame["income"].isna().sum()) == 6
    assert "column 'income': read '?' ×6 as missing values (the column stays numeric)" in (
        recorder.warnings
    )


def test_zip_codes_with_leading_zeros_are_categories_and_say_why(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    zips = rng.choice(["02134", "06520", "94103", "10001", "60601"], 200)
    sqft = rng.integers(400, 3000, 200)
    pricey = np.where(np.isin(zips, ["94103", "10001"]) | (sqft > 2500), "yes", "no")
    pd.DataFrame({"zip": zips, "sqft": sqft, "pricey": pricey}).to_csv(
        tmp_path / "homes.csv", index=False
    )

    data, _ = prepared(project(tmp_path, "homes.csv", "pricey"))

    assert data.roles.categorical == ("zip",)
    assert "leading zeros" in data.roles.inferred["zip"]
    assert set(data.frame["zip"]) == {"02134", "06520", "94103", "10001", "60601"}


def test_day_first_dates_are_learned_and_stored_in_the_contract(tmp_path: Path) -> None:
    days = pd.date_range("2022-01-01", periods=240, freq="3D")
    frame = pd.DataFrame(
        {
            "fecha": days.strftime("%d/%m/%Y"),
            "units": np.arange(240) % 17,
            "season": np.where(days.month.isin([6, 7, 8]), "high", "low"),
        }
    )
    frame.to_csv(tmp_path / "fechas.csv", index=False)

    data, _ = prepared(project(tmp_path, "fechas.csv", "season"))

    assert data.roles.datetime == ("fecha",)
    rule = data.contract.rule("fecha")
    assert rule.date_format == "%d/%m/%Y"
    assert rule.role == "datetime"
    assert data.frame["fecha"].dt.month.tolist() == list(days.month)


def test_a_repeated_header_is_one_line_naming_the_column(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    outcome = rng.choice(["yes", "no"], 100)
    copy = np.where(rng.random(100) < 0.9, outcome, "")
    lines = ["x,outcome,y,outcome"] + [
        f"{rng.normal():.3f},{o},{rng.normal():.3f},{c}" for o, c in zip(outcome, copy)
    ]
    (tmp_path / "dupes.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, _, stderr = cli("run", "--config", str(project(tmp_path, "dupes.csv", "outcome")))

    assert code == 1
    errors = [line for line in stderr.splitlines() if "outcome" in line]
    assert len(errors) == 1 and "'outcome'" in errors[0] and "2 and 4" in errors[0]
    assert "Traceback" not in stderr
    assert not (tmp_path / ".loopml" / "mlflow.db").exists()


def test_a_spanish_export_trains_end_to_end_and_serves_raw_values(tmp_path: Path) -> None:
    """The real CLI on the `;`, decimal-comma, cp1252 file: it trains, says what it read,
    and the registered model reads values as written and in plain form alike."""
    import loopml

    frame = sales(240, seed=5)
    lines = ["precio;peso;zona;clase"] + [
        f"{spanish(p, 2)};{spanish(w, 3)};{z};{c}" for p, w, z, c in frame.itertuples(index=False)
    ]
    (tmp_path / "ventas.csv").write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    config = project(tmp_path, "ventas.csv", "clase")

    code, _, stderr = cli("run", "--config", str(config))

    assert code == 0, stderr
    assert "';'-separated, decimal ','" in stderr
    uri = load_config(config).tracking.uri
    model = loopml.load_model("models:/contract@champion", tracking_uri=uri)
    raw = pd.DataFrame(
        {"precio": ["1.250,50", "9,48"], "peso": ["3,5", "0,5"], "zona": ["sur"] * 2}
    )
    plain = pd.DataFrame({"precio": [1250.5, 9.48], "peso": [3.5, 0.5], "zona": ["sur"] * 2})
    np.testing.assert_array_equal(model.predict(raw), model.predict(plain))
    np.testing.assert_array_equal(model.predict(plain), ["alta", "baja"])
