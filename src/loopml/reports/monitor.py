"""The monitoring report: one self-contained HTML file (plots embedded as PNG, no network).

Drift per feature with reference vs current distributions, prediction drift, and decay
over time, above a table of every statistic.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from jinja2 import Environment
from matplotlib.figure import Figure

from loopml.core.decay import DecayReport
from loopml.core.drift import Distribution, DriftReport, FeatureDrift

_MAX_BARS = 20
_REFERENCE, _CURRENT, _ALERT = "#8da0cb", "#fc8d62", "#d62728"


def render(drift: DriftReport, decay: DecayReport | None, meta: dict[str, Any], status: str) -> str:
    """The report as one HTML string."""
    ordered = sorted(drift.features, key=lambda f: (not f.drifted, -(f.psi or 0.0)))
    template = Environment(autoescape=True).from_string(_TEMPLATE)
    return template.render(
        meta=meta,
        status=status,
        drift=drift,
        decay=decay,
        features=[_row(f) for f in ordered],
        plots=[(f, distribution_png(f.distribution, f.name, f.drifted)) for f in ordered],
        prediction=_row(drift.prediction) if drift.prediction else None,
        prediction_plot=(
            distribution_png(drift.prediction.distribution, "prediction", drift.prediction.drifted)
            if drift.prediction
            else None
        ),
        decay_plot=decay_png(decay) if decay and decay.series else None,
    )


def _row(f: FeatureDrift) -> dict[str, Any]:
    return {
        "name": f.name,
        "kind": f.kind,
        "test": f.test.upper(),
        "statistic": _fmt(f.statistic),
        "p_adjusted": _p(f.p_adjusted),
        "psi": _fmt(f.psi),
        "js": _fmt(f.jensen_shannon),
        "missing": f"{f.missing_reference:.1%} → {f.missing_current:.1%}",
        "rows": f.rows,
        "verdict": "drift" if f.drifted else ("not judged" if not f.judged else "stable"),
        "note": f.note,
    }


def distribution_png(dist: Distribution, title: str, drifted: bool) -> str:
    """Reference vs current shares per bin or category, as a base64 PNG."""
    labels, ref, cur = _largest(dist)
    fig = Figure(figsize=(4.6, 2.8), dpi=80)
    ax = fig.subplots()
    positions = range(len(labels))
    width = 0.42
    ax.bar([p - width / 2 for p in positions], ref, width, label="reference", color=_REFERENCE)
    ax.bar([p + width / 2 for p in positions], cur, width, label="current", color=_CURRENT)
    ax.set_xticks(list(positions), [_short_label(label) for label in labels], rotation=60)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(title, color=_ALERT if drifted else "black", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _png(fig)


def decay_png(decay: DecayReport) -> str:
    """The metric per chunk of labelled rows over time, against the training score."""
    fig = Figure(figsize=(9, 3.2), dpi=80)
    ax = fig.subplots()
    values = [p.value for p in decay.series]
    ax.plot(range(len(values)), values, marker="o", color=_CURRENT, label=f"{decay.metric} (live)")
    if decay.reference is not None:
        sign = 1.0 if decay.higher_is_better else -1.0
        limit = decay.reference - sign * decay.settings.max_drop
        ax.axhline(decay.reference, color=_REFERENCE, linestyle="--", label="test score")
        ax.axhline(
            limit, color=_ALERT, linestyle=":", label="alert below" if sign > 0 else "alert above"
        )
    ticks = list(range(len(values)))
    ax.set_xticks(ticks, [decay.series[i].end[:16].replace("T", " ") for i in ticks], rotation=30)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylabel(decay.metric)
    ax.set_title(f"{decay.metric} per {decay.settings.every} labelled rows", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _png(fig)


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


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


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
.grid img,.wide img{max-width:100%}
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
<div class="wide"><img alt="prediction distribution"
 src="data:image/png;base64,{{ prediction_plot }}"></div>
<p>{{ prediction.test }} statistic {{ prediction.statistic }},
corrected p {{ prediction.p_adjusted }}, PSI {{ prediction.psi }}:
<b>{{ prediction.verdict }}</b></p>
{% else %}<p class="muted">No predictions to compare.</p>{% endif %}
<h2>Decay over time</h2>
{% if decay_plot %}<div class="wide"><img alt="decay over time"
 src="data:image/png;base64,{{ decay_plot }}"></div>
{% else %}<p class="muted">Not enough labelled rows for a curve yet.</p>{% endif %}
<h2>Drift per feature</h2>
<table id="features"><thead><tr><th>feature</th><th>kind</th><th>test</th><th>statistic</th>
<th>corrected p</th><th>PSI</th><th>Jensen-Shannon</th><th>missing (ref → cur)</th><th>rows</th>
<th>verdict</th></tr></thead><tbody>
{% for r in features %}<tr class="{{ 'drift' if r.verdict == 'drift' else '' }}">
<td>{{ r.name }}</td><td>{{ r.kind }}</td><td>{{ r.test }}</td><td>{{ r.statistic }}</td>
<td>{{ r.p_adjusted }}</td><td>{{ r.psi }}</td><td>{{ r.js }}</td><td>{{ r.missing }}</td>
<td>{{ r.rows }}</td><td>{{ r.verdict }}{% if r.note %} ({{ r.note }}){% endif %}</td></tr>
{% endfor %}</tbody></table>
{% if drift.skipped %}<p class="muted">Not tested: {% for c, why in drift.skipped.items() %}
{{ c }} ({{ why }}){{ ", " if not loop.last }}{% endfor %}</p>{% endif %}
<h2>Reference vs current</h2>
<div class="grid">{% for f, png in plots %}
<img alt="{{ f.name }}" src="data:image/png;base64,{{ png }}">{% endfor %}</div>
</body></html>
"""
