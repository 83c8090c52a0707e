"""batch: scoring files with `loopml predict`."""

from __future__ import annotations

from pydantic import Field

from loopml.config._base import _Strict


class BatchConfig(_Strict):
    chunk_rows: int = Field(50_000, gt=0, description="Rows scored per chunk; bounds memory.")
