"""`loopml explain`: why the model said what it said, for one row of a file.

The row is read as ``loopml predict`` reads it (the model's data contract, the training
file's CSV dialect) and explained by ``ScoringModel.explain``, the function serving and
batch scoring call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from loopml.config import ProjectConfig
from loopml.core.explain import Explanations
from loopml.errors import DataError
from loopml.tracking.models import load_with_compiled
from loopml.workflows.predict import model_uri, read_chunks, scoring_dialect


@dataclass(frozen=True)
class RowExplanation:
    """One row's values, its prediction (and probabilities) and its explanation."""

    model: str
    source: Path
    row: int  # 1 is the first row under the header
    ids: dict[str, Any]  # the row's id columns (data.roles id), to tell which row it is
    values: dict[str, Any]  # the model's input columns, as written in the file
    prediction: Any
    probabilities: dict[str, float] | None
    explanation: Explanations


def explain_row(
    cfg: ProjectConfig, *, model: str | None = None, source: Path | None = None, row: int = 1
) -> RowExplanation:
    """Explain row ``row`` (1-based, under the header) of ``source`` (default: data.source).

    Raises ``DataError`` for a missing file or a row past its end, ``DataContractError``
    for a value that does not read, ``NotExplainableError`` for a model with no explainer.
    """
    path = Path(source) if source is not None else Path(cfg.data.source)
    if not path.is_file():
        raise DataError(f"{path}: no such file; pass --file with a CSV or Parquet file")
    if row < 1:
        raise DataError(f"--row {row}: rows count from 1 (the first row under the header)")
    loaded = load_with_compiled(model_uri(cfg, model), tracking_uri=cfg.tracking.uri)
    scoring = loaded.model
    found = scoring_dialect(path, scoring.contract) if path.suffix.lower() == ".csv" else None
    frame = _nth_row(path, row, found)
    scored = scoring.score_frame(frame)
    probabilities = {
        str(c)[len("proba_") :]: float(scored[c].iloc[0])
        for c in scored.columns
        if str(c).startswith("proba_")
    }
    return RowExplanation(
        scoring.describe(),
        path,
        row,
        {c: frame[c].iloc[0] for c in scoring.id_columns if c in frame.columns},
        {c: frame[c].iloc[0] for c in scoring.feature_names if c in frame.columns},
        scored["prediction"].iloc[0],
        probabilities or None,
        scoring.explain(frame),
    )


def _nth_row(path: Path, row: int, found: Any) -> pd.DataFrame:
    seen = 0
    for chunk in read_chunks(path, 10_000, found):
        if seen + len(chunk) >= row:
            return chunk.iloc[[row - 1 - seen]].reset_index(drop=True)
        seen += len(chunk)
    raise DataError(f"{path}: --row {row} is past the end (the file has {seen:,} rows)")
