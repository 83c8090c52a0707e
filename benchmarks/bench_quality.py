"""Quality at equal wall time: `loopml train` against FLAML and AutoGluon (issue 18).

Each tool gets the same total time limit T per dataset and split: loopml
``tuning.budget.time_limit: T`` (``loopml train --time-limit T``), FLAML
``AutoML.fit(time_budget=T)``, AutoGluon ``TabularPredictor.fit(time_limit=T,
presets="medium_quality")``, all with the same ``n_jobs`` (``--n-jobs``, FLAML's
``n_jobs``, AutoGluon's ``num_cpus``). Datasets (all of ``../shared/data``):

- titanic: ``Survived``, test accuracy (the metric of the other tuning benchmarks);
- bike: ``cnt``, test R² (``instant``, ``casual``, ``registered`` ignored; ``dteday`` a date);
- taxis: ``fare``, test R² (``tip``, ``tolls``, ``total`` ignored: they contain the fare);
- madewithml: ``tag`` from the text of ``title`` and ``description``, test macro F1. The
  dataset and its holdout file are joined (955 rows) and split like the others, so each
  seed has its own 191 test rows and the seeds vary the test set too; ``id`` and
  ``created_on`` are ignored.

What is fair, and how it is kept: loopml's split (``split.test: 0.2``,
``split.validation: 0.2``, ``split.seed`` = the seed; stratified for classification) is
made once per dataset and seed by loopml's own ``prepare``; the peers get exactly those
rows: the training rows to fit on, the validation rows as their tuning data (FLAML's
``X_val``/``y_val``, AutoGluon's ``tuning_data``), and the test rows without the target.
loopml, trained from the same file with the same split settings, makes the same split
(checked: its split sizes must equal the ones given to the peers). So every tool fits on
the same rows, selects on the same rows and is scored once on the same test rows, by the
same function (loopml's ``metrics.METRICS``), from the predictions each tool returns. Each
tool reads the raw columns and featurizes them its own way (dates, text, categories).

Wall time is the tool's training call (``loopml.workflows.train.train``: search, refits,
ensemble, test scoring, MLflow logging and registration; the peers' ``fit``), and
``limit_held`` says whether it stayed within T x 1.1.

Until ``tuning.budget.time_limit`` exists in the installed loopml, loopml is run with the
per-candidate ``tuning.budget.timeout`` planned from T (the catalog's default candidates,
searched ``n_jobs`` at a time, share the part of T left for refits and the ensemble) and
the row says which budget was used.

The peers run in their own virtualenv (``make bench-peers``, ``benchmarks/.venv-peers``:
AutoGluon 1.6 needs pandas < 2.4, loopml's lock has pandas 3) through ``_peers.py`` (JSON
in, predictions out), one tool at a time, never in parallel. Their rows are cached in the
results JSON per (dataset, seed, T, tool) and the split's fingerprint; ``--reuse-peers``
takes them from there instead of running the peers again (after a change to loopml).

The paired difference loopml minus each peer, per dataset and T, is the mean over seeds
with a 95% Student t-interval (Student, 1908; the paired t-interval of e.g. Wasserman,
*All of Statistics*, 2004, sec. 10.1). The splits share rows, so the interval is somewhat
optimistic (Nadeau & Bengio, 2003, "Inference for the generalization error"); with two
or three seeds it is wide, and it is the honest reading of "which tool is ahead".

Usage: python benchmarks/bench_quality.py [--time-limits 60 300] [--seeds 42 1 2]
       [--datasets titanic bike taxis madewithml] [--tools loopml flaml autogluon]
       [--n-jobs 2] [--reuse-peers]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from _paired import paired_interval
from _tuning_common import RESULTS, shared, table

from loopml.config import load_config
from loopml.core import models as catalog
from loopml.core.evaluation import metrics
from loopml.errors import ConfigError
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare
from loopml.workflows.train import train

ROOT = Path(__file__).resolve().parent
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
RESULT = RESULTS / "bench_quality.json"
TOOLS = ("loopml", "flaml", "autogluon")
SLACK = 1.1  # a tool "held" the limit when its wall time is at most T x SLACK

DATASETS: dict[str, dict[str, Any]] = {
    "titanic": {
        "sources": ["titanic_train.csv"],
        "target": "Survived",
        "columns": {"text": ["Name"], "ignore": ["PassengerId", "Ticket"]},
        "metric": "accuracy",
    },
    "bike": {
        "sources": ["bike_sharing_hour.csv"],
        "target": "cnt",
        "columns": {"ignore": ["instant", "casual", "registered"], "datetime": ["dteday"]},
        "metric": "r2",
    },
    "taxis": {
        "sources": ["nyc_taxis.csv"],
        "target": "fare",
        "columns": {"ignore": ["tip", "tolls", "total"], "datetime": ["pickup", "dropoff"]},
        "metric": "r2",
    },
    "madewithml": {
        "sources": ["madewithml_dataset.csv", "madewithml_holdout.csv"],
        "target": "tag",
        "columns": {"text": ["title", "description"], "ignore": ["id", "created_on"]},
        "metric": "f1_macro",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-limits", nargs="+", type=float, default=[60, 300])
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--reuse-peers", action="store_true")
    args = parser.parse_args()
    peers = [tool for tool in args.tools if tool != "loopml"]
    if peers and not PEERS_PYTHON.is_file():
        sys.exit(f"{PEERS_PYTHON} is absent: `make bench-peers` installs FLAML and AutoGluon")
    previous = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    cache: dict[str, dict[str, Any]] = previous.get("peer_cache", {})
    store = tempfile.TemporaryDirectory(prefix="bench-quality-mlflow-")
    tracking = _tracking_store(Path(store.name)) if "loopml" in args.tools else {}
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for dataset in args.datasets:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory(prefix="bench-quality-") as name:
                folder = Path(name)
                split = _split(folder, dataset, seed, tracking)
                for limit in args.time_limits:
                    for tool in args.tools:
                        key = f"{dataset}|{seed}|{limit:g}|{tool}"
                        cached = cache.get(key)
                        if (
                            tool != "loopml"
                            and args.reuse_peers
                            and cached
                            and cached["split"] == split["fingerprint"]
                        ):
                            row = {**cached, "reused": True}
                        elif tool == "loopml":
                            row = _loopml(folder, dataset, seed, limit, args.n_jobs, split)
                        else:
                            row = _peer(tool, folder, dataset, seed, limit, args.n_jobs, split)
                            cache[key] = row
                        rows.append(row)
                        print(table([_shown(row)]), flush=True)
                        if tool != "loopml":  # a later crash keeps the peers' rows
                            _save_cache(cache)
    total = time.perf_counter() - started
    store.cleanup()
    summary, paired, best = _summary(rows), _paired(rows), _best_peers(rows)
    _print_tables(rows, summary, paired, best)
    path = _save(args, rows, summary, paired, best, cache, total)
    print(f"\nwhole benchmark: {total:.0f} s; wrote {path}")


def _print_tables(
    rows: list[dict[str, Any]],
    summary: list[dict[str, Any]],
    paired: list[dict[str, Any]],
    best: list[dict[str, Any]],
) -> None:
    print()
    print(table([_shown(row) for row in rows]))
    print()
    print(table(summary))
    if paired:
        print()
        print(table(paired))
    if best:
        print()
        print(table(best))


def _tracking_store(folder: Path) -> dict[str, str]:
    """One MLflow store for every loopml run of the benchmark, created before any is timed.

    A project creates its store once, not at each train (creating one runs MLflow's schema
    migrations: about 15 s on 2 cores), so loopml's timed trains all log to this one.
    """
    tracking = {"uri": f"sqlite:///{folder / 'mlflow.db'}", "artifacts": str(folder / "artifacts")}
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=tracking["uri"]).search_experiments()  # creates the schema
    return tracking


def _split(folder: Path, dataset: str, seed: int, tracking: dict[str, str]) -> dict[str, Any]:
    """loopml's split of ``dataset`` for ``seed``, written as CSV files for the peers.

    Returns the loopml.yaml body (without a budget), the test target, the split sizes, a
    fingerprint of which rows went where, and the paths of the three CSV files.
    """
    spec = DATASETS[dataset]
    source = _source(folder, spec["sources"])
    body = {
        "name": f"bench-{dataset}",
        "data": {"source": str(source), "target": spec["target"], "columns": spec["columns"]},
        "split": {"test": 0.2, "validation": 0.2, "seed": seed},
        "metric": spec["metric"],
    }
    if tracking:
        body["tracking"] = tracking
    cfg = load_config(_write(folder / "split", body))
    data = prepare(cfg, SilentReporter())
    features, target = list(data.roles.features), data.target
    parts = {
        "train": data.splits.train,
        "validation": data.splits.validation,
        "test": data.splits.test,
    }
    paths = {}
    for part, frame in parts.items():
        columns = features if part == "test" else [*features, target]
        paths[part] = folder / f"{part}.csv"
        frame[columns].to_csv(paths[part], index=False)
    rows = "|".join(",".join(map(str, frame.index)) for frame in parts.values())
    return {
        "body": body,
        "task": data.task,
        "target": target,
        "metric": spec["metric"],
        "datetime": list(data.roles.datetime),
        "y_test": data.splits.test[target],
        "sizes": {part: len(frame) for part, frame in parts.items()},
        "fingerprint": hashlib.sha256(rows.encode()).hexdigest()[:16],
        "paths": paths,
    }


def _source(folder: Path, names: list[str]) -> Path:
    """The dataset's one file, or its files joined (madewithml and its holdout)."""
    if len(names) == 1:
        return shared(names[0])
    joined = folder / "joined.csv"
    pd.concat([pd.read_csv(shared(name)) for name in names], ignore_index=True).to_csv(
        joined, index=False
    )
    return joined


def _write(folder: Path, body: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "loopml.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def loopml_budget(
    body: dict[str, Any], folder: Path, limit: float, n_jobs: int, task: str
) -> tuple[Any, str]:
    """loopml's config with a total time limit, or today's per-candidate plan.

    Writes ``tuning.budget.time_limit: limit``; when the installed loopml refuses that key
    (a ``ConfigError`` naming it), writes instead a per-candidate ``tuning.budget.timeout``
    planned from ``limit``: the catalog's default candidates for ``task`` are searched
    ``n_jobs`` at a time, so ceil(candidates / n_jobs) rounds share 60% of the limit (the
    rest is for the refits, the ensemble and the logging: about 15 s on titanic).

    Returns
    -------
    (ProjectConfig, str)
        The loaded config and a one-line description of the budget used.
    """
    compute = {"n_jobs": n_jobs}
    wanted = {**body, "compute": compute, "tuning": {"budget": {"time_limit": limit}}}
    try:
        return load_config(_write(folder, wanted)), f"tuning.budget.time_limit={limit:g}"
    except ConfigError as error:
        if "time_limit" not in str(error):
            raise
    candidates = catalog.candidate_names(None, task)  # type: ignore[arg-type]
    rounds = math.ceil(len(candidates) / n_jobs)
    timeout = max(1, round(0.6 * limit / rounds))
    planned = {
        **body,
        "compute": compute,
        "tuning": {"budget": {"trials": 10_000, "timeout": timeout}, "learning_curve": False},
    }
    return load_config(_write(folder, planned)), (
        f"no time_limit here: tuning.budget.timeout={timeout} s per candidate "
        f"({len(candidates)} candidates, {rounds} rounds)"
    )


def _loopml(
    folder: Path, dataset: str, seed: int, limit: float, n_jobs: int, split: dict[str, Any]
) -> dict[str, Any]:
    cfg, budget = loopml_budget(
        split["body"], folder / f"loopml-{limit:g}", limit, n_jobs, split["task"]
    )
    started = time.perf_counter()
    result = train(cfg, force=True)
    wall = time.perf_counter() - started
    if result.split_sizes != split["sizes"]:
        raise RuntimeError(f"loopml split {result.split_sizes} != the peers' {split['sizes']}")
    assert result.test is not None
    row = _row(dataset, seed, limit, "loopml", split, result.test.selection, wall, wall)
    return {**row, "model": result.winner, "budget": budget}


def _peer(
    tool: str,
    folder: Path,
    dataset: str,
    seed: int,
    limit: float,
    n_jobs: int,
    split: dict[str, Any],
) -> dict[str, Any]:
    request = {
        "tool": tool,
        **{part: str(path) for part, path in split["paths"].items()},
        "target": split["target"],
        "task": split["task"],
        "metric": split["metric"],
        "datetime": split["datetime"],
        "time_limit": limit,
        "n_jobs": n_jobs,
        "seed": seed,
        "output": str(folder / f"{tool}-answer.json"),
    }
    path = folder / f"{tool}-request.json"
    path.write_text(json.dumps(request))
    started = time.perf_counter()
    done = subprocess.run(
        [str(PEERS_PYTHON), str(ROOT / "_peers.py"), str(path)],
        capture_output=True,
        text=True,
        timeout=limit * 3 + 300,
    )
    process_s = time.perf_counter() - started
    if done.returncode != 0:  # a failed peer is a row (no score, its last error line)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        row = _row(dataset, seed, limit, tool, split, math.nan, process_s, process_s)
        return {**row, "limit_held": None, "failed": lines[-1] if lines else "no message"}
    answer = json.loads(Path(request["output"]).read_text())
    y_test = split["y_test"]
    predicted = pd.Series(answer["predictions"])
    if split["task"] == "classification":  # labels compared as text: 1 and "1" alike
        y_test, predicted = y_test.astype(str), predicted.astype(str)
    score = float(metrics.METRICS[split["metric"]].compute(y_test, predicted))
    row = _row(dataset, seed, limit, tool, split, score, answer["fit_s"], process_s)
    return {**row, "model": answer["model"], "versions": answer["versions"]}


def _row(
    dataset: str,
    seed: int,
    limit: float,
    tool: str,
    split: dict[str, Any],
    score: float,
    wall: float,
    process_s: float,
) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "seed": seed,
        "time_limit_s": limit,
        "tool": tool,
        "metric": split["metric"],
        "test_score": score,
        "wall_s": round(wall, 1),
        "limit_held": wall <= limit * SLACK,
        "process_s": round(process_s, 1),
        "split": split["fingerprint"],
        "test_rows": split["sizes"]["test"],
    }


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("dataset", "seed", "time_limit_s", "tool", "test_score", "wall_s", "limit_held")
    shown = {key: row[key] for key in keys} | {"model": row.get("model", "")}
    return shown | {"reused": bool(row.get("reused"))}


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean test score and wall time per dataset, T and tool; how often the limit held."""
    frame = pd.DataFrame(rows)
    out = []
    for (dataset, limit, tool), group in frame.groupby(
        ["dataset", "time_limit_s", "tool"], sort=False
    ):
        out.append(
            {
                "dataset": dataset,
                "time_limit_s": limit,
                "tool": tool,
                "seeds": len(group),
                "mean_test_score": float(group.test_score.mean()),
                "std": float(group.test_score.std()) if len(group) > 1 else math.nan,
                "mean_wall_s": round(float(group.wall_s.mean()), 1),
                "limit_held": f"{sum(held is True for held in group.limit_held)} of {len(group)}",
            }
        )
    return out


def _paired(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """loopml minus each peer on the same splits, per dataset and T, with its interval."""
    frame = pd.DataFrame(rows).pivot_table(
        index=["dataset", "time_limit_s", "seed"], columns="tool", values="test_score"
    )
    if "loopml" not in frame:
        return []
    out = []
    for (dataset, limit), group in frame.groupby(level=["dataset", "time_limit_s"], sort=False):
        for peer in (tool for tool in TOOLS[1:] if tool in group):
            diff = (group["loopml"] - group[peer]).dropna().tolist()
            if not diff:
                continue
            paired = paired_interval(diff, peer)
            out.append(
                {
                    "dataset": dataset,
                    "time_limit_s": limit,
                    "peer": peer,
                    "seeds": len(diff),
                    "mean_loopml_minus_peer": paired["mean"],
                    "interval_95": paired["interval"],
                    "verdict": paired["verdict"],
                }
            )
    return out


def _best_peers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dataset and T, the peer with the best mean test score, and loopml's mean."""
    summary = pd.DataFrame(_summary(rows))
    out = []
    for (dataset, limit), group in summary.groupby(["dataset", "time_limit_s"], sort=False):
        peers = group[(group.tool != "loopml") & group.mean_test_score.notna()]
        if peers.empty:  # no peer, or every peer failed
            continue
        best = peers.loc[peers.mean_test_score.idxmax()]
        loopml = group[group.tool == "loopml"].mean_test_score
        out.append(
            {
                "dataset": dataset,
                "time_limit_s": limit,
                "best_peer": best.tool,
                "best_peer_mean": float(best.mean_test_score),
                "loopml_mean": float(loopml.iloc[0]) if len(loopml) else math.nan,
            }
        )
    return out


def _save(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    summary: list[dict[str, Any]],
    paired: list[dict[str, Any]],
    best: list[dict[str, Any]],
    cache: dict[str, dict[str, Any]],
    total: float,
) -> Path:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "benchmarks"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    payload = {
        "benchmark": "bench_quality",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit + ("+uncommitted" if dirty else ""),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": {
            "python": platform.python_version(),
            "cpus": len(os.sched_getaffinity(0)),
            "load_average_at_end": os.getloadavg(),
            "note": "a shared machine: when other work runs beside it, wall times and the "
            "number of trials in T are noisy, and so are the scores that depend on them",
        },
        "settings": {
            "time_limits_s": args.time_limits,
            "seeds": args.seeds,
            "datasets": args.datasets,
            "tools": args.tools,
            "n_jobs": args.n_jobs,
            "limit_held_means": f"wall_s <= time_limit_s x {SLACK}",
        },
        "whole_benchmark_s": round(total, 1),
        "rows": rows,
        "summary": summary,
        "paired": paired,
        "best_peer": best,
        "peer_cache": cache,
    }
    RESULTS.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(payload, indent=2, default=_plain))
    return RESULT


def _save_cache(cache: dict[str, dict[str, Any]]) -> None:
    """Write the peers' rows into the results JSON now, keeping what else it holds."""
    payload = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    RESULTS.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps({**payload, "peer_cache": cache}, indent=2, default=_plain))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


if __name__ == "__main__":
    main()
