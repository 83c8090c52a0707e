"""The one exception tree of loopml. Imports nothing from loopml.

Every message says what failed, shows the bad value and says what to do. The CLI
prints a ``LoopmlError`` as one red line and exits 1; serving maps it to a 4xx body.
"""

from __future__ import annotations


class LoopmlError(Exception):
    """Base of every error loopml raises on purpose."""


class ConfigError(LoopmlError):
    """loopml.yaml or a --set override is invalid."""


class DataError(LoopmlError):
    """Data could not be read (missing file, bad format, failed query)."""


class DataValidationError(DataError):
    """Data was read but fails a check that training relies on."""


class ModelNotFoundError(LoopmlError, LookupError):
    """A run, model version or alias does not exist."""


class TrackingError(LoopmlError):
    """The tracking store or model registry refused an operation."""


class PredictionInputError(LoopmlError, ValueError):
    """Rows given for prediction do not match the model's input schema."""


class DataContractError(DataValidationError, PredictionInputError):
    """A value does not read as its column's kind in the model's data contract.

    Raised at training for a declared kind, and at prediction (HTTP 422, or one line and
    exit 1) for any value; the message names the row, the column and the value.
    """
