"""imbalance: rebalancing classes inside each training fold."""

from __future__ import annotations

from typing import Literal

from loopml.config._base import _Strict


class ImbalanceConfig(_Strict):
    """Rebalancing classes inside each training fold only, never validation or test rows."""

    strategy: Literal["none", "class_weight", "oversample", "smote", "undersample"] = "none"
