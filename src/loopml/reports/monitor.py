"""The monitoring report: one self-contained HTML file (charts as inline SVG, no network).

Drift per feature with reference vs current distributions, prediction drift, attribution
drift (each column's share of the model's total |attribution|), and decay over time, above
a table of every statistic (a column per ``core.drift.DISTANCES`` entry).
"""

from __future__ import annotations

from html import escape
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from loopml.core.decay import DecayReport
from loopml.core.drift import (
    DISTANCES,
    HEADLINE,
    AttributionDrift,
    Distribution,
    DriftReport,
    FeatureDrift,
)

_MAX_BARS = 20
_REFERENCE, _CURRENT, _ALERT = "#8da0cb", "#fc8d62", "#d62728"


def render(drift: DriftReport, decay: DecayReport | None, meta: dict[str, Any], status: str) -> str:
    """The report as one HTML string."""
    ordered = sorted(
        drift.features, key=lambda f: (not f.drifted, -(f.distances[HEADLINE.name] or 0.0))
    )
    template = Environment(autoescape=True).from_string(_TEMPLATE)
    return template.render(
        meta=meta,
        status=status,
        drift=drift,
        decay=decay,
        features=[_row(f) for f in ordered],
        plots=[(f, Markup(distribution_svg(f.distribution, f.name, f.drifted))) for f in ordered],
        prediction=_row(drift.prediction) if drift.prediction else None,
        prediction_plot=_prediction_svg(drift),
        attribution_plot=_attribution_svg(drift.attribution),
        decay_plot=Markup(decay_svg(decay)) if decay and decay.series else None,
        distances=list(DISTANCES.values()),
        headline=HEADLINE,
    )


def _prediction_svg(drift: DriftReport) -> Markup | None:
    found = drift.prediction
    if found is None:
        return None
    return Markup(distribution_svg(found.distribution, "prediction", found.drifted))


def _attribution_svg(found: AttributionDrift | None) -> Markup | None:
    """Each column's share of the total mean |attribution|, reference vs current."""
    if found is None:
        return None
    shares = Distribution(
        [c.column for c in found.columns],
        [c.reference for c in found.columns],
        [c.current for c in found.columns],
    )
    return Markup(distribution_svg(shares, "share of |attribution|", bool(found.shifted)))


def _row(f: FeatureDrift) -> dict[str, Any]:
    return {
        "name": f.name,
        "kind": f.kind,
        "test": f.test.upper(),
        "statistic": _fmt(f.statistic),
        "p_adjusted": _p(f.p_adjusted),
        **{name: _fmt(value) for name, value in f.distances.items()},
        "missing": f"{f.missing_reference:.1%} → {f.missing_current:.1%}",
        "rows": f.rows,
        "verdict": "drift" if f.drifted else ("not judged" if not f.judged else "stable"),
        "note": f.note,
    }


def distribution_svg(dist: Distribution, title: str, drifted: bool) -> str:
    """Reference vs current shares per bin or category, as inline SVG bars."""
    labels, ref, cur = _largest(dist)
    width, height, left, bottom, top = 440, 230, 44, 70, 24
    plot_w, plot_h = width - left - 8, height - top - bottom
    peak = max([*ref, *cur, 1e-9])
    slot = plot_w / max(len(labels), 1)
    parts = [_svg_open(width, height, title), _title(title, width, drifted)]
    parts += _y_axis(left, top, plot_h, peak, width)
    for i, label in enumerate(labels):
        x = left + i * slot
        for j, (value, colour) in enumerate(((ref[i], _REFERENCE), (cur[i], _CURRENT))):
            bar_h = value / peak * plot_h
            parts.append(
                f'<rect x="{x + slot * (0.1 + 0.4 * j):.1f}" y="{top + plot_h - bar_h:.1f}" '
                f'width="{slot * 0.4:.1f}" height="{bar_h:.1f}" fill="{colour}">'
                f"<title>{escape(label)}: {'reference' if j == 0 else 'current'} "
                f"{value:.1%}</title></rect>"
            )
        parts.append(
            f'<text transform="translate({x + slot / 2:.1f},{top + plot_h + 6}) rotate(55)" '
            f'font-size="9">{escape(_short_label(label))}</text>'
        )
    parts.append(_legend(width - 150, 10, ("reference", _REFERENCE), ("current", _CURRENT)))
    return "".join(parts) + "</svg>"


def decay_svg(decay: DecayReport) -> str:
    """The metric per chunk of labelled rows over time, against the training score."""
    values = [p.value for p in decay.series]
    width, height, left, bottom, top = 900, 250, 52, 60, 24
    plot_w, plot_h = width - left - 16, height - top - bottom
    limit: float | None = None
    shown = list(values)
    if decay.reference is not None:
        sign = 1.0 if decay.higher_is_better else -1.0
        limit = decay.reference - sign * decay.settings.max_drop
        shown += [decay.reference, limit]
    low, high = min(shown), max(shown)
    pad = 0.1 * ((high - low) or 1.0)
    low, high = low - pad, high + pad

    def y(v: float) -> float:
        return top + plot_h - (v - low) / (high - low) * plot_h

    def x(i: int) -> float:
        return left + (i + 0.5) * plot_w / max(len(values), 1)

    title = f"{decay.metric} per {decay.settings.every} labelled rows"
    parts = [_svg_open(width, height, title), _title(title, width, False)]
    for value in (low, (low + high) / 2, high):
        parts.append(_tick(left, y(value), f"{value:.3g}", width))
    if decay.reference is not None and limit is not None:
        parts.append(_hline(left, width - 16, y(decay.reference), _REFERENCE, "6,4"))
        parts.append(_hline(left, width - 16, y(limit), _ALERT, "2,3"))
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts.append(f'<polyline points="{points}" fill="none" stroke="{_CURRENT}" stroke-width="2"/>')
    for i, point in enumerate(decay.series):
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(point.value):.1f}" r="3.5" fill="{_CURRENT}">'
            f"<title>{escape(point.end)}: {point.value:.4f} on {point.rows} rows</title></circle>"
        )
    for i in range(0, len(values), max(1, len(values) // 10)):
        label = escape(decay.series[i].end[:16].replace("T", " "))
        parts.append(
            f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" font-size="9" '
            f'text-anchor="middle">{label}</text>'
        )
    legend = ((f"{decay.metric} (live)", _CURRENT), ("test score", _REFERENCE))
    parts.append(_legend(width - 330, 10, *legend, ("alert limit", _ALERT)))
    return "".join(parts) + "</svg>"


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif">'
    )


def _title(text: str, width: int, drifted: bool) -> str:
    colour = _ALERT if drifted else "#222"
    return (
        f'<text x="{width / 2}" y="14" text-anchor="middle" font-size="12" '
        f'font-weight="600" fill="{colour}">{escape(text)}</text>'
    )


def _y_axis(left: int, top: int, plot_h: int, peak: float, width: int) -> list[str]:
    return [
        _tick(left, top + plot_h - fraction * plot_h, f"{fraction * peak:.0%}", width)
        for fraction in (0.0, 0.5, 1.0)
    ]


def _tick(left: int, y: float, label: str, width: int) -> str:
    return (
        f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
        f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{label}</text>'
    )


def _hline(x1: int, x2: int, y: float, colour: str, dash: str) -> str:
    return (
        f'<line x1="{x1}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" '
        f'stroke-dasharray="{dash}" stroke-width="1.5"/>'
    )


def _legend(x: int, y: int, *entries: tuple[str, str]) -> str:
    parts, offset = [], 0
    for label, colour in entries:
        parts.append(
            f'<rect x="{x + offset}" y="{y + 12}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + offset + 14}" y="{y + 21}" font-size="10">{escape(label)}</text>'
        )
        offset += 24 + 6 * len(label)
    return "".join(parts)


def _largest(dist: Distribution) -> tuple[list[str], list[float], list[float]]:
    if len(dist.labels) <= _MAX_BARS:
        return dist.labels, dist.reference, dist.current
    weight = [max(r, c) for r, c in zip(dist.reference, dist.current, strict=True)]
    keep = sorted(sorted(range(len(weight)), key=lambda i: -weight[i])[:_MAX_BARS])
    return (
        [dist.labels[i] for i in keep],
        [dist.reference[i] for i in keep],
        [dist.current[i] for i in keep],
    )


def _short_label(label: str) -> str:
    return label if len(label) <= 18 else label[:17] + "…"


def _fmt(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def _p(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return "<1e-4" if value < 1e-4 else f"{value:.4f}"


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>loopml monitor: {{ meta.model }}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1180px;
color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.muted{color:#666} .badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;
font-weight:600} .healthy{background:#2ca02c} .alert{background:#d62728}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{padding:4px 8px;
border-bottom:1px solid #e3e3e3;text-align:right} th:first-child,td:first-child{text-align:left}
tr.drift td{background:#fdecea} .cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;flex:1;min-width:260px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(370px,1fr));gap:8px}
.chart svg{max-width:100%;height:auto}
</style></head><body>
<h1>Monitoring: {{ meta.model }}
 <span class="badge {{ status }}" id="status">{{ status }}</span></h1>
<div class="muted">{{ meta.created }} · {{ meta.source }} · {{ drift.rows }} rows
 · model {{ meta.uri }} (run {{ meta.run_id }})</div>
<div class="cards" style="margin-top:14px">
 <div class="card"><b>Drift</b><br><span id="drift-summary">{{ drift.summary() }}</span><br>
 <span class="muted">method {{ drift.settings.method }}, threshold {{ drift.settings.threshold }},
 {{ drift.settings.correction }} correction at {{ drift.settings.significance }},
 min rows {{ drift.settings.min_rows }}</span></div>
 <div class="card"><b>Decay</b><br><span id="decay-summary">{{ decay.summary() if decay
 else "no labels: send them with `loopml feedback FILE` or POST /feedback" }}</span></div>
 {% if meta.webhook %}<div class="card"><b>Webhook</b><br>{{ meta.webhook }}</div>{% endif %}
</div>
<h2>Prediction drift</h2>
{% if prediction %}
<div class="wide chart">{{ prediction_plot }}</div>
<p>{{ prediction.test }} statistic {{ prediction.statistic }},
corrected p {{ prediction.p_adjusted }}, {{ headline.label }} {{ prediction[headline.name] }}:
<b>{{ prediction.verdict }}</b></p>
{% else %}<p class="muted">No predictions to compare.</p>{% endif %}
<h2>Attribution drift</h2>
{% if drift.attribution %}{% set a = drift.attribution %}
<p id="attribution-summary">{{ a.summary() }} ({{ a.rows }} current rows explained against
{{ a.reference_rows }} held-out rows at training; {{ a.method }}, in {{ a.space }} space;
monitoring.drift.attribution_shift sets the threshold)</p>
<div class="wide chart">{{ attribution_plot }}</div>
<table id="attributions"><thead><tr><th>column</th><th>reference share</th>
<th>current share</th><th>change</th><th>verdict</th></tr></thead><tbody>
{% for c in a.columns %}<tr class="{{ 'drift' if c.shifted else '' }}"><td>{{ c.column }}</td>
<td>{{ "%.1f%%" % (100 * c.reference) }}</td><td>{{ "%.1f%%" % (100 * c.current) }}</td>
<td>{{ "%+.1f" % (100 * c.change) }} pts</td><td>{{ "shifted" if c.shifted else "stable" }}</td>
</tr>{% endfor %}</tbody></table>
{% else %}<p class="muted">{{ drift.attribution_skipped or
"Not judged (too few current rows, or monitoring.drift.attribution_shift is null)." }}</p>
{% endif %}
<h2>Decay over time</h2>
{% if decay_plot %}<div class="wide chart">{{ decay_plot }}</div>
{% else %}<p class="muted">Not enough labelled rows for a curve yet.</p>{% endif %}
<h2>Drift per feature</h2>
<table id="features"><thead><tr><th>feature</th><th>kind</th><th>test</th><th>statistic</th>
<th>corrected p</th>{% for d in distances %}<th>{{ d.label }}</th>{% endfor -%}
<th>missing (ref → cur)</th><th>rows</th>
<th>verdict</th></tr></thead><tbody>
{% for r in features %}<tr class="{{ 'drift' if r.verdict == 'drift' else '' }}">
<td>{{ r.name }}</td><td>{{ r.kind }}</td><td>{{ r.test }}</td><td>{{ r.statistic }}</td>
<td>{{ r.p_adjusted }}</td>{% for d in distances %}<td>{{ r[d.name] }}</td>{% endfor -%}
<td>{{ r.missing }}</td>
<td>{{ r.rows }}</td><td>{{ r.verdict }}{% if r.note %} ({{ r.note }}){% endif %}</td></tr>
{% endfor %}</tbody></table>
{% if drift.skipped %}<p class="muted">Not tested: {% for c, why in drift.skipped.items() %}
{{ c }} ({{ why }}){{ ", " if not loop.last }}{% endfor %}</p>{% endif %}
<h2>Reference vs current</h2>
<div class="grid">{% for f, svg in plots %}
<div class="chart" data-feature="{{ f.name }}">{{ svg }}</div>{% endfor %}</div>
</body></html>
"""
