"""Batch scoring throughput: Ray backend (2 local workers) vs local backend vs in-memory.

    .venv/bin/python benchmarks/bench_batch_ray.py                # 5,000,000 rows
    .venv/bin/python benchmarks/bench_batch_ray.py --rows 500000  # quicker

One model (trained on the breast cancer example), one Parquet file of ``--rows`` rows
(the example's rows resampled, with a unique id). Three ways to score it, each in its own
process so that memory is measured alone:

- ``in-memory`` (the baseline): the whole file already in a DataFrame, one
  ``ScoringModel.score_frame`` call; only the call is timed.
- ``local``: ``loopml predict`` with ``compute.backend: local`` (read, score, write in
  chunks of ``batch.chunk_rows``).
- ``ray``: ``loopml predict`` with ``compute.backend: ray`` on a local Ray instance of 2
  CPUs (started before timing; its start-up time is reported apart).

Peak memory is the largest sum of the resident set sizes of the process and all its
descendants (Ray's raylet, workers and object store included), sampled every 0.1 s.
Prints a table and writes benchmarks/results/batch_ray.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _prepare(folder: Path, rows: int, model: str) -> Path:
    from loopml.workflows.init import init_project
    from loopml.workflows.train import train

    init_project(folder, "breast_cancer")
    config = folder / "loopml.yaml"
    body = yaml.safe_load(config.read_text())
    body["models"] = {"candidates": [model]}
    config.write_text(yaml.safe_dump(body), encoding="utf-8")
    from loopml.config import load_config
    from loopml.workflows.promote import promote

    cfg = load_config(config)
    train(cfg)
    promote(cfg)  # the registered challenger passes the gate (no champion yet) and is served
    base = pd.read_csv(folder / "data" / "breast_cancer.csv").drop(columns="diagnosis")
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(base), rows)
    frame = base.iloc[picks].reset_index(drop=True)
    numeric = frame.columns.drop("patient_id")
    frame[numeric] = frame[numeric] * rng.normal(1.0, 0.02, (rows, len(numeric)))
    frame["patient_id"] = np.arange(rows)
    frame.to_parquet(folder / "big.parquet", index=False, row_group_size=100_000)
    return config


def _variant(name: str, config: Path) -> dict[str, float]:
    """Runs in a child process: score the file one way; return timings."""
    from loopml.config import load_config
    from loopml.workflows.predict import model_uri, predict_file

    source = config.parent / "big.parquet"
    if name == "in-memory":
        from loopml.tracking.models import load

        cfg = load_config(config)
        scorer = load(model_uri(cfg, None), tracking_uri=cfg.tracking.uri)
        frame = pd.read_parquet(source)
        started = time.perf_counter()
        scored = scorer.score_frame(frame)
        return {"seconds": time.perf_counter() - started, "rows": float(len(scored))}
    overrides = ["compute.backend=ray"] if name == "ray" else []
    cfg = load_config(config, overrides)
    extra = {}
    if name == "ray":
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        extra["ray_start_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    result = predict_file(cfg, source, config.parent / f"scored-{name}.parquet")
    return {"seconds": time.perf_counter() - started, "rows": float(result.rows), **extra}


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and every descendant, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    family, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        family.update(children)
        frontier.extend(children)
    total = 0
    for pid in family:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def _measure(name: str, config: Path) -> dict[str, float]:
    argv = [sys.executable, __file__, "--child", name, "--config", str(config)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.1)
    output = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed with exit code {proc.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 2**20
    result["rows_per_second"] = result["rows"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--model", default="logistic_regression")
    parser.add_argument("--child")
    parser.add_argument("--config", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_variant(args.child, args.config)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-batch-ray-") as tmp:
        config = _prepare(Path(tmp) / "project", args.rows, args.model)
        results = {name: _measure(name, config) for name in ("in-memory", "local", "ray")}
        parity = _parity(Path(tmp) / "project")
    _report(results, args, parity)


def _parity(folder: Path) -> dict[str, float]:
    """How far the Ray output is from the local one: ids in order, labels, probabilities."""
    local, ray = (pd.read_parquet(folder / f"scored-{n}.parquet") for n in ("local", "ray"))
    proba = [c for c in local.columns if c.startswith("proba_")]
    ids = local["patient_id"].to_numpy() == ray["patient_id"].to_numpy()
    return {
        "ids_in_order": float(len(local) == len(ray) and ids.all()),
        "same_prediction_share": float((local["prediction"] == ray["prediction"]).mean()),
        "max_abs_proba_diff": float((local[proba] - ray[proba]).abs().to_numpy().max()),
    }


def _report(
    results: dict[str, dict[str, float]], args: argparse.Namespace, parity: dict[str, float]
) -> None:
    base = results["in-memory"]["rows_per_second"]
    print(f"Batch scoring of {args.rows:,} Parquet rows ({args.model}; {os.cpu_count()} cores)")
    print(f"{'way':<12}{'seconds':>10}{'rows/s':>14}{'x in-memory':>13}{'peak RSS MB':>13}")
    for name, r in results.items():
        print(
            f"{name:<12}{r['seconds']:>10.2f}{r['rows_per_second']:>14,.0f}"
            f"{r['rows_per_second'] / base:>13.2f}{r['peak_rss_mb']:>13,.0f}"
        )
    print(f"Ray start-up (not in the timing): {results['ray']['ray_start_seconds']:.1f} s")
    print(
        f"Ray vs local output: ids in input order {parity['ids_in_order']:.0f}, same prediction "
        f"on {parity['same_prediction_share']:.6%} of rows, "
        f"max |proba difference| {parity['max_abs_proba_diff']:.2e}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"rows": args.rows, "model": args.model, "parity": parity, "results": results}
    (RESULTS / "batch_ray.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
