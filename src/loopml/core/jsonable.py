"""Values JSON accepts, from what NumPy and pandas hand back."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def plain(value: Any) -> Any:
    """NumPy scalars unwrapped, NaN and infinities as None, timestamps as ISO 8601.

    Dicts (keys as text), lists and tuples are converted recursively; tuples become lists.

    Parameters
    ----------
    value : Any

    Returns
    -------
    Any
        A value ``json.dumps`` accepts when ``value`` is made of these types.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
