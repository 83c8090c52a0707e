"""The ONNX artifact of a model version: compiled at registration, read back at load.

Two files sit in the MLflow model's ``extra_files/``: ``loopml.onnx`` (only when parity
held) and ``loopml_compile.json`` (graph inputs and the parity report, always). The
report is also copied into the model metadata (``loopml.compiled``) and as run metrics.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.core.compile import CompiledModel, InputSpec, ParityReport, compile_pipeline
from loopml.core.scoring import ColumnSpec

if TYPE_CHECKING:
    from loopml.tracking.store import RunRecord

ONNX_FILE = "loopml.onnx"
REPORT_FILE = "loopml_compile.json"


def compile_model(record: RunRecord, folder: Path) -> list[str]:
    """Compile the record's pipeline into ``folder``; return the files to log with the model."""
    meta = record.model_metadata.get("loopml")
    if meta is None or record.check_input is None or record.check_input.empty:
        return []
    columns = [ColumnSpec(c["name"], c["role"]) for c in meta["columns"]]
    compiled, report = compile_pipeline(
        record.model, columns, meta["task"], list(meta.get("classes", [])), record.check_input
    )
    meta["compiled"] = report.as_dict()
    document: dict[str, Any] = {"report": report.as_dict(), "inputs": []}
    files = [folder / REPORT_FILE]
    if compiled is not None:
        (folder / ONNX_FILE).write_bytes(compiled.onnx)
        document["inputs"] = [asdict(spec) for spec in compiled.inputs]
        files.append(folder / ONNX_FILE)
    (folder / REPORT_FILE).write_text(json.dumps(document, indent=2), encoding="utf-8")
    return [str(f) for f in files]


def compiled_metrics(metadata: dict[str, Any]) -> dict[str, float]:
    """Parity figures as run metrics (absent when nothing was compiled)."""
    report = metadata.get("loopml", {}).get("compiled")
    if not report:
        return {}
    values = {
        "onnx_parity_ok": 1.0 if report["ok"] else 0.0,
        "onnx_label_agreement": report.get("label_agreement"),
        "onnx_max_proba_diff": report.get("max_proba_diff"),
        "onnx_max_value_diff": report.get("max_value_diff"),
        "onnx_compile_seconds": report.get("compile_seconds"),
    }
    return {k: float(v) for k, v in values.items() if v is not None}


def read_compiled(model_dir: Path) -> tuple[CompiledModel | None, str]:
    """The model's compiled artifact if it has one that passed parity, and why (not)."""
    report_files = list(model_dir.rglob(REPORT_FILE))
    if not report_files:
        return None, "this model version has no ONNX artifact (registered before compilation)"
    document = json.loads(report_files[0].read_text(encoding="utf-8"))
    report = ParityReport(**document["report"])
    onnx_file = report_files[0].with_name(ONNX_FILE)
    if not report.ok or not onnx_file.is_file():
        return None, report.reason
    inputs = tuple(
        InputSpec(i["name"], i["role"], i["lower"], tuple(i["feeds"])) for i in document["inputs"]
    )
    return CompiledModel(onnx_file.read_bytes(), inputs, report), report.reason
