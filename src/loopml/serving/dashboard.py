"""``/dashboard``: traffic, latency, abstentions, drift per feature and version history.

A plain HTML page with inline JavaScript (no CDN, no network beyond this server) that
polls ``/dashboard/data`` every few seconds (``?refresh=MS`` to change). Traffic and
latency are the server's own counters (the numbers /metrics exports); drift and decay
come from the same code as `loopml monitor`, on the same prediction-log window, for the
served version, recomputed at most every ``DRIFT_SECONDS``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse

from loopml.config import ProjectConfig
from loopml.core.drift import DISTANCES
from loopml.errors import LoopmlError, first_line
from loopml.serving.metrics import Metrics
from loopml.tracking.monitoring import version_history
from loopml.tracking.prediction_log import PredictionLog
from loopml.tracking.store import Tracker
from loopml.workflows.monitor import assess, log_url

if TYPE_CHECKING:
    from loopml.serving.app import ServingState

DRIFT_SECONDS = 5.0
PREDICTION_ENDPOINTS = ("predict", "invocations", "v2_infer")


class DashboardData:
    """What /dashboard/data answers: live counters plus a briefly cached drift assessment."""

    def __init__(self, state: ServingState, cfg: ProjectConfig | None):
        self.state, self.cfg = state, cfg
        self._lock = threading.Lock()
        self._cached: tuple[float, str | None, dict[str, Any]] | None = None

    def snapshot(self) -> dict[str, Any]:
        model = self.state.champion.loaded.model
        return {
            "generated_at": time.time(),
            "model": {"name": model.name, "version": model.version, "run_id": model.run_id},
            "traffic": traffic(self.state.metrics),
            "latency": latency(self.state.metrics),
            "prediction_log": self._log_health(),
            "serving": {
                "status": self.state.status,
                "problems": list(self.state.problems.values()),
            },
            **self._monitoring(),
        }

    def _log_health(self) -> dict[str, Any] | None:
        """The writer's state: queued, written, dropped by reason, the failing error."""
        log = self.state.prediction_log
        if log is None:
            return None
        health = log.health()
        return {**health.as_dict(), "degraded": health.degraded}

    def _monitoring(self) -> dict[str, Any]:
        if self.cfg is None:
            note = "no project configuration: start the server with `loopml serve` for drift"
            return {"drift": {"error": note}, "decay": None, "versions": [], "log": {}}
        version = self.state.champion.loaded.model.version
        with self._lock:
            cached = self._cached
            if (
                cached is None
                or cached[1] != version
                or time.monotonic() - cached[0] > DRIFT_SECONDS
            ):
                self._cached = cached = (time.monotonic(), version, self._assess(self.cfg))
            return cached[2]

    def _assess(self, cfg: ProjectConfig) -> dict[str, Any]:
        tracker = Tracker.from_config(cfg)
        model = self.state.champion.loaded.model
        found: dict[str, Any] = {"versions": version_history(tracker), "decay": None}
        try:
            found["log"] = PredictionLog(log_url(cfg)).counts()
            assessed = assess(
                cfg, model=model.version or model.run_id, tracker=tracker, attributions=False
            )
        except LoopmlError as exc:
            found.setdefault("log", {})
            found["drift"] = {"error": first_line(exc)}
            return found
        found["status"] = assessed.status
        found["drift"] = assessed.drift.as_dict()
        for feature in [*found["drift"]["features"], found["drift"]["prediction"] or {}]:
            feature.pop("distribution", None)  # the page shows statistics, the report plots
        found["decay"] = assessed.decay.as_dict() if assessed.decay else None
        return found


def traffic(metrics: Metrics) -> dict[str, float]:
    """Prediction requests (all protocols), errors, rows and abstentions, as /metrics has them."""
    requests = errors = 0.0
    for sample in _samples(metrics, "loopml_requests_total"):
        if sample.labels.get("endpoint") in PREDICTION_ENDPOINTS:
            requests += sample.value
            errors += sample.value if int(sample.labels["status"]) >= 400 else 0.0
    return {
        "requests": requests,
        "errors": errors,
        "rows": _total(metrics, "loopml_predictions_total"),
        "abstentions": _total(metrics, "loopml_abstentions_total"),
    }


def latency(metrics: Metrics) -> dict[str, float | None]:
    """Mean and p50/p95 bucket bounds of the prediction endpoints' request latency."""
    count = total = 0.0
    buckets: dict[float, float] = {}
    for sample in _samples(metrics, "loopml_request_seconds_count", prediction=True):
        count += sample.value
    for sample in _samples(metrics, "loopml_request_seconds_sum", prediction=True):
        total += sample.value
    for sample in _samples(metrics, "loopml_request_seconds_bucket", prediction=True):
        bound = float(sample.labels["le"])
        buckets[bound] = buckets.get(bound, 0.0) + sample.value
    pairs = sorted(buckets.items())
    return {
        "count": count,
        "mean_ms": total / count * 1000 if count else None,
        "p50_ms": _quantile_bound(pairs, count, 0.5),
        "p95_ms": _quantile_bound(pairs, count, 0.95),
    }


def _samples(metrics: Metrics, name: str, prediction: bool = False) -> list[Any]:
    found = []
    for family in metrics.collect():
        for sample in family.samples:
            if sample.name != name:
                continue
            if prediction and sample.labels.get("endpoint") not in PREDICTION_ENDPOINTS:
                continue
            found.append(sample)
    return found


def _total(metrics: Metrics, name: str) -> float:
    return sum(sample.value for sample in _samples(metrics, name))


def _quantile_bound(buckets: list[tuple[float, float]], count: float, q: float) -> float | None:
    """Upper bound (ms) of the histogram bucket holding the q-quantile of latencies."""
    if not count:
        return None
    for bound, cumulative in buckets:
        if cumulative >= q * count:
            return bound * 1000
    return None


def add_dashboard(app: FastAPI, state: ServingState, cfg: ProjectConfig | None) -> None:
    data = DashboardData(state, cfg)

    # auth: serving.auth.TokenGuard (open like /metrics, unless serve.auth.protect_health)

    @app.get("/dashboard", include_in_schema=False)
    def dashboard_page() -> Response:
        return HTMLResponse(PAGE)

    @app.get("/dashboard/data", include_in_schema=False)
    def dashboard_data() -> Any:
        return data.snapshot()


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>loopml dashboard</title>
<link rel="icon" href="data:,">
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:20px auto;max-width:1180px;
padding:0 16px;color:#222} h1{font-size:21px;margin:0} h2{font-size:16px;margin:22px 0 8px}
.muted{color:#666} .cards{display:flex;gap:10px;flex-wrap:wrap;margin-top:12px}
.card{border:1px solid #ddd;border-radius:8px;padding:8px 14px;min-width:130px}
.card .v{font-size:22px;font-weight:600} table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #e5e5e5;text-align:right}
th:first-child,td:first-child{text-align:left} tr.drift td{background:#fdecea}
.bar{display:inline-block;height:9px;background:#fc8d62;vertical-align:middle}
.badge{padding:2px 9px;border-radius:10px;color:#fff;font-weight:600;background:#888}
.healthy{background:#2ca02c} .alert{background:#d62728} .alert-text{color:#d62728}
</style></head><body>
<h1>loopml · <span id="model">…</span> <span id="status" class="badge">…</span></h1>
<p id="serving-problems" class="alert-text"></p>
<div class="muted">updated <span id="updated">never</span> · refresh every
<span id="refresh"></span> ms</div>
<div class="cards">
 <div class="card"><div class="muted">requests</div><div class="v" id="requests">-</div></div>
 <div class="card"><div class="muted">requests/s</div><div class="v" id="rate">-</div></div>
 <div class="card"><div class="muted">rows predicted</div><div class="v" id="rows">-</div></div>
 <div class="card"><div class="muted">errors (4xx/5xx)</div><div class="v" id="errors">-</div></div>
 <div class="card"><div class="muted">abstentions</div><div class="v" id="abstentions">-</div></div>
 <div class="card"><div class="muted">mean latency ms</div>
  <div class="v" id="latency-mean">-</div></div>
 <div class="card"><div class="muted">p95 latency ≤ ms</div>
  <div class="v" id="latency-p95">-</div></div>
 <div class="card"><div class="muted">log entries dropped</div>
  <div class="v" id="log-dropped">-</div></div>
</div>
<div id="log-state" class="muted"></div>
<svg id="traffic" width="100%" height="60" viewBox="0 0 600 60" preserveAspectRatio="none"
 role="img" aria-label="requests per second"><polyline id="traffic-line" fill="none"
 stroke="#8da0cb" stroke-width="2" points=""></polyline></svg>
<h2>Drift per feature</h2>
<div id="drift-summary" class="muted">…</div>
<table><thead><tr><th>feature</th><th>test</th><th>corrected p</th>@DISTANCE_HEADERS@
<th>rows</th><th>verdict</th></tr></thead><tbody id="drift-rows"></tbody></table>
<h2>Decay</h2><div id="decay-summary" class="muted">…</div>
<h2>Model versions</h2>
<table><thead><tr><th>version</th><th>aliases</th><th>created</th><th>run</th>
<th>retrained by</th></tr></thead><tbody id="versions"></tbody></table>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const refresh = Math.max(250, Number(params.get("refresh")) || 3000);
document.getElementById("refresh").textContent = refresh;
const samples = [];
const DISTANCES = @DISTANCE_NAMES@;
function text(id, value) { document.getElementById(id).textContent = value; }
function num(value, digits) {
  return value === null || value === undefined ? "-" : Number(value).toFixed(digits);
}
function pValue(p) {
  return p === null || p === undefined ? "-" : (p < 1e-4 ? "<1e-4" : p.toFixed(4));
}
function cell(row, value) { const td = document.createElement("td"); td.textContent = value;
  row.appendChild(td); return td; }
function drawTraffic(data) {
  samples.push([data.generated_at, data.traffic.requests]);
  if (samples.length > 60) samples.shift();
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = samples[i][0] - samples[i - 1][0];
    rates.push(dt > 0 ? (samples[i][1] - samples[i - 1][1]) / dt : 0);
  }
  text("rate", rates.length ? rates[rates.length - 1].toFixed(1) : "-");
  const top = Math.max(1, ...rates);
  const points = rates.map((r, i) => `${(i / 59) * 600},${58 - (r / top) * 56}`).join(" ");
  document.getElementById("traffic-line").setAttribute("points", points);
}
function drawDrift(data) {
  const body = document.getElementById("drift-rows");
  body.replaceChildren();
  const drift = data.drift || {};
  if (drift.error) { text("drift-summary", drift.error); return; }
  text("drift-summary", drift.summary);
  const rows = [...drift.features];
  if (drift.prediction) rows.push(drift.prediction);
  for (const f of rows) {
    const tr = document.createElement("tr");
    tr.dataset.feature = f.name;
    for (const name of DISTANCES) tr.dataset[name] = f[name];
    if (f.drifted) tr.className = "drift";
    cell(tr, f.name); cell(tr, f.test); cell(tr, pValue(f.p_adjusted));
    for (const name of DISTANCES) {
      cell(tr, num(f[name], 3)).className = name;
      const bar = document.createElement("span"); bar.className = "bar";
      bar.style.width = `${Math.min(120, (f[name] || 0) * 240)}px`;
      cell(tr, "").appendChild(bar);
    }
    cell(tr, f.rows);
    cell(tr, f.drifted ? "drift" : (f.judged ? "stable" : "not judged"));
    body.appendChild(tr);
  }
}
function drawVersions(data) {
  const body = document.getElementById("versions");
  body.replaceChildren();
  for (const v of data.versions || []) {
    const tr = document.createElement("tr");
    cell(tr, v.version); cell(tr, v.aliases.join(", "));
    cell(tr, new Date(v.created).toISOString().replace("T", " ").slice(0, 19));
    cell(tr, v.run_id.slice(0, 12)); cell(tr, (v.trigger_run_id || "").slice(0, 12));
    body.appendChild(tr);
  }
}
function draw(data) {
  const m = data.model;
  text("model", m.version ? `${m.name} v${m.version}` : (m.name || m.run_id || "model"));
  const status = document.getElementById("status");
  status.textContent = data.status || "no data";
  status.className = `badge ${data.status || ""}`;
  text("serving-problems", (data.serving.problems || []).join(" · "));
  text("requests", data.traffic.requests);
  text("rows", data.traffic.rows);
  text("errors", data.traffic.errors);
  text("abstentions", data.traffic.abstentions);
  text("latency-mean", num(data.latency.mean_ms, 2));
  text("latency-p95", num(data.latency.p95_ms, 1));
  const log = data.prediction_log;
  const dropped = log ? Object.values(log.dropped).reduce((a, b) => a + b, 0) : null;
  text("log-dropped", log ? dropped : "log off");
  text("log-state", !log ? "" : (log.failing ? `prediction log failing: ${log.failing}` :
    (dropped ? `prediction log dropped: ${JSON.stringify(log.dropped)}` : "")));
  drawTraffic(data);
  drawDrift(data);
  text("decay-summary", data.decay ? data.decay.summary : "no labels yet (POST /feedback)");
  drawVersions(data);
  text("updated", new Date(data.generated_at * 1000).toLocaleTimeString());
}
async function poll() {
  try {
    const response = await fetch("dashboard/data", {cache: "no-store"});
    if (response.ok) draw(await response.json());
  } finally {
    setTimeout(poll, refresh);
  }
}
poll();
</script></body></html>
"""

# The drift distances the page shows (core.drift.DISTANCES entries with on_dashboard): a
# value column and a bar each, and ``data-<name>`` on every row.
_SHOWN = [d for d in DISTANCES.values() if d.on_dashboard]
PAGE = _PAGE.replace(
    "@DISTANCE_HEADERS@", "".join(f"<th>{d.label}</th><th></th>" for d in _SHOWN)
).replace("@DISTANCE_NAMES@", json.dumps([d.name for d in _SHOWN]))
