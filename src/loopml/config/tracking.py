"""tracking: the MLflow tracking server, artifact root, experiment and registered model."""

from __future__ import annotations

from pydantic import Field

from loopml.config._base import _Strict


class TrackingConfig(_Strict):
    uri: str = Field("sqlite:///.loopml/mlflow.db", description="Any MLflow tracking URI.")
    artifacts: str = Field(".loopml/artifacts", description="Artifact root for new experiments.")
    experiment: str | None = Field(None, description="Defaults to the project name.")
    registered_model: str | None = Field(None, description="Defaults to the project name.")
