"""profile: the data profile of `loopml profile` and `loopml run`."""

from __future__ import annotations

from pydantic import Field

from loopml.config._base import _Strict


class ProfileConfig(_Strict):
    sample_rows: int = Field(
        200_000,
        ge=100,
        description=(
            "With compute.backend ray: rows sampled for histograms, correlations, duplicates, "
            "text and the split; column statistics cover every row."
        ),
    )
