"""The peers of bench_quality.py, run in their own virtualenv (``make bench-peers``).

AutoGluon 1.6 needs pandas < 2.4 and loopml's lock has pandas 3, so FLAML and AutoGluon
run here, in ``benchmarks/.venv-peers``, as a subprocess of bench_quality.py; this file
imports nothing of loopml.

Protocol: ``python _peers.py REQUEST.json``. The request names the tool (``flaml`` or
``autogluon``), three CSV files written by bench_quality.py from loopml's own split
(``train`` and ``validation`` with the target, ``test`` without it), the target, the task
(``classification`` or ``regression``), loopml's metric name, the datetime columns, the
time limit in seconds, ``n_jobs``, the seed and the path of the answer. The answer is a
JSON file: the test predictions in the test file's row order, ``fit_s`` (wall seconds of
the tool's fit call, the call the time limit applies to), the model the tool picked and
the versions used. Scoring is done by bench_quality.py, with loopml's metric function, so
every tool is scored by the same code on the same rows.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

# loopml's metric name -> each tool's name for the same metric
FLAML_METRICS = {"accuracy": "accuracy", "r2": "r2", "f1_macro": "macro_f1"}
AUTOGLUON_METRICS = {"accuracy": "accuracy", "r2": "r2", "f1_macro": "f1_macro"}


def main() -> None:
    request = json.loads(Path(sys.argv[1]).read_text())
    parts = {name: _read(request[name], request["datetime"]) for name in ("train", "validation")}
    test = _read(request["test"], request["datetime"])
    run = {"flaml": _flaml, "autogluon": _autogluon}[request["tool"]]
    answer = run(request, parts["train"], parts["validation"], test)
    Path(request["output"]).write_text(json.dumps(answer, default=str))


def _read(path: str, dates: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(path, low_memory=False)
    for column in dates:
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _flaml(
    request: dict[str, Any], train: pd.DataFrame, validation: pd.DataFrame, test: pd.DataFrame
) -> dict[str, Any]:
    """FLAML's AutoML: ``time_budget`` = the limit, the validation rows as ``X_val``."""
    import flaml
    from flaml import AutoML

    target = request["target"]
    x_train, x_val, x_test = (
        _categories(frame.drop(columns=[target], errors="ignore"))
        for frame in (train, validation, test)
    )
    automl = AutoML()
    started = time.perf_counter()
    automl.fit(
        x_train,
        train[target],
        X_val=x_val,
        y_val=validation[target],
        task=request["task"],
        metric=FLAML_METRICS[request["metric"]],
        time_budget=request["time_limit"],
        n_jobs=request["n_jobs"],
        seed=request["seed"],
        verbose=0,
    )
    fit_s = time.perf_counter() - started
    return {
        "predictions": automl.predict(x_test).tolist(),
        "fit_s": fit_s,
        "model": str(automl.best_estimator),
        "versions": {"flaml": flaml.__version__, "pandas": pd.__version__},
    }


def _categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Text and categories as pandas categories (FLAML's way for string columns)."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].astype("category")
    return frame


def _autogluon(
    request: dict[str, Any], train: pd.DataFrame, validation: pd.DataFrame, test: pd.DataFrame
) -> dict[str, Any]:
    """AutoGluon's TabularPredictor, ``presets="medium_quality"``, the validation rows as
    ``tuning_data``; its models go to a temporary folder removed afterwards."""
    import autogluon.tabular
    from autogluon.tabular import TabularPredictor

    target = request["target"]
    problem = "regression"
    if request["task"] == "classification":
        problem = "binary" if train[target].nunique() == 2 else "multiclass"
    folder = tempfile.mkdtemp(prefix="bench-quality-autogluon-")
    try:
        predictor = TabularPredictor(
            label=target,
            problem_type=problem,
            eval_metric=AUTOGLUON_METRICS[request["metric"]],
            path=folder,
            verbosity=0,
        )
        started = time.perf_counter()
        predictor.fit(
            train,
            tuning_data=validation,
            time_limit=request["time_limit"],
            presets="medium_quality",
            num_cpus=request["n_jobs"],
            num_gpus=0,
        )
        fit_s = time.perf_counter() - started
        predictions = predictor.predict(test.drop(columns=[target], errors="ignore"))
        model = str(predictor.model_best)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "predictions": predictions.tolist(),
        "fit_s": fit_s,
        "model": model,
        "versions": {"autogluon.tabular": autogluon.tabular.__version__, "pandas": pd.__version__},
    }


if __name__ == "__main__":
    main()
