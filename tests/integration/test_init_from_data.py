"""`loopml init --data FILE --target COLUMN`: a project from the user's own file, read as
`loopml run` reads it, that trains as written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from loopml.config import load_config
from tests.integration.conftest import cli

pytestmark = pytest.mark.integration


def spanish_export(path: Path, rows: int = 300) -> Path:
    """A spreadsheet export: ';'-separated, decimal commas, cp1252, codes with leading
    zeros, day-first dates; 'clase' follows a rule on precio and peso."""
    rng = np.random.default_rng(7)
    lines = ["precio;peso;región;código;fecha;clase"]
    for _ in range(rows):
        precio, peso = rng.uniform(5, 15), rng.uniform(1, 4)
        clase = "alta" if 0.5 * precio + peso > 6.5 else "baja"
        lines.append(
            ";".join(
                [
                    f"{precio:.2f}".replace(".", ","),
                    f"{peso:.3f}".replace(".", ","),
                    str(rng.choice(["León", "Cádiz", "Jaén"])),
                    f"{rng.integers(0, 300):05d}",
                    f"{rng.integers(13, 28):02d}/{rng.integers(1, 13):02d}/2023",
                    clase,
                ]
            )
        )
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    return path


def test_init_from_a_file_spells_out_what_it_found_and_the_project_runs(tmp_path: Path) -> None:
    data = spanish_export(tmp_path / "ventas.csv")
    folder = tmp_path / "proyecto"

    code, _, stderr = cli("init", str(folder), "--data", str(data), "--target", "clase")

    assert code == 0, stderr
    assert f"read {data} as ';'-separated, decimal ',', encoding cp1252" in stderr
    assert "task classification (2 classes: " in stderr
    text = (folder / "loopml.yaml").read_text(encoding="utf-8")
    written = yaml.safe_load(text)
    assert written["data"] == {
        "source": "data/ventas.csv",
        "target": "clase",
        "task": "classification",
        "csv": {"sep": ";", "decimal": ",", "thousands": "", "encoding": "cp1252"},
        "columns": {
            "numeric": ["precio", "peso"],
            "categorical": ["región", "código"],
            "datetime": {"fecha": "%d/%m/%Y"},
        },
    }
    assert written["metric"] == "f1_macro"
    assert '- "código"  # codes with leading zeros' in text
    assert (folder / "data" / "ventas.csv").read_bytes() == data.read_bytes()
    assert not (folder / "data" / "score_me.csv").exists()
    assert load_config(folder / "loopml.yaml").data.csv.encoding == "cp1252"

    code, stdout, stderr = cli(
        "run",
        "--config",
        str(folder / "loopml.yaml"),
        "--set",
        "models.candidates=[logistic_regression]",
        "--set",
        "tuning.budget.trials=2",
        "--set",
        "tuning.learning_curve=false",
    )

    assert code == 0, stderr
    assert "read " in stderr and "encoding cp1252" in stderr and "(detected" not in stderr
    assert len(stdout.strip().splitlines()[-1]) == 32  # the run id


def test_a_regression_target_gets_r2_and_a_file_inside_the_folder_is_referenced(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(1)
    rows = ["x,y"] + [f"{x:.3f},{2 * x + rng.normal():.3f}" for x in rng.uniform(0, 9, 60)]
    (tmp_path / "own").mkdir()
    data = tmp_path / "own" / "values.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")

    code, _, stderr = cli("init", str(tmp_path / "own"), "--data", str(data), "--target", "y")

    assert code == 0, stderr
    written = yaml.safe_load((tmp_path / "own" / "loopml.yaml").read_text(encoding="utf-8"))
    assert written["data"]["source"] == "values.csv" and written["data"]["task"] == "regression"
    assert written["metric"] == "r2"
    assert not (tmp_path / "own" / "data").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--data", "{data}", "--target", "clas"),
            "error: --target 'clas' is not a column of {data}; did you mean 'clase'?",
        ),
        (
            ("--data", "{missing}", "--target", "clase"),
            "error: --data {missing}: no such file; give the path of a .csv, .parquet or .jsonl",
        ),
        (
            ("--data", "{data}"),
            "error: --data needs --target COLUMN: loopml init --data FILE --target COLUMN",
        ),
        (
            ("--data", "{data}", "--target", "clase", "--example", "wine"),
            "error: --data and --example: give one; --data starts from your own file",
        ),
    ],
)
def test_bad_init_arguments_are_one_line_and_write_nothing(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    data = spanish_export(tmp_path / "ventas.csv", rows=20)
    names = {"data": str(data), "missing": str(tmp_path / "nope.csv")}
    folder = tmp_path / "p"

    code, _, stderr = cli("init", str(folder), *(a.format(**names) for a in args))

    assert code == 1
    assert stderr.strip() == message.format(**names)
    assert not folder.exists()


def test_a_repeated_column_name_stops_init_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "x.csv"
    data.write_text("x,outcome,y,outcome\n1,a,2,a\n3,b,4,b\n", encoding="utf-8")

    code, _, stderr = cli("init", str(tmp_path / "p"), "--data", str(data), "--target", "outcome")

    assert code == 1
    assert stderr.strip() == (
        f"error: {data}: column 'outcome' appears twice (columns 2 and 4); rename or drop one "
        "— a copy of the target must never become a feature"
    )
    assert not (tmp_path / "p").exists()


def test_names_holding_terminal_markup_are_printed_as_written(tmp_path: Path) -> None:
    data = tmp_path / "m.csv"
    data.write_text("[bold]x,y\n1,a\n2,b\n", encoding="utf-8")

    code, _, stderr = cli("init", str(tmp_path / "p"), "--data", str(data), "--target", "[/]")

    assert code == 1
    assert stderr.strip() == (
        f"error: --target '[/]' is not a column of {data}; columns are: [bold]x, y"
    )
