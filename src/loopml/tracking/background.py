"""The background sample of a model version: training rows the explainers measure against.

``loopml_background.parquet`` sits in the MLflow model's ``extra_files/``: up to
``core.explain.BACKGROUND_ROWS`` training rows of the feature columns, as the data contract
read them. Text-like columns of mixed types (a category spelt ``1`` in one row and ``"a"``
in another) are stored as strings, which the model reads the same way (``category_key``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loopml.core.explain import background_sample

BACKGROUND_FILE = "loopml_background.parquet"


def write_background(features: pd.DataFrame, folder: Path) -> Path:
    """Write a background sample of ``features`` (the training rows) into ``folder``."""
    sample = background_sample(features).copy()
    for column in sample.columns:
        if sample[column].dtype == object:
            values = sample[column]
            sample[column] = values.where(values.isna(), values.astype(str))
    path = folder / BACKGROUND_FILE
    sample.to_parquet(path, index=False)
    return path


def read_background(model_dir: Path) -> pd.DataFrame | None:
    """The model's background sample; None for a model registered before it was stored."""
    files = list(model_dir.rglob(BACKGROUND_FILE))
    return pd.read_parquet(files[0]) if files else None
