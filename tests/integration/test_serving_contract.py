"""Served values read through the data contract, on a real uvicorn server.

One synthetic shop file, written as a Spanish spreadsheet exports it (``;``-separated,
decimal comma, ``.`` thousands, dates as dd/mm/yyyy, ZIP codes with leading zeros,
``True``/``False``, an id, an ignored column), is trained once for the module. A row as
written in that file and the same row in plain JSON form must give the prediction batch
scoring gives, on every protocol and both engines; a value the contract cannot read is a
4xx naming the column.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loopml
from loopml.config import ServeConfig
from loopml.core.scoring import ScoringModel
from loopml.serving.app import create_app
from loopml.tracking.models import LoadedModel, load_with_compiled
from tests.conftest import write_project
from tests.integration.conftest import LiveServer, Project, cli, train_cli

pytestmark = pytest.mark.integration

ROWS = 300
ZIPS = ("02134", "06520", "94103", "10001")
ZONAS = ("norte", "sur", "León")
NOTAS = ("cliente nuevo", "pago tarde", "sin nota", "muy bueno")
COLUMNS = ("order_id", "zip", "sqft", "is_member", "fecha", "zona", "nota", "label", "comment")


def euro(number: float) -> str:
    """12345.6 as a Spanish spreadsheet writes it: '12.345,60'."""
    return f"{number:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def shop_frame(seed: int = 0) -> pd.DataFrame:
    """The label is 'high' in June-August, otherwise when two of: member, ZIP 02134, over
    15,000 sq ft; so every kind of column moves the answer."""
    rng = np.random.default_rng(seed)
    days = [date(2023, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 365, ROWS)]
    summer = np.array([d.month in (6, 7, 8) for d in days])
    sqft = rng.uniform(500, 30_000, ROWS).round(2)
    member = rng.random(ROWS) < 0.5
    zips = rng.choice(ZIPS, ROWS, p=[0.5, 0.2, 0.2, 0.1])
    points = 3 * summer + member + (zips == "02134") + (sqft > 15_000)
    return pd.DataFrame(
        {
            "order_id": [f"A-{i:04d}" for i in range(ROWS)],
            "zip": zips,
            "sqft": [euro(v) for v in sqft],
            "is_member": np.where(member, "True", "False"),
            "fecha": [d.strftime("%d/%m/%Y") for d in days],
            "zona": rng.choice(ZONAS, ROWS),
            "nota": rng.choice(NOTAS, ROWS),
            "label": np.where(points >= 2, "high", "low"),
            "comment": rng.choice(["", "llamar", "ok"], ROWS),
        },
        columns=list(COLUMNS),
    )


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, sep=";", index=False)
    return path


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("shop")
    (folder / "data").mkdir()
    write_csv(shop_frame(), folder / "data" / "ventas.csv")
    config = write_project(
        folder,
        {
            "name": "shop",
            "data": {
                "source": "data/ventas.csv",
                "target": "label",
                "columns": {"id": ["order_id"], "ignore": ["comment"], "text": ["nota"]},
            },
            "models": {"candidates": ["lightgbm"]},
            "tuning": {"budget": {"trials": 2}, "learning_curve": False},
            "tracking": {"uri": "sqlite:///.loopml/mlflow.db"},
        },
    )
    return Project(folder, config, train_cli(config))


@pytest.fixture(scope="module")
def model(shop: Project) -> ScoringModel:
    return loopml.load_model("models:/shop@champion", tracking_uri=shop.cfg.tracking.uri)


@pytest.fixture(scope="module")
def loaded(shop: Project) -> LoadedModel:
    return load_with_compiled("models:/shop@champion", tracking_uri=shop.cfg.tracking.uri)


def _server(loaded: LoadedModel, engine: str) -> LiveServer:
    settings = ServeConfig()
    settings.engine = engine  # type: ignore[assignment]
    settings.reload_interval = 0
    return LiveServer(create_app(loaded, settings))


@pytest.fixture(scope="module")
def server(loaded: LoadedModel) -> Iterator[LiveServer]:
    assert loaded.compiled is not None, loaded.compile_note
    with _server(loaded, "onnx") as live:
        yield live


@pytest.fixture(scope="module")
def native(loaded: LoadedModel) -> Iterator[LiveServer]:
    with _server(loaded, "native") as live:
        yield live


def as_written(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Rows exactly as the file holds them: every cell the text written."""
    text = io.StringIO()
    frame.to_csv(text, sep=";", index=False)
    return pd.read_csv(
        io.StringIO(text.getvalue()), sep=";", dtype=str, keep_default_na=False
    ).to_dict("records")


def batch(shop: Project, frame: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """`loopml predict` on ``frame`` written as the training file is."""
    source = write_csv(frame, folder / "score.csv")
    out = folder / "scored.csv"
    code, _, stderr = cli("predict", str(source), "-o", str(out), "-c", str(shop.config_path))
    assert code == 0, stderr
    return pd.read_csv(out, dtype={"order_id": str})


def predict(url: str, records: list[dict[str, Any]], client: httpx.Client) -> dict[str, Any]:
    answer = client.post(f"{url}/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _proba(body: dict[str, Any]) -> list[float]:
    return [row["high"] for row in body["probabilities"]]


def _row(**values: Any) -> dict[str, Any]:
    """A row off-season, of a non-member in ZIP 94103 with a small shop: 'low'."""
    base = {
        "zip": "94103",
        "sqft": 800.0,
        "is_member": False,
        "fecha": "2023-03-14",
        "zona": "norte",
        "nota": "sin nota",
    }
    return {**base, **values}


# --- the cases ---


def test_a_training_file_row_as_written_gives_the_batch_answer_with_its_id_echoed(
    shop: Project, server: LiveServer, http: httpx.Client, tmp_path: Path
) -> None:
    frame = shop_frame().head(8)
    scored = batch(shop, frame, tmp_path)
    body = predict(server.url, as_written(frame), http)
    assert body["predictions"] == scored["prediction"].tolist()
    assert _proba(body) == pytest.approx(scored["proba_high"].tolist(), abs=1e-9)
    assert body["ids"] == [{"order_id": i} for i in frame["order_id"]]
    assert scored["order_id"].tolist() == frame["order_id"].tolist()
    assert set(body["predictions"]) == {"high", "low"}, "a constant answer proves nothing"


def test_a_zip_code_as_written_is_served_as_batch_scores_it(
    shop: Project, server: LiveServer, http: httpx.Client, tmp_path: Path
) -> None:
    frame = shop_frame().head(40)
    rows = frame[frame["zip"] == "02134"].head(3)
    scored = batch(shop, rows, tmp_path)
    body = predict(server.url, as_written(rows), http)
    assert _proba(body) == pytest.approx(scored["proba_high"].tolist(), abs=1e-9)
    # The code read as a number would be the unknown category 2134: another answer.
    member = _row(is_member=True)
    code = predict(server.url, [{**member, "zip": "02134"}, {**member, "zip": 2134}], http)
    assert code["predictions"] == ["high", "low"], code


def test_a_date_in_the_file_format_and_in_iso_8601_is_the_same_july_day(
    server: LiveServer, http: httpx.Client
) -> None:
    july = [_row(fecha="2023-07-05"), _row(fecha="05/07/2023"), _row(fecha="2023-07-05T00:00:00")]
    body = predict(server.url, [*july, _row(fecha="07/05/2023")], http)
    assert body["predictions"] == ["high", "high", "high", "low"]  # the last is 7 May
    assert len(set(_proba(body)[:3])) == 1
    junk = http.post(f"{server.url}/predict", json={"records": [_row(fecha="not a date")]})
    assert junk.status_code == 422
    (problem,) = junk.json()["detail"]
    assert problem["loc"] == ["body", "records", 0, "fecha"]
    assert "'not a date'" in problem["msg"] and "%d/%m/%Y or ISO 8601" in problem["msg"]


def test_every_spelling_of_a_boolean_is_one_value_and_maybe_is_refused(
    server: LiveServer, http: httpx.Client
) -> None:
    spellings = [False, "false", "False", 0, "0", " FALSE "]
    body = predict(server.url, [_row(is_member=s) for s in [*spellings, True]], http)
    probabilities = _proba(body)
    assert len(set(probabilities[:-1])) == 1, probabilities
    assert probabilities[-1] != probabilities[0], "is_member must move the answer"
    maybe = http.post(f"{server.url}/predict", json={"records": [_row(is_member="maybe")]})
    assert maybe.status_code == 422
    (problem,) = maybe.json()["detail"]
    assert problem["loc"][-1] == "is_member" and "'maybe'" in problem["msg"]


def test_a_decimal_comma_number_is_the_plain_number(server: LiveServer, http: httpx.Client) -> None:
    written = ["15.250,00", 15250.0, 15250, "15250.0", "15250,00"]
    body = predict(server.url, [_row(sqft=v, is_member=True) for v in [*written, 900.0]], http)
    probabilities = _proba(body)
    assert len(set(probabilities[:-1])) == 1, probabilities
    assert probabilities[-1] != probabilities[0], "sqft must move the answer"
    bad = http.post(f"{server.url}/predict", json={"records": [_row(sqft="15,250.00")]})
    assert bad.status_code == 422 and "decimal ','" in bad.text and "sqft" in bad.text


# --- every protocol, both engines ---


def _protocol_answers(url: str, rows: list[dict[str, str]], client: httpx.Client) -> list[Any]:
    """Predictions for ``rows`` (as written) through every protocol and body format."""
    names = list(rows[0])
    table = [list(r.values()) for r in rows]
    csv_body = ";".join(names) + "\n" + "\n".join(";".join(r) for r in table) + "\n"
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("/predict", {"json": {"records": rows}}),
        ("/invocations", {"json": {"dataframe_split": {"columns": names, "data": table}}}),
        ("/invocations", {"json": {"dataframe_records": rows}}),
        ("/invocations", {"json": {"instances": rows}}),
        ("/invocations", {"json": {"instances": table}}),  # the file's order, no names
        ("/invocations", {"json": {"inputs": {n: [r[n] for r in rows] for n in names}}}),
        ("/invocations", {"content": csv_body, "headers": {"content-type": "text/csv"}}),
        (
            "/invocations",
            {
                "content": csv_body.encode("cp1252"),
                "headers": {"content-type": "text/csv; charset=cp1252"},
            },
        ),
        (
            "/v2/models/shop/infer",
            {
                "json": {
                    "inputs": [
                        {
                            "name": n,
                            "shape": [len(rows)],
                            "datatype": "BYTES",
                            "data": [r[n] for r in rows],
                        }
                        for n in names
                    ]
                }
            },
        ),
        (
            "/v2/models/shop/infer",
            {
                "json": {
                    "inputs": [
                        {
                            "name": "rows",
                            "shape": [len(rows), len(names)],
                            "datatype": "BYTES",
                            "data": table,
                        }
                    ]
                }
            },
        ),
    ]
    answers = []
    for path, request in bodies:
        answer = client.post(url + path, **request)
        assert answer.status_code == 200, (path, request, answer.text)
        body = answer.json()
        if path.startswith("/v2"):
            answers.append(body["outputs"][0]["data"])
        else:
            answers.append(body["predictions"])
    return answers


def test_every_protocol_and_both_engines_read_a_row_as_written_as_batch_does(
    shop: Project,
    server: LiveServer,
    native: LiveServer,
    loaded: LoadedModel,
    http: httpx.Client,
    tmp_path: Path,
) -> None:
    frame = shop_frame(seed=1).head(12)
    rows = as_written(frame)
    expected = batch(shop, frame, tmp_path)["prediction"].tolist()
    assert set(expected) == {"high", "low"}
    for live in (server, native):
        for answer in _protocol_answers(live.url, rows, http):
            assert answer == expected
    reference = loaded.model.score_frame(pd.DataFrame(rows))
    for live in (server, native):
        body = predict(live.url, rows, http)
        assert _proba(body) == pytest.approx(reference["proba_high"].tolist(), abs=1e-6)


def test_an_unknown_column_is_refused_the_same_way_on_every_protocol(
    server: LiveServer, http: httpx.Client
) -> None:
    row = {**as_written(shop_frame().head(1))[0], "colour": "red"}
    names, values = list(row), list(row.values())
    answers = [
        http.post(f"{server.url}/predict", json={"records": [row]}),
        http.post(
            f"{server.url}/invocations",
            json={"dataframe_split": {"columns": names, "data": [values]}},
        ),
        http.post(f"{server.url}/invocations", json={"dataframe_records": [row]}),
        http.post(f"{server.url}/invocations", json={"inputs": {k: [v] for k, v in row.items()}}),
        http.post(
            f"{server.url}/invocations",
            content=";".join(names) + "\n" + ";".join(values),
            headers={"content-type": "text/csv"},
        ),
        http.post(
            f"{server.url}/v2/models/shop/infer",
            json={
                "inputs": [
                    {"name": k, "shape": [1], "datatype": "BYTES", "data": [v]}
                    for k, v in row.items()
                ]
            },
        ),
    ]
    for answer in answers:
        assert 400 <= answer.status_code < 500, answer.text
        assert "unknown column 'colour'; the model knows: 'order_id', 'zip'" in answer.text


def test_the_openapi_record_accepts_rows_as_written(server: LiveServer, http: httpx.Client) -> None:
    spec = http.get(f"{server.url}/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    record = body["schema"]["properties"]["records"]["items"]
    assert list(record["properties"]) == list(COLUMNS)
    assert set(record["required"]) == {"zip", "sqft", "is_member", "fecha", "zona", "nota"}
    assert "string" in record["properties"]["sqft"]["type"]
    assert "%d/%m/%Y" in record["properties"]["fecha"]["description"]


# --- the property: every entry point gives the same answer ---


def _cell(draw: st.DrawFn, strategy: st.SearchStrategy[str]) -> str:
    return "" if draw(st.integers(0, 9)) == 0 else draw(strategy)  # one cell in ten missing


@st.composite
def shop_rows(draw: st.DrawFn) -> pd.DataFrame:
    """1 to 5 rows as a spreadsheet writes them, with missing cells and unseen values."""
    n = draw(st.integers(1, 5))
    when = st.dates(date(2022, 6, 1), date(2024, 6, 30)).map(lambda d: d.strftime("%d/%m/%Y"))
    rows = [
        {
            "order_id": f"B-{i}",
            "zip": _cell(draw, st.sampled_from([*ZIPS, "00501", "99950"])),
            "sqft": _cell(draw, st.floats(0, 60_000, allow_nan=False).map(euro)),
            "is_member": _cell(draw, st.sampled_from(["True", "False"])),
            "fecha": _cell(draw, when),
            "zona": _cell(draw, st.sampled_from([*ZONAS, "oeste"])),
            "nota": _cell(draw, st.text("abcdeñ ", min_size=1, max_size=30).map(str.strip)),
            "label": draw(st.sampled_from(["high", "low", ""])),
            "comment": draw(st.sampled_from(["", "x"])),
        }
        for i in range(n)
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frame=shop_rows())
def test_batch_http_and_load_model_give_identical_predictions(
    frame: pd.DataFrame,
    shop: Project,
    server: LiveServer,
    model: ScoringModel,
    http: httpx.Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("property")
    scored = batch(shop, frame, folder)
    rows = as_written(frame)
    served = predict(server.url, rows, http)
    names = list(rows[0])
    csv_body = ";".join(names) + "\n" + "\n".join(";".join(r.values()) for r in rows) + "\n"
    invoked = http.post(
        f"{server.url}/invocations", content=csv_body, headers={"content-type": "text/csv"}
    )
    assert invoked.status_code == 200, invoked.text
    local = model.predict(pd.DataFrame(rows)).tolist()

    expected = scored["prediction"].tolist()
    assert served["predictions"] == expected
    assert invoked.json()["predictions"] == expected
    assert local == expected
    assert _proba(served) == pytest.approx(scored["proba_high"].tolist(), abs=1e-9)
    assert served["ids"] == [{"order_id": i} for i in frame["order_id"]]
