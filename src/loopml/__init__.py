"""loopml: the whole supervised-ML loop in one tool."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from loopml.core.scoring import ScoringModel


def load_model(uri: str, *, tracking_uri: str | None = None) -> ScoringModel:
    """Load a loopml model by ``runs:/<run_id>/model`` or ``models:/<name>@<alias>``.

    The result has ``predict(frame)`` and, for classifiers, ``predict_proba(frame)``.
    """
    from loopml.tracking.models import load

    return load(uri, tracking_uri=tracking_uri)


__all__ = ["__version__", "load_model"]
