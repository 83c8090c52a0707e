"""train: the final fit of the winner, and data-parallel boosting on Ray Train."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from loopml.config._base import Renamed, _Strict


class TrainConfig(_Strict):
    """The final fit of the winner, and data-parallel LightGBM / XGBoost through Ray Train."""

    _section = "train"
    _renamed: ClassVar[dict[str, Renamed]] = {
        "workers": Renamed("n_jobs"),
        "cpus_per_worker": Renamed("cpus_per_job"),
    }

    refit: Literal["auto", "train", "train+validation"] = Field(
        "auto",
        description="Rows the winner is fitted on before the test split and registration, once "
        "it is picked on the validation split: train+validation (more data, as FLAML and "
        "PyCaret's finalize do) or train. auto: train+validation unless evaluation.calibration, "
        "evaluation.threshold or train.distributed needs the validation split held out.",
    )
    distributed: bool = Field(
        False, description="Train lightgbm/xgboost candidates data-parallel with Ray Train."
    )
    n_jobs: int = Field(2, gt=0, description="Ray Train workers (data shards).")
    cpus_per_job: int = Field(1, gt=0, description="CPUs each Ray Train worker reserves.")
    checkpoint_every: int = Field(
        25, gt=0, description="Boosting rounds between checkpoints; a rerun resumes from the last."
    )
    storage: str = Field(
        ".loopml/ray", description="Where Ray Train keeps checkpoints (path or URL)."
    )
    sample_rows: int = Field(
        200_000,
        ge=100,
        description="With distributed: rows read onto this machine to check the data, fit the "
        "preprocessing and baseline, calibrate and report; boosters train on every row on Ray.",
    )
