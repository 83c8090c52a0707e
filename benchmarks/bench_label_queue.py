"""The labelling queue against random rows (issue 20): which 500 served rows to label.

Bike sharing (``../shared/data``, target ``cnt``, ``casual``/``registered`` ignored): a
LightGBM is trained by ``loopml run`` on 2011 only. The rows of 2012 are then served: every
other 2012 row (in time order) is written to the prediction log with the model's answer,
through the server's own log writer; the rows in between are the evaluation rows, never
served or labelled. Then:

- **queue**: ``loopml label-queue --max 500`` picks 500 served rows; they get their true
  ``cnt`` and the same configuration is retrained on 2011 plus them;
- **random**: 500 served rows drawn at random (``--seeds`` draws) get the same treatment;
- **none**: the 2011 model as it is.

Each arm's model is scored (R², RMSE) on the 2012 evaluation rows. Goal: the queue's model
beats the random rows' on average. Uses the Python API (``loopml.Project``).

Usage: ``.venv/bin/python benchmarks/bench_label_queue.py [--seeds 0 1 2] [--trials 5]
[--rows 500]``; prints a table, writes benchmarks/results/label_queue.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import mean_squared_error, r2_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import lightgbm_project, write_results
from tests.conftest import shared_file
from tests.integration.conftest import cli
from tests.integration.logged import write_frame

import loopml

IGNORED = ["casual", "registered", "instant"]


def scores(model: Any, rows: pd.DataFrame) -> dict[str, float]:
    predicted = np.asarray(model.predict(rows), dtype=float)
    truth = rows["cnt"].to_numpy(dtype=float)
    return {
        "r2": float(r2_score(truth, predicted)),
        "rmse": float(np.sqrt(mean_squared_error(truth, predicted))),
    }


def retrained(config: Path, folder: Path, train: pd.DataFrame, added: pd.DataFrame) -> Any:
    """The same configuration trained on ``train`` plus ``added`` (with their labels)."""
    data = folder / f"train-{abs(hash(tuple(added.index))) % 10**8}.csv"
    pd.concat([train, added], ignore_index=True).to_csv(data, index=False)
    project = loopml.Project.from_yaml(config, [f"data.source={data}"], progress=False)
    outcome = project.train(force=True)
    return loopml.load_model(
        f"runs:/{outcome.result.run_id}/model", tracking_uri=project.config.tracking.uri
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rows", type=int, default=500)
    args = parser.parse_args()
    frame = pd.read_csv(shared_file("bike_sharing_hour.csv"))
    frame = frame.sort_values(["dteday", "hr"], kind="stable").reset_index(drop=True)
    train = frame[frame["yr"] == 0].reset_index(drop=True)
    later = frame[frame["yr"] == 1].reset_index(drop=True)
    served, held = later.iloc[::2].reset_index(drop=True), later.iloc[1::2]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = lightgbm_project(folder, train, "cnt", args.trials, IGNORED)
        code, _, stderr = cli("run", "-c", str(config))
        assert code == 0, stderr
        cfg = loopml.Project.from_yaml(config, progress=False).config
        model = loopml.load_model(
            f"models:/{cfg.model_name}@champion", tracking_uri=cfg.tracking.uri
        )
        url = f"sqlite:///{folder / 'log.db'}"
        features = model.feature_names
        write_frame(url, served[features], model.predict(served), model=cfg.model_name, prefix="r")
        queue_file = folder / "queue.csv"
        settings = ["--set", f"serve.prediction_log.url={url}"]
        settings += ["--set", f"monitoring.window.rows={len(served)}"]
        code, _, stderr = cli(
            "label-queue", "-o", str(queue_file), "--max", str(args.rows), "-c", str(config),
            *settings,
        )  # fmt: skip
        assert code == 0, stderr
        queue = pd.read_csv(queue_file)
        picked = served.iloc[[int(r[1:]) for r in queue["request_id"]]]
        reasons = queue["reason"].str.split(":").str[0].value_counts().to_dict()
        results: dict[str, Any] = {"none": scores(model, held)}
        results["queue"] = scores(retrained(config, folder, train, picked), held)
        drawn = []
        for seed in args.seeds:
            chosen = served.sample(args.rows, random_state=seed)
            drawn.append(scores(retrained(config, folder, train, chosen), held))
        results["random"] = {key: statistics.mean(d[key] for d in drawn) for key in ("r2", "rmse")}
        results["random_draws"] = drawn
    print(f"queue reasons: {reasons}")
    print(f"{'arm':8} {'R2':>8} {'RMSE':>8}")
    for arm in ("none", "random", "queue"):
        print(f"{arm:8} {results[arm]['r2']:8.4f} {results[arm]['rmse']:8.2f}")
    for i, d in enumerate(drawn):
        print(f"  random draw {args.seeds[i]}: R2 {d['r2']:.4f}, RMSE {d['rmse']:.2f}")
    summary = {
        "served_rows": len(served),
        "evaluation_rows": len(held),
        "labelled": args.rows,
        "queue_reasons": reasons,
        **results,
        "queue_minus_random_r2": results["queue"]["r2"] - results["random"]["r2"],
    }
    print(write_results("label_queue", summary))


if __name__ == "__main__":
    main()
