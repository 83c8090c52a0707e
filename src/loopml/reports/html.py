"""Self-contained HTML: Jinja2 templates, with figures embedded as base64 PNG (no network)."""

from __future__ import annotations

import base64
import io
import math
from functools import cache
from importlib import metadata
from typing import Any

import jinja2
from matplotlib.figure import Figure

DPI = 90


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("loopml.reports", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = number
    env.filters["pct"] = percent
    env.filters["cell"] = cell
    return env


def loopml_version() -> str:
    return metadata.version("loopml")


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def image(figure: Figure) -> str:
    """A data URI of the figure as PNG; the figure is closed afterwards."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return png_uri(buffer.getvalue())


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def number(value: Any, digits: int = 4) -> str:
    """Numbers for tables: NaN and None as a dash, large ones with separators."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def cell(value: Any) -> str:
    """A data value as it is (ids stay 1178), floats rounded, missing as a dash."""
    if isinstance(value, float):
        return number(value)
    return "–" if value is None else str(value)


def percent(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.1f}%"
