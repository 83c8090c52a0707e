"""Character n-grams beside word TF-IDF (issue 18): word-only against word+char features.

Baseline: each text column as word TF-IDF only (``build_preprocessor(roles,
char_ngrams=False)``), the preprocessing before issue 18. The other arm adds the character
2-5 grams inside words (``char_ngrams=True``, now the default of every catalog model but the
boosters, ``CatalogModel.char_ngrams``; LightGBM is measured with them here all the same, to
show what they would give it). Both arms fit the same
catalog model with its default parameters (no search: the features are what differs) on the
training split and are scored on the validation and test splits together (rows it did not
see), for each split seed; the difference (word+char minus word-only) is paired by dataset,
model and seed, with its Student t-interval over seeds.

Datasets (../shared/data):

- ``madewithml``: ``tag`` (4 classes) from ``title`` and ``description``, macro F1.
- ``titles``: the same rows from ``title`` alone (short texts), macro F1.
- ``titanic``: ``Survived`` with ``Name`` as text beside numbers and categories, accuracy
  (a control: a text column that is not the signal).

Also per arm: the size of the fitted pipeline as MLflow stores it (skops bytes) and of its
ONNX graph, µs per row natively (``predict_proba`` on the held-out rows, batch) and
compiled (ONNX Runtime, one thread: the held-out rows as one batch, and one row at a time),
and whether the compiled graph passed loopml's parity check.

Usage: python benchmarks/bench_text_features.py [--seeds 0 1 2 3 4]
       [--datasets madewithml titles titanic] [--models logistic_regression naive_bayes lightgbm]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io
from _paired import paired_interval
from _tuning_common import DATASETS, save, table, write_project
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline

from loopml.config import load_config
from loopml.core import models
from loopml.core.compile import OnnxPredictor, compile_pipeline
from loopml.core.features import build_preprocessor
from loopml.core.scoring import column_specs
from loopml.workflows.events import SilentReporter
from loopml.workflows.prepare import prepare

MWML = "madewithml_dataset.csv"
DATASETS.update(
    {
        "madewithml": {
            "source": MWML,
            "target": "tag",
            "columns": {"text": ["title", "description"], "ignore": ["id", "created_on"]},
            "metric": "f1_macro",
        },
        "titles": {
            "source": MWML,
            "target": "tag",
            "columns": {"text": ["title"], "ignore": ["id", "created_on", "description"]},
            "metric": "f1_macro",
        },
    }
)
ARMS = (("words", False), ("words+chars", True))  # the first is the baseline
SINGLE_ROWS = 100  # one-row calls timed per arm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["madewithml", "titles", "titanic"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--models", nargs="+", default=["logistic_regression", "naive_bayes", "lightgbm"]
    )
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets:
        for seed in args.seeds:
            data = _prepared(dataset, seed)
            for name in args.models:
                if name == "naive_bayes" and data.roles.numeric:
                    continue  # ComplementNB takes no negative (scaled) numbers
                for arm, chars in ARMS:
                    row = _arm(data, DATASETS[dataset]["metric"], name, chars, seed)
                    rows.append(
                        {"dataset": dataset, "model": name, "seed": seed, "arm": arm, **row}
                    )
                    print(table(rows[-1:]), flush=True)
    summary = _summary(rows)
    print()
    print(table(summary))
    path = save("bench_text_features", {"args": vars(args), "rows": rows, "summary": summary})
    print(f"\nwrote {path}")


def _prepared(dataset: str, seed: int) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        cfg = load_config(write_project(Path(folder), dataset, {}, seed))
        return prepare(cfg, SilentReporter())


def _arm(data: Any, metric: str, name: str, chars: bool, seed: int) -> dict[str, Any]:
    features = list(data.roles.features)
    X, y = data.splits.train[features], data.splits.train[data.target]
    estimator = models.make_estimator(name, {}, data.task, seed)
    pipeline = Pipeline(
        [("features", build_preprocessor(data.roles, char_ngrams=chars)), ("model", estimator)]
    )
    started = time.perf_counter()
    pipeline.fit(X, y)
    fit_seconds = time.perf_counter() - started
    held = pd.concat([data.splits.validation, data.splits.test], ignore_index=True)
    rows, truth = held[features], held[data.target]
    predicted = pipeline.predict(rows)
    score = (
        f1_score(truth, predicted, average="macro")
        if metric == "f1_macro"
        else accuracy_score(truth, predicted)
    )
    native_us = _best_of(lambda: pipeline.predict_proba(rows)) / len(rows) * 1e6
    columns = column_specs(data.roles)
    compiled, report = compile_pipeline(pipeline, columns, data.task, list(pipeline.classes_), held)
    out: dict[str, Any] = {
        "score": float(score),
        "features": int(pipeline.named_steps["features"].transform(rows.iloc[:1]).shape[1]),
        "skops_kb": len(skops.io.dumps(pipeline)) / 1024,
        "fit_s": fit_seconds,
        "native_us_row": native_us,
        "parity": report.ok,
    }
    if compiled is not None:
        out.update(_compiled_speed(compiled, data.task, list(pipeline.classes_), rows))
    return out


def _feeds(predictor: OnnxPredictor, rows: pd.DataFrame) -> dict[str, Any]:
    """The session's feeds of ``rows``, made outside the timed call."""
    return predictor.feeds({spec.name: rows[spec.name].to_numpy() for spec in predictor.inputs})


def _compiled_speed(
    compiled: Any, task: Any, classes: list[Any], rows: pd.DataFrame
) -> dict[str, Any]:
    predictor = OnnxPredictor(compiled.onnx, compiled.inputs, task, classes)
    feeds = _feeds(predictor, rows)
    batch_us = _best_of(lambda: predictor.run(feeds)) / len(rows) * 1e6
    singles = [_feeds(predictor, rows.iloc[i : i + 1]) for i in range(SINGLE_ROWS)]
    timings = []
    for feed in singles:
        started = time.perf_counter()
        predictor.run(feed)
        timings.append((time.perf_counter() - started) * 1e6)
    return {
        "onnx_kb": len(compiled.onnx) / 1024,
        "onnx_batch_us_row": batch_us,
        "onnx_one_row_us": statistics.median(timings),
    }


def _best_of(call: Any, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dataset and model: the mean score of each arm, the paired difference and its
    interval, and the ratios of word+char to word-only (size, µs per row)."""
    frame = pd.DataFrame(rows)
    base_arm, new_arm = ARMS[0][0], ARMS[1][0]
    lines = []
    for (dataset, name), part in frame.groupby(["dataset", "model"], sort=False):
        base = part[part["arm"] == base_arm].set_index("seed")
        new = part[part["arm"] == new_arm].set_index("seed")
        differences = (new["score"] - base["score"]).dropna().tolist()
        paired = paired_interval(differences, base_arm)
        line: dict[str, Any] = {
            "dataset": dataset,
            "model": name,
            "seeds": len(differences),
            base_arm: float(base["score"].mean()),
            new_arm: float(new["score"].mean()),
            "difference": paired["mean"],
            "low": paired["interval"][0],
            "high": paired["interval"][1],
            "verdict": paired["verdict"].replace("loopml", new_arm),
        }
        for measure in ("skops_kb", "fit_s", "native_us_row", "onnx_kb", "onnx_one_row_us"):
            if measure in new and measure in base:
                line[f"{measure} x"] = float(np.median(new[measure] / base[measure]))
        line["parity"] = bool(part["parity"].all())
        lines.append(line)
    return lines


if __name__ == "__main__":
    main()
