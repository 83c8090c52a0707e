"""The serving protocols, as data: one module and one ``Protocol`` record each.

- ``loopml``: ``POST /predict``, ``/explain`` with ``{"records": [...]}``; ``/health``,
  ``/live``, ``/ready``.
- ``mlflow``: the MLflow scoring protocol, ``POST /invocations`` (``dataframe_split``,
  ``dataframe_records``, ``instances``, ``inputs`` or CSV), ``/ping``, ``/version``.
- ``open_inference``: the Open Inference Protocol v2, ``POST /v2/models/{name}/infer`` with
  one input per column or one ``[rows, features]`` tensor; metadata, readiness, health.

Every protocol reads values through the model's data contract (``InputSchema``), accepts a
row exactly as written in the training file (id, ignored and target columns included) and
refuses any other column the same way, naming it and the columns the model knows.

To add a protocol: write a module with its ``PROTOCOL`` record (routes, parsing, encoding,
error body; see ``base.Protocol``) and add it to ``REGISTRY``. ``serving.app`` mounts its
routes and answers its scoring routes on the fast path; ``serving.auth`` reads who may call
each route; its errors, 401 included, are answered in its shape.
"""

from __future__ import annotations

from loopml.serving.protocols import loopml, mlflow, open_inference
from loopml.serving.protocols.base import (
    PathTable,
    Protocol,
    RequestTimeout,
    Route,
    Scoring,
    StrictJsonRoute,
    UnsupportedMediaType,
    parse_json,
)
from loopml.serving.protocols.loopml import loopml_columns, loopml_response
from loopml.serving.protocols.mlflow import (
    MLFLOW_KEYS,
    csv_columns,
    mlflow_columns,
    mlflow_error,
    mlflow_response,
)
from loopml.serving.protocols.open_inference import (
    MAX_DEPTH,
    oip_columns,
    oip_metadata,
    oip_response,
)

#: Every protocol the server speaks, mounted in this order.
REGISTRY: tuple[Protocol, ...] = (loopml.PROTOCOL, mlflow.PROTOCOL, open_inference.PROTOCOL)

#: The protocol whose error shape answers a path no protocol declares (/feedback, /docs, ...).
DEFAULT = loopml.PROTOCOL

_OWNER = PathTable((route.path, p) for p in REGISTRY for route in p.routes)


def protocol_for(path: str) -> Protocol:
    """The protocol that declares ``path`` (any method); else the one whose ``prefix`` it is
    under; else ``DEFAULT``."""
    found = _OWNER.find(path)
    if found is not None:
        return found[0]
    return next((p for p in REGISTRY if p.prefix and path.startswith(p.prefix)), DEFAULT)


__all__ = [
    "DEFAULT",
    "MAX_DEPTH",
    "MLFLOW_KEYS",
    "REGISTRY",
    "PathTable",
    "Protocol",
    "RequestTimeout",
    "Route",
    "Scoring",
    "StrictJsonRoute",
    "UnsupportedMediaType",
    "csv_columns",
    "loopml_columns",
    "loopml_response",
    "mlflow_columns",
    "mlflow_error",
    "mlflow_response",
    "oip_columns",
    "oip_metadata",
    "oip_response",
    "parse_json",
    "protocol_for",
]
