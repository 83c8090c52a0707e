"""Batch scoring of a 1M-row Parquet file vs the compiled model on the in-memory array.

Baseline: the same compiled model (ONNX Runtime, same thread settings) called once on the
whole 1M-row array already in memory (reading and preparing it is not timed). loopml:
`loopml predict` (the workflow, `predict_file`) streaming the Parquet file in chunks of
`batch.chunk_rows` and writing a Parquet output. Each runs in its own process, so peak
memory (max RSS) is measured separately.

    .venv/bin/python benchmarks/bench_batch.py [--rows 1000000]

Prints a table and writes benchmarks/results/batch.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from common import train_random_forest  # noqa: E402

MAKE_DATA = """
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq, sys
source = pd.read_csv(sys.argv[1]).drop(columns=["diagnosis"])
rows, out = int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
writer = None
for start in range(0, rows, 100_000):
    n = min(100_000, rows - start)
    part = source.iloc[rng.integers(0, len(source), n)].reset_index(drop=True)
    numbers = part.columns.drop("patient_id")
    part[numbers] = part[numbers] * rng.normal(1, 0.01, (n, len(numbers)))
    part["patient_id"] = np.arange(start, start + n)
    table = pa.Table.from_pandas(part, preserve_index=False)
    writer = writer or pq.ParquetWriter(out, table.schema)
    writer.write_table(table)
writer.close()
"""

BASELINE = """
import json, resource, sys, time
import pyarrow.parquet as pq
from loopml.config import load_config
from loopml.core.compile import OnnxPredictor
from loopml.tracking.models import load_with_compiled
cfg = load_config(__import__("pathlib").Path(sys.argv[1]))
loaded = load_with_compiled(f"models:/{cfg.model_name}@champion", tracking_uri=cfg.tracking.uri)
model, compiled = loaded.model, loaded.compiled
predictor = OnnxPredictor(compiled.onnx, compiled.inputs, model.task, list(model.classes))
frame = model.conform(pq.read_table(sys.argv[2]).to_pandas())
feeds = predictor.feeds({spec.name: frame[spec.name].to_numpy() for spec in compiled.inputs})
started = time.perf_counter()
predictor.run(feeds)
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": len(frame), "seconds": elapsed, "peak_mib": peak}))
"""

LOOPML = """
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
from loopml.config import load_config
from loopml.tracking.models import load_with_compiled
from loopml.workflows.predict import predict_file
cfg = load_config(Path(sys.argv[1]))
load_with_compiled(f"models:/{cfg.model_name}@champion", tracking_uri=cfg.tracking.uri)
startup = time.perf_counter() - started  # imports and a first model load: not timed below
started = time.perf_counter()
result = predict_file(cfg, Path(sys.argv[2]), Path(sys.argv[3]))
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
summary = {"rows": result.rows, "seconds": elapsed, "engine": result.engine, "peak_mib": peak,
           "startup_s": startup}
print(json.dumps(summary))
"""


def child(code: str, *args: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; return its JSON line (peak memory in MiB included)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # ru_maxrss: KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        config = train_random_forest(Path(tmp) / "project")
        data = Path(tmp) / "big.parquet"
        csv = str(config.parent / "data" / "breast_cancer.csv")
        subprocess.run(
            [sys.executable, "-c", MAKE_DATA, csv, str(args.rows), str(data)], check=True
        )
        loopml = child(LOOPML, str(config), str(data), str(Path(tmp) / "out.parquet"))
        baseline = child(BASELINE, str(config), str(data))
    report(args.rows, baseline, loopml)


def report(rows: int, baseline: dict[str, float], loopml: dict[str, float]) -> None:
    base_rate = baseline["rows"] / baseline["seconds"]
    rate = loopml["rows"] / loopml["seconds"]
    print(f"{'':28} {'rows/s':>12} {'seconds':>8} {'peak MiB':>9}")
    print(
        f"{'compiled model, in memory':28} {base_rate:>12,.0f} {baseline['seconds']:>8.2f} "
        f"{baseline['peak_mib']:>9.0f}"
    )
    print(
        f"{'loopml predict (streamed)':28} {rate:>12,.0f} {loopml['seconds']:>8.2f} "
        f"{loopml['peak_mib']:>9.0f}"
    )
    print(
        f"ratio {rate / base_rate:.2f}x of the in-memory rate; engine {loopml['engine']}; "
        f"start-up (imports, first model load) {loopml['startup_s']:.1f} s, not in the rate"
    )
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    summary = {"rows": rows, "baseline": baseline, "loopml": loopml, "ratio": rate / base_rate}
    (out / "batch.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out / 'batch.json'}")


if __name__ == "__main__":
    main()
