"""Label issues and the cleaned data variant, on labels corrupted on purpose (issue 20).

For each dataset of ``../shared/data`` and seed: 5% of the rows get a wrong label (a
classifier: another class at random; a regressor: the target moved by 2-4 standard
deviations), then, through the real CLI on a fresh project:

1. ``loopml run`` (LightGBM only, ``--trials`` per candidate: the same for every arm);
2. ``loopml data issues -o issues.csv``: precision at k (k = rows corrupted: the share of
   the first k that are corrupted) and recall in the first 2k, against a random ranking
   (expected precision = recall share = 5% and 10%);
3. ``loopml run --data-variant clean`` (``exclude_rows: issues.csv``): its test score
   against the noisy run's, on the same test rows (the variant's promise), with a 95%
   paired bootstrap interval of the difference (2,000 resamples of the test rows).

For classification, loopml's ranking *is* cleanlab's ``find_label_issues`` ranked by
self-confidence on out-of-fold probabilities (plus exact and near duplicates), so
"against cleanlab's own" is the same ranking; the random ranking is the baseline.

Usage: ``.venv/bin/python benchmarks/bench_label_issues.py [--seeds 0 1 2] [--datasets
titanic mwml bike] [--trials 5]``; prints a table, writes benchmarks/results/label_issues.json.
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
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import lightgbm_project, write_results
from tests.conftest import shared_file
from tests.integration.conftest import cli

DATASETS: dict[str, dict[str, Any]] = {
    "titanic": {"file": "titanic_train.csv", "target": "Survived", "drop": []},
    "mwml": {"file": "madewithml_dataset.csv", "target": "tag", "drop": []},
    "bike": {"file": "bike_sharing_hour.csv", "target": "cnt", "drop": ["casual", "registered"]},
}
SHARE = 0.05


def corrupt(frame: pd.DataFrame, target: str, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``frame`` with ``SHARE`` of its labels made wrong, and which rows."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(frame), size=int(SHARE * len(frame)), replace=False))
    values = frame[target].to_numpy().copy()
    if pd.api.types.is_float_dtype(values) or frame[target].nunique() > 20:
        spread = float(np.std(values))
        moves = rng.uniform(2, 4, len(rows)) * spread * rng.choice([-1, 1], len(rows))
        values = values.astype(float)
        values[rows] = np.abs(values[rows] + moves)  # counts stay positive
    else:
        classes = np.unique(values)
        for i in rows:
            values[i] = rng.choice(classes[classes != values[i]])
    out = frame.copy()
    out[target] = values
    return out, rows


def project(folder: Path, frame: pd.DataFrame, spec: dict[str, Any], trials: int) -> Path:
    config = lightgbm_project(folder, frame, spec["target"], trials, spec["drop"])
    body = yaml.safe_load(config.read_text())
    body["data"]["variants"] = {"clean": {"exclude_rows": "issues.csv"}}
    config.write_text(yaml.safe_dump(body))
    return config


def test_scores(config: Path, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Per test row, the noisy and the clean model's loss (0/1 error or squared error)."""
    import mlflow

    from loopml.config import load_config
    from loopml.tracking.models import load
    from loopml.tracking.store import Tracker
    from loopml.workflows.events import SilentReporter
    from loopml.workflows.prepare import prepare

    cfg = load_config(config, [f"split.seed={seed}"])  # the split both runs used
    tracker = Tracker(cfg.tracking, cfg.experiment_name, cfg.model_name)
    runs = tracker.client.search_runs(
        [tracker.experiment_id(create=False)], "tags.`loopml.kind` = 'training'"
    )
    by_variant = {r.data.tags.get("loopml.data_variant", ""): r.info.run_id for r in runs}
    test = prepare(cfg, SilentReporter()).splits.test
    losses = []
    for variant in ("", "clean"):
        model = load(f"runs:/{by_variant[variant]}/model", tracking_uri=cfg.tracking.uri)
        predicted = model.predict(test)
        truth = test[cfg.data.target].to_numpy()
        if model.task == "classification":
            losses.append((np.asarray(predicted).astype(str) != truth.astype(str)).astype(float))
        else:
            losses.append((np.asarray(predicted, float) - truth.astype(float)) ** 2)
    mlflow.end_run()
    return losses[0], losses[1], "error rate" if model.task == "classification" else "MSE"


def paired_interval(noisy: np.ndarray, clean: np.ndarray, seed: int) -> tuple[float, float, float]:
    """Mean of noisy - clean loss (positive: the clean variant is better) and its 95%
    percentile bootstrap interval over the test rows."""
    rng = np.random.default_rng(seed)
    gap = noisy - clean
    picks = rng.integers(0, len(gap), size=(2000, len(gap)))
    means = gap[picks].mean(axis=1)
    return float(gap.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def one(name: str, seed: int, trials: int) -> dict[str, Any]:
    spec = DATASETS[name]
    frame = pd.read_csv(shared_file(spec["file"]))
    noisy, rows = corrupt(frame, spec["target"], seed)
    with tempfile.TemporaryDirectory() as folder:
        config = project(Path(folder), noisy, spec, trials)
        code, _, stderr = cli("run", "-c", str(config), "--set", f"split.seed={seed}")
        assert code == 0, stderr
        issues = Path(folder) / "issues.csv"
        code, _, stderr = cli("data", "issues", "-o", str(issues), "-c", str(config))
        assert code == 0, stderr
        ranked = pd.read_csv(issues)
        ranked = ranked[~ranked["reason"].str.startswith("outlier:")]["row"].to_numpy()
        k = len(rows)
        precision = len(set(ranked[:k]) & set(rows)) / k
        recall = len(set(ranked[: 2 * k]) & set(rows)) / k
        code, _, stderr = cli(
            "run", "-c", str(config), "--set", f"split.seed={seed}", "--data-variant", "clean"
        )
        assert code == 0, stderr
        noisy_loss, clean_loss, loss = test_scores(config, seed)
    gain, low, high = paired_interval(noisy_loss, clean_loss, seed)
    return {
        "dataset": name,
        "seed": seed,
        "rows": len(frame),
        "corrupted": k,
        "listed": len(ranked),
        "precision_at_k": precision,
        "recall_at_2k": recall,
        "random_precision_at_k": SHARE,
        "random_recall_at_2k": 2 * k / len(frame),
        "loss": loss,
        "noisy_test_loss": float(noisy_loss.mean()),
        "clean_test_loss": float(clean_loss.mean()),
        "gain": gain,
        "gain_95": [low, high],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    results = []
    print(f"{'dataset':8} {'seed':>4} {'P@k':>6} {'R@2k':>6} {'loss':>10} "
          f"{'noisy':>10} {'clean':>10} {'gain [95%]':>28}")  # fmt: skip
    for name in args.datasets:
        for seed in args.seeds:
            found = one(name, seed, args.trials)
            results.append(found)
            low, high = found["gain_95"]
            print(
                f"{name:8} {seed:>4} {found['precision_at_k']:6.3f} {found['recall_at_2k']:6.3f} "
                f"{found['loss']:>10} {found['noisy_test_loss']:10.4g} "
                f"{found['clean_test_loss']:10.4g} {found['gain']:+10.4g} "
                f"[{low:+.4g}, {high:+.4g}]",
                flush=True,
            )
    summary = {
        name: {
            "precision_at_k": statistics.mean(r["precision_at_k"] for r in mine),
            "recall_at_2k": statistics.mean(r["recall_at_2k"] for r in mine),
        }
        for name in args.datasets
        if (mine := [r for r in results if r["dataset"] == name])
    }
    print(summary)
    print(write_results("label_issues", {"runs": results, "mean": summary}))


if __name__ == "__main__":
    main()
