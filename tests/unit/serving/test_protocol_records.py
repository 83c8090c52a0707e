"""The protocol records: routes matched as FastAPI matches them, one error answer per
protocol (status from the error, body in the protocol's shape), and who may call what."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from loopml.config import AuthConfig
from loopml.errors import ModelNotFoundError, NotExplainableError, PredictionInputError
from loopml.serving import protocols
from loopml.serving.auth import UNAUTHORIZED, TokenCheck, TokenGuard, Unauthorized
from loopml.serving.protocols import REGISTRY, PathTable, Scoring, protocol_for
from loopml.serving.protocols.base import RequestTimeout, UnsupportedMediaType
from loopml.serving.schema import FieldError, FieldErrors, RowsTooMany
from loopml.serving.serve import BodyTooLarge


def test_a_path_parameter_is_one_non_empty_segment() -> None:
    table = PathTable(
        [("/predict", "p"), ("/v2/models/{name}/infer", "i"), ("/v2/models/{name}", "m")]
    )
    assert table.find("/predict") == ("p", {})
    assert table.find("/v2/models/iris/infer") == ("i", {"name": "iris"})
    assert table.find("/v2/models/iris") == ("m", {"name": "iris"})
    for path in ("/v2/models//infer", "/v2/models/a/b/infer", "/v2/models/", "/predict/", "/x"):
        assert table.find(path) is None, path


def test_every_route_is_declared_once_and_scoring_routes_are_posts() -> None:
    declared = [(r.method, r.path) for p in REGISTRY for r in p.routes]
    assert len(declared) == len(set(declared))
    scoring = {r.path for p in REGISTRY for r in p.routes if isinstance(r.answer, Scoring)}
    assert scoring == {"/predict", "/explain", "/invocations", "/v2/models/{name}/infer"}
    assert all(
        r.method == "POST" for p in REGISTRY for r in p.routes if isinstance(r.answer, Scoring)
    )


def test_each_path_answers_errors_in_its_protocols_shape() -> None:
    assert protocol_for("/predict").name == "loopml"
    assert protocol_for("/invocations").name == protocol_for("/ping").name == "mlflow"
    assert protocol_for("/v2/models/iris/infer").name == "open_inference"
    assert protocol_for("/v2/models/iris").name == "open_inference"
    assert protocol_for("/feedback") is protocols.DEFAULT is protocol_for("/docs")
    # a path under a protocol's prefix that no route declares: its errors in that shape
    assert protocol_for("/v2/repository/index").name == "open_inference"


def _answer(path: str, exc: Any) -> tuple[int, Any, dict[str, str]]:
    response = protocol_for(path).error_response(exc)
    return response.status_code, orjson.loads(response.body), dict(response.headers)


@pytest.mark.parametrize(
    ("exc", "loopml", "others"),
    [
        (PredictionInputError("bad"), 422, 400),
        (UnsupportedMediaType("text/plain"), 415, 415),
        (BodyTooLarge("big"), 413, 413),
        (RowsTooMany(6, 5), 413, 413),
        (NotExplainableError("no explainer"), 422, 422),
        (RequestTimeout("slow"), 408, 408),
        (ModelNotFoundError("unknown model"), 404, 404),
        (Unauthorized(UNAUTHORIZED), 401, 401),
    ],
)
def test_the_status_comes_from_the_error_bad_input_from_the_protocol(
    exc: Exception, loopml: int, others: int
) -> None:
    assert _answer("/predict", exc)[0] == loopml
    assert _answer("/invocations", exc)[0] == others
    assert _answer("/v2/models/iris/infer", exc)[0] == others


def test_error_bodies_keep_each_protocols_shape() -> None:
    fields = FieldErrors([FieldError("row 0, column 'age': expected a number", 0, "age")])
    status, body, _ = _answer("/predict", fields)
    assert status == 422
    assert body["detail"] == [
        {
            "loc": ["body", "records", 0, "age"],
            "msg": "row 0, column 'age': expected a number",
            "type": "value_error",
        }
    ]
    assert _answer("/predict", RequestTimeout("slow"))[1]["detail"][0]["loc"] == ["body"]
    assert _answer("/invocations", PredictionInputError("bad"))[1] == {
        "error_code": "BAD_REQUEST",
        "message": "bad",
    }
    assert _answer("/v2/models/iris/infer", PredictionInputError("bad"))[1] == {"error": "bad"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", {"detail": UNAUTHORIZED}),
        ("/feedback", {"detail": UNAUTHORIZED}),
        ("/invocations", {"error_code": "UNAUTHENTICATED", "message": UNAUTHORIZED}),
        ("/v2/models/iris/infer", {"error": UNAUTHORIZED}),
    ],
)
def test_one_401_with_the_bearer_challenge(path: str, body: dict[str, str]) -> None:
    status, answer, headers = _answer(path, Unauthorized(UNAUTHORIZED))
    assert (status, answer, headers["www-authenticate"]) == (401, body, "Bearer")


def _guard(**cfg: bool) -> TokenGuard:
    return TokenGuard(TokenCheck(["s3cret"]), AuthConfig(**cfg))


def test_the_guard_reads_who_may_call_a_route_from_the_records() -> None:
    health = ["/health", "/ping", "/v2/health/ready", "/v2/models/iris/ready", "/metrics"]
    metadata = ["/openapi.json", "/docs", "/v2/models/iris"]
    private = ["/predict", "/invocations", "/v2/models/iris/infer", "/feedback", "/nowhere"]
    default, protected, opened = _guard(), _guard(protect_health=True), _guard(open_metadata=True)
    assert not any(default.needs_token(p) for p in health)
    assert all(protected.needs_token(p) for p in health)
    assert all(default.needs_token(p) for p in metadata + private)
    assert not any(opened.needs_token(p) for p in metadata)
    assert all(opened.needs_token(p) for p in private)
    assert not TokenGuard(TokenCheck([]), AuthConfig()).needs_token("/predict")


def test_the_guard_refuses_before_the_body_is_read() -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    def scope(token: str | None) -> dict[str, Any]:
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        return {"type": "http", "path": "/invocations", "headers": headers}

    guard = _guard()
    assert asyncio.run(guard.refuse(scope("s3cret"), receive, send)) is False
    assert asyncio.run(guard.refuse(scope("nope"), receive, send)) is True
    assert sent[0]["status"] == 401 and (b"www-authenticate", b"Bearer") in sent[0]["headers"]
    assert orjson.loads(sent[1]["body"])["error_code"] == "UNAUTHENTICATED"
