"""Explanations at every entry point agree: the Python API, a real server (/explain,
/predict?explain=true, /invocations?explain=true), `loopml predict --explain` and
`loopml explain`; a model kind with no explainer is a 422 naming the kind and the fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsClassifier

from loopml.core.data.roles import ColumnRoles
from loopml.core.models import build_pipeline
from loopml.core.scoring import ColumnSpec, ScoringModel
from loopml.serving.app import create_app
from loopml.tracking.models import LoadedModel, load_with_compiled
from tests.integration.conftest import LiveServer, Project, cli

pytestmark = pytest.mark.integration

URI = "models:/breast-cancer@champion"


@pytest.fixture(scope="module")
def loaded(breast_cancer: Project) -> LoadedModel:
    return load_with_compiled(URI, tracking_uri=breast_cancer.cfg.tracking.uri)


@pytest.fixture(scope="module")
def app(loaded: LoadedModel) -> Any:
    return create_app(loaded)


@pytest.fixture(scope="module")
def server(app: Any) -> Iterator[LiveServer]:
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def rows(breast_cancer: Project, loaded: LoadedModel) -> pd.DataFrame:
    frame = pd.read_csv(breast_cancer.folder / "data" / "score_me.csv").head(5)
    return frame[loaded.model.feature_names]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _predict(project: Project, source: Path, output: Path, *flags: str) -> tuple[int, str]:
    code, _, stderr = cli(
        "predict", str(source), "-o", str(output), *flags, "--config", str(project.config_path)
    )
    return code, stderr


def test_the_model_is_registered_with_a_background_sample(loaded: LoadedModel) -> None:
    background = loaded.model.background
    assert background is not None
    assert list(background.columns) == loaded.model.feature_names
    assert 30 <= len(background) <= 100


def test_served_explanations_equal_the_python_api_and_add_up(
    server: LiveServer, app: Any, loaded: LoadedModel, rows: pd.DataFrame, http: httpx.Client
) -> None:
    expected = loaded.model.explain(rows)
    response = http.post(f"{server.url}/explain", json={"records": _records(rows)})
    assert response.status_code == 200, response.text
    # the server preprocessed on ONNX Runtime, the Python API with scikit-learn
    champion = app.state.serving.champion
    assert champion.engine.name == "onnx"
    assert champion.features_note.startswith("feature graph equals scikit-learn"), (
        champion.features_note
    )
    body = response.json()
    assert len(body["predictions"]) == len(rows) == len(body["explanations"])
    assert body["explainer"]["method"] == expected.method
    for row, served in enumerate(body["explanations"]):
        assert served["space"] == expected.space
        assert set(served["contributions"]) == set(loaded.model.feature_names)
        total = served["base_value"] + sum(served["contributions"].values())
        assert total == pytest.approx(served["output"], abs=1e-6)
        assert served["output"] == pytest.approx(expected.outputs[row], abs=1e-9)
        for column, value in served["contributions"].items():
            index = expected.columns.index(column)
            assert value == pytest.approx(expected.contributions[row, index], abs=1e-9)


def test_explain_on_predict_and_invocations_with_top_k(
    server: LiveServer, rows: pd.DataFrame, http: httpx.Client
) -> None:
    full = http.post(f"{server.url}/explain", json={"records": _records(rows)}).json()
    plain = http.post(f"{server.url}/predict", json={"records": _records(rows)}).json()
    assert "explanations" not in plain
    top = http.post(
        f"{server.url}/predict?explain=true&top_k=3", json={"records": _records(rows)}
    ).json()
    assert top["predictions"] == plain["predictions"] == full["predictions"]
    for short, whole in zip(top["explanations"], full["explanations"], strict=True):
        ranked = sorted(whole["contributions"].items(), key=lambda kv: -abs(kv[1]))[:3]
        assert list(short["contributions"].items()) == ranked
    mlflow = http.post(
        f"{server.url}/invocations?explain=true",
        json={"dataframe_records": _records(rows)},
    ).json()
    assert [e["contributions"] for e in mlflow["explanations"]] == [
        e["contributions"] for e in full["explanations"]
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("explain=maybe", "explain='maybe'"),
        ("explain=true&top_k=0", "top_k='0'"),
        ("top_k=2", "add explain=true"),
        ("explain=true&top_k=%C2%B2", "top_k='²'"),  # a digit to str.isdigit, not to int
        ("explain=true&top_k=" + "9" * 5000, "use a whole number of columns"),
    ],
)
def test_bad_explain_options_are_a_422(
    server: LiveServer, rows: pd.DataFrame, http: httpx.Client, query: str, message: str
) -> None:
    response = http.post(f"{server.url}/predict?{query}", json={"records": _records(rows)})
    assert response.status_code == 422
    assert message in response.json()["detail"][0]["msg"]


def test_batch_explanations_equal_the_served_ones(
    breast_cancer: Project,
    server: LiveServer,
    rows: pd.DataFrame,
    http: httpx.Client,
    tmp_path: Path,
) -> None:
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    output = tmp_path / "explained.parquet"
    code, stderr = _predict(breast_cancer, source, output, "--explain")
    assert code == 0, stderr
    assert "Explaining with" in stderr
    written = pd.read_parquet(output)
    served = http.post(f"{server.url}/explain", json={"records": _records(rows)}).json()
    for row, explanation in enumerate(served["explanations"]):
        assert written["base_value"].iloc[row] == pytest.approx(explanation["base_value"])
        assert written["explained_output"].iloc[row] == pytest.approx(explanation["output"])
        for column, value in explanation["contributions"].items():
            assert written[f"contribution_{column}"].iloc[row] == pytest.approx(value, abs=1e-9)
    top = tmp_path / "top.csv"
    code, stderr = _predict(breast_cancer, source, top, "--explain", "--top-k", "2")
    assert code == 0, stderr
    short = pd.read_csv(top)
    assert {"top1_column", "top2_contribution"} <= set(short.columns)
    assert "top3_column" not in short.columns
    code, stderr = _predict(breast_cancer, source, top, "--top-k", "2")
    assert code == 1 and "--top-k applies to explanations; add --explain" in stderr


def test_loopml_explain_prints_a_bar_per_column(
    breast_cancer: Project, loaded: LoadedModel, rows: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    code, stdout, stderr = cli(
        "explain",
        "--file",
        str(source),
        "--row",
        "2",
        "--top-k",
        "4",
        "--config",
        str(breast_cancer.config_path),
    )
    assert code == 0, stderr
    expected = loaded.model.explain(rows.iloc[[1]])
    top_column, top_value = expected.ranked(0, 1)[0]
    assert top_column in stdout and f"{top_value:+.4f}" in stdout
    assert "█" in stdout and "26 more column(s) not shown" in stdout
    assert f"output {expected.outputs[0]:+.4f}" in stdout
    with_id = rows.assign(patient_id=[f"p{i}" for i in range(len(rows))])  # the id column
    with_id.to_csv(source, index=False)
    code, stdout, stderr = cli(
        "explain", "--file", str(source), "--row", "2", "--config", str(breast_cancer.config_path)
    )
    assert code == 0, stderr
    assert loaded.model.id_columns == ["patient_id"]
    assert "row 2 (counting from 1 under the header; patient_id=p1) of" in " ".join(stdout.split())
    code, _, stderr = cli(
        "explain",
        "--file",
        str(source),
        "--row",
        "9",
        "--config",
        str(breast_cancer.config_path),
    )
    assert code == 1 and "--row 9 is past the end (the file has 5 rows)" in stderr


def test_a_model_kind_with_no_explainer_is_a_422_naming_it(
    breast_cancer: Project, loaded: LoadedModel, rows: pd.DataFrame, http: httpx.Client
) -> None:
    no_background = _neighbours(breast_cancer, loaded, background=False)
    with LiveServer(create_app(no_background)) as live:
        response = http.post(f"{live.url}/explain", json={"records": _records(rows)})
        predicted = http.post(f"{live.url}/predict", json={"records": _records(rows)})
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert (
        "model kind KNeighborsClassifier" in message and "retrain it with `loopml run`" in message
    )
    assert predicted.status_code == 200
    assert np.isfinite(loaded.model.explain(rows).outputs).all()


def test_the_approximate_explainer_is_bounded_per_request(
    breast_cancer: Project, loaded: LoadedModel, http: httpx.Client
) -> None:
    """The permutation explainer takes about half a second a row: a request explains at
    most MAX_APPROXIMATE_ROWS; predictions of the same rows are served."""
    from loopml.serving.serve import MAX_APPROXIMATE_ROWS

    approximate = _neighbours(breast_cancer, loaded, background=True)
    data = pd.read_csv(breast_cancer.folder / "data" / "breast_cancer.csv")
    many = data[loaded.model.feature_names].head(MAX_APPROXIMATE_ROWS + 1)
    with LiveServer(create_app(approximate)) as live:
        refused = http.post(f"{live.url}/explain", json={"records": _records(many)})
        one = http.post(f"{live.url}/explain", json={"records": _records(many.head(1))})
        predicted = http.post(f"{live.url}/predict", json={"records": _records(many)})
    assert refused.status_code == 422
    message = refused.json()["detail"][0]["msg"]
    assert f"{MAX_APPROXIMATE_ROWS + 1} rows to explain" in message
    assert "loopml predict FILE -o OUT --explain" in message
    assert one.status_code == 200 and one.json()["explainer"]["exact"] is False
    assert predicted.status_code == 200


def test_a_header_only_file_is_one_line_and_no_output(
    breast_cancer: Project, tmp_path: Path
) -> None:
    source = tmp_path / "header.csv"
    pd.read_csv(breast_cancer.folder / "data" / "score_me.csv").head(0).to_csv(source, index=False)
    for flags in ((), ("--explain",)):
        code, stderr = _predict(breast_cancer, source, tmp_path / "out.csv", *flags)
        assert code == 1 and "no rows to score" in stderr
        assert not (tmp_path / "out.csv").exists()


def _neighbours(project: Project, loaded: LoadedModel, *, background: bool) -> ScoringModel:
    """k-NN on the example's columns: explained by permutation (if it has a background)."""
    data = pd.read_csv(project.folder / "data" / "breast_cancer.csv")
    names = loaded.model.feature_names
    pipeline = build_pipeline(ColumnRoles(numeric=tuple(names)), KNeighborsClassifier()).fit(
        data[names], data[loaded.model.target]
    )
    return ScoringModel(
        pipeline,
        "classification",
        loaded.model.target,
        [ColumnSpec(n, "numeric") for n in names],
        classes=list(pipeline.classes_),
        background=data[names].head(20) if background else None,
    )
