"""`train.distributed` on Ray vs the same LightGBM in one process: wall time, driver memory.

Baseline (named, run by this script): one Python process reads the Parquet file with
pandas and trains LightGBM (same rounds, leaves and training share) with
``lightgbm.train``: what one does without a cluster. loopml: ``loopml train`` with
``train.distributed: true``; Ray Data reads, splits and transforms the file on the
workers, Ray Train fits the booster on them, and the driver holds a sample of
``train.sample_rows`` rows. Both run as subprocesses of this script; a process's peak
memory is its ``VmHWM`` from /proc (Linux). Ray's worker processes are not counted: on a
cluster they are other machines.

    python benchmarks/bench_distributed_train.py --rows 2000000

Prints a table and writes benchmarks/results/distributed_train.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from common import write_results

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "bike_sharing_hour.csv"
ROUNDS, LEAVES = 100, 31

BASELINE = """
import sys, numpy as np, pandas as pd, lightgbm
frame = pd.read_parquet(sys.argv[1])
train = frame[np.random.default_rng(0).random(len(frame)) < 0.6]
X = train.drop(columns=["cnt", "casual", "registered", "instant", "dteday"])
params = {"objective": "regression", "num_leaves": int(sys.argv[3]), "num_threads": 2,
          "verbosity": -1}
lightgbm.train(params, lightgbm.Dataset(X, train["cnt"]), int(sys.argv[2]))
"""


def big_file(rows: int, folder: Path) -> Path:
    """Bike sharing, resampled to ``rows`` rows, each with its own ``instant`` id."""
    hours = pd.read_csv(SHARED)
    picked = hours.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    picked["instant"] = np.arange(rows)
    path = folder / "bike_big.parquet"
    picked.to_parquet(path, row_group_size=100_000)
    return path


def project(folder: Path, source: Path, workers: int) -> Path:
    body = {
        "name": "bike-big",
        "data": {
            "source": str(source),
            "target": "cnt",
            "task": "regression",
            "columns": {"id": ["instant"], "ignore": ["dteday", "casual", "registered"]},
        },
        "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
        "models": {"candidates": {"lightgbm": {"n_estimators": ROUNDS, "num_leaves": LEAVES}}},
        "train": {"distributed": True, "n_jobs": workers, "storage": str(folder / "ray")},
    }
    config = folder / "loopml.yaml"
    config.write_text(yaml.safe_dump(body), encoding="utf-8")
    return config


def measured(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GB) of one process, polled from /proc."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kb = 0
    while process.poll() is None:
        peak_kb = max(peak_kb, _peak_kb(process.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - started
    error = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed:\n{error[-2000:]}")
    return wall, peak_kb / 1e6


def _peak_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = big_file(args.rows, folder)
        config = project(folder, source, args.workers)
        python, loopml = sys.executable, str(Path(sys.executable).parent / "loopml")
        baseline = measured([python, "-c", BASELINE, str(source), str(ROUNDS), str(LEAVES)])
        ours = measured([loopml, "train", "--force", "-c", str(config)])
    print(f"{args.rows:,} rows, {ROUNDS} rounds, {LEAVES} leaves, {args.workers} Ray workers")
    print(f"{'':32} {'wall s':>8} {'driver peak GB':>15}")
    print(f"{'baseline: pandas + lightgbm':32} {baseline[0]:8.1f} {baseline[1]:15.2f}")
    print(f"{'loopml train.distributed (Ray)':32} {ours[0]:8.1f} {ours[1]:15.2f}")
    print(
        f"ratios loopml/baseline: wall {ours[0] / baseline[0]:.2f}x, "
        f"driver memory {ours[1] / baseline[1]:.2f}x"
    )
    write_results(
        "distributed_train",
        {
            "rows": args.rows,
            "workers": args.workers,
            "baseline": {"wall_s": baseline[0], "driver_peak_gb": baseline[1]},
            "loopml": {"wall_s": ours[0], "driver_peak_gb": ours[1]},
        },
    )


if __name__ == "__main__":
    main()
