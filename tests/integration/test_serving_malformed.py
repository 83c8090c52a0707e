"""Malformed input is a 4xx naming the problem, never a 5xx (a real uvicorn on loopback).

The hand-made cases that once answered 500, kept as regressions: an OIP v2 tensor whose
``name`` is a list or object; OIP ``data`` nested ~600 levels; a lone UTF-16 surrogate as a
key or a value in /predict and /feedback; and, on an ONNX model with a text feature, a
surrogate value (it also closed the keep-alive connection).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from loopml.core import models
from loopml.core.compile import compile_pipeline
from loopml.core.data.roles import ColumnRoles
from loopml.core.scoring import ScoringModel, column_specs
from loopml.serving.app import create_app
from loopml.serving.predlog import PredictionLogWriter
from loopml.tracking.models import LoadedModel, load_with_compiled
from tests.integration.conftest import LiveServer, Project

pytestmark = pytest.mark.integration

JSON = {"content-type": "application/json"}
SURROGATE = '"\\ud800"'  # JSON text: a lone high surrogate, as a client can send it


@pytest.fixture(scope="module")
def served(breast_cancer: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    cfg = breast_cancer.cfg.model_copy(deep=True)
    cfg.serve.prediction_log.url = f"sqlite:///{tmp_path_factory.mktemp('log') / 'log.db'}"
    loaded = load_with_compiled("models:/breast-cancer@champion", tracking_uri=cfg.tracking.uri)
    log = PredictionLogWriter(cfg.serve.prediction_log.url, flush_interval=0.2)
    with LiveServer(create_app(loaded, cfg.serve, prediction_log=log, project=cfg)) as live:
        live.features = loaded.model.feature_names  # type: ignore[attr-defined]
        yield live


def _record(features: list[str]) -> dict[str, float]:
    return dict.fromkeys(features, 1.0)


def _assert_4xx(response: httpx.Response, *, mentions: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert mentions in response.text, response.text


@pytest.mark.parametrize("name", [["a", "b"], {"a": 1}], ids=["list", "object"])
def test_oip_tensor_name_that_is_not_a_string(served: Any, name: Any) -> None:
    tensor = {"name": name, "shape": [1], "datatype": "FP64", "data": [1.0]}
    with httpx.Client(timeout=10) as http:
        answer = http.post(f"{served.url}/v2/models/breast-cancer/infer", json={"inputs": [tensor]})
    _assert_4xx(answer, mentions="name must be a string")


def test_oip_data_nested_600_levels(served: Any) -> None:
    data = "[" * 600 + "1.0" + "]" * 600
    tensor = f'{{"name": "x", "shape": [1], "datatype": "FP64", "data": {data}}}'
    with httpx.Client(timeout=10) as http:
        answer = http.post(
            f"{served.url}/v2/models/breast-cancer/infer",
            content=f'{{"inputs": [{tensor}]}}',
            headers=JSON,
        )
    _assert_4xx(answer, mentions="nested deeper")


def _predict_bodies(features: list[str]) -> dict[str, str]:
    rest = ", ".join(f'"{f}": 1.0' for f in features[1:])
    return {
        "key": f'{{"records": [{{{SURROGATE}: 1.0, "{features[0]}": 1.0, {rest}}}]}}',
        "value": f'{{"records": [{{"{features[0]}": {SURROGATE}, {rest}}}]}}',
    }


@pytest.mark.parametrize("where", ["key", "value"])
def test_lone_surrogate_in_predict(served: Any, where: str) -> None:
    body = _predict_bodies(served.features)[where]
    with httpx.Client(timeout=10) as http:
        answer = http.post(f"{served.url}/predict", content=body, headers=JSON)
        _assert_4xx(answer, mentions="surrogates not allowed")
        after = http.post(f"{served.url}/predict", json={"records": [_record(served.features)]})
    assert after.status_code == 200  # the same connection keeps serving


@pytest.mark.parametrize(
    "body",
    [
        f'{{"labels": [{{"request_id": {SURROGATE}, "row": 0, "label": "benign"}}]}}',
        f'{{"labels": [{{"request_id": "abc", "row": 0, "label": {SURROGATE}}}]}}',
        f'{{"labels": [{{{SURROGATE}: "abc", "row": 0, "label": "benign"}}]}}',
    ],
    ids=["request_id", "label", "key"],
)
def test_lone_surrogate_in_feedback(served: Any, body: str) -> None:
    with httpx.Client(timeout=10) as http:
        answer = http.post(f"{served.url}/feedback", content=body, headers=JSON)
    _assert_4xx(answer, mentions="surrogate")


@pytest.fixture(scope="module")
def text_model() -> LoadedModel:
    """A small classifier over a text and a number, compiled to ONNX (parity checked)."""
    rng = np.random.default_rng(0)
    words = np.array(["red", "green", "blue", "apple", "sky", "grass", "stone", "sea"])
    text = [" ".join(rng.choice(words, 4)) for _ in range(300)]
    frame = pd.DataFrame({"note": text, "size": rng.normal(size=300)})
    target = np.where(frame["note"].str.contains("sky|sea"), "wet", "dry")
    roles = ColumnRoles(numeric=("size",), text=("note",))
    estimator = models.make_estimator("logistic_regression", {}, "classification", 0)
    pipeline = models.build_pipeline(roles, estimator).fit(frame, target)
    columns = column_specs(roles)
    classes = list(pipeline.classes_)
    compiled, report = compile_pipeline(pipeline, columns, "classification", classes, frame)
    assert compiled is not None, report.reason
    model = ScoringModel(pipeline, "classification", "wet", columns, classes, name="notes")
    return LoadedModel(model, compiled, "parity checked in the fixture")


def test_surrogate_text_on_onnx_is_a_4xx_and_keeps_the_connection(
    text_model: LoadedModel,
) -> None:
    body = f'{{"records": [{{"note": {SURROGATE}, "size": 1.0}}]}}'
    with LiveServer(create_app(text_model)) as live, httpx.Client(timeout=10) as http:
        assert http.get(f"{live.url}/health").json()["engine"] == "onnx"
        answer = http.post(f"{live.url}/predict", content=body, headers=JSON)
        _assert_4xx(answer, mentions="surrogates not allowed")
        assert answer.headers.get("connection") != "close"
        good = http.post(f"{live.url}/predict", json={"records": [{"note": "sky", "size": 1}]})
    assert good.status_code == 200, good.text
    assert good.json()["predictions"] == ["wet"]
