"""compute: where candidates are fitted (local processes or Ray) and how many at once."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loopml.config._base import _Strict


class ComputeConfig(_Strict):
    backend: Literal["local", "ray"] = "local"
    address: str | None = None
    n_jobs: int = Field(-1, description="Parallel candidate fits; -1 uses every core.")
