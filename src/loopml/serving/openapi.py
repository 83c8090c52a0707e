"""Request-body schemas for the OpenAPI document (the endpoints read raw bodies themselves)."""

from __future__ import annotations

from typing import Any


def _json(schema: dict[str, Any], **more: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}, **more}}


def predict_body(record: dict[str, Any], max_rows: int) -> dict[str, Any]:
    records = {"type": "array", "items": record, "minItems": 1, "maxItems": max_rows}
    return _json(
        {
            "type": "object",
            "properties": {"records": records},
            "required": ["records"],
            "additionalProperties": False,
        }
    )


def invocations_body(record: dict[str, Any]) -> dict[str, Any]:
    split = {
        "type": "object",
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "data": {"type": "array", "items": {"type": "array"}},
        },
    }
    properties = {
        "dataframe_records": {"type": "array", "items": record},
        "dataframe_split": split,
        "instances": {"type": "array"},
        "inputs": {},
    }
    csv = {"schema": {"type": "string"}}
    return _json({"type": "object", "properties": properties}, **{"text/csv": csv})


def infer_body() -> dict[str, Any]:
    tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string"},
            "data": {"type": "array"},
        },
        "required": ["name", "shape", "datatype", "data"],
    }
    properties = {"id": {"type": "string"}, "inputs": {"type": "array", "items": tensor}}
    return _json({"type": "object", "properties": properties, "required": ["inputs"]})
