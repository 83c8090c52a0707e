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


def __getattr__(name: str) -> object:
    """``loopml.Project`` and ``loopml.Outcome``, imported on first use (``import loopml``
    stays light for the CLI and the server)."""
    if name in ("Project", "Outcome"):
        import importlib  # not a static import: the package's modules import loopml too

        return getattr(importlib.import_module("loopml.project"), name)
    raise AttributeError(f"module 'loopml' has no attribute {name!r}")


__all__ = ["Outcome", "Project", "__version__", "load_model"]
