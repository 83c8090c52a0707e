"""Compute backends behind one interface: ``map(fn, items, on_done)``."""

from __future__ import annotations

from loopml.compute.local import LocalCompute
from loopml.config import ComputeConfig


def make(cfg: ComputeConfig) -> LocalCompute:
    """The backend named by ``compute.backend`` (only ``local`` for now)."""
    return LocalCompute(cfg)


__all__ = ["LocalCompute", "make"]
