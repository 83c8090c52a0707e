"""The time limit of a whole run: `loopml run --time-limit N` wall time against N.

For each dataset (titanic, bike sharing; the settings of ``_tuning_common.DATASETS``) a
fresh project folder gets its tracking store made first (MLflow's migrations run once per
project, not per run), then ``python -m loopml run --time-limit N`` runs as a user would,
with loopml's default candidates. Reported: the process wall time, the limit, their
ratio (goal: at most 1.1 plus the interpreter's start-up, which is before loopml's clock
starts), the plan line loopml printed, the winner and each candidate's status.

Usage: python benchmarks/bench_time_limit.py [--limit 60] [--datasets titanic bike]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _tuning_common import save, table, write_project


def _start_up() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import loopml.cli"], check=True)
    return time.monotonic() - started


def one(dataset: str, limit: float, folder: Path) -> dict[str, Any]:
    config = write_project(folder, dataset, {"tuning": {"n_jobs": 1}})
    subprocess.run(
        [sys.executable, "-m", "loopml", "runs", "-c", str(config)],
        check=True,
        capture_output=True,
    )
    start_up = _start_up()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "loopml", "run", "-c", str(config), "--time-limit", f"{limit:g}"],
        capture_output=True,
        text=True,
        cwd=folder,
    )
    wall = time.monotonic() - started
    plan = re.search(r"time limit .*?change with --time-limit", done.stderr, re.DOTALL)
    statuses = _statuses(config, done)
    return {
        "dataset": dataset,
        "limit_s": limit,
        "wall_s": round(wall, 1),
        "start_up_s": round(start_up, 1),
        "wall/limit": round(wall / limit, 3),
        "(wall-start_up)/limit": round((wall - start_up) / limit, 3),
        "exit": done.returncode,
        "plan": " ".join(plan.group(0).split()) if plan else "",
        "candidates": statuses,
        "last_line": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "",
    }


def _statuses(config: Path, done: subprocess.CompletedProcess[str]) -> str:
    if done.returncode != 0:
        return "-"
    import mlflow

    from loopml.config import load_config

    cfg = load_config(config)
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    run_id = done.stdout.strip().splitlines()[-1]
    path = client.download_artifacts(run_id, "leaderboard.json", str(config.parent))
    board = json.loads(Path(path).read_text())
    return ", ".join(f"{r['name']}: {r['error'] or str(r['trials']) + ' trials'}" for r in board)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("--datasets", nargs="+", default=["titanic", "bike"])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets:
            rows.append(one(dataset, args.limit, Path(tmp) / dataset))
    print(table([{k: v for k, v in r.items() if k not in ("plan", "candidates")} for r in rows]))
    for row in rows:
        print(f"\n{row['dataset']}: {row['plan']}\n  {row['candidates']}")
    print(f"\nwritten to {save('time_limit', {'rows': rows})}")


if __name__ == "__main__":
    main()
