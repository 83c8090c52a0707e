"""One single-row `/invocations` request through loopml's ASGI app, in process.

No socket, no HTTP client, micro-batching off: what the app itself spends per request
(routing, authentication, parsing every value through the data contract, the model call,
the response). A before/after tool: run it with each checkout's own interpreter on a
folder of its own and compare the figures (the baseline is the other commit, e.g.

    .venv/bin/python benchmarks/bench_serving_inprocess.py /tmp/after after
    ../before/.venv/bin/python benchmarks/bench_serving_inprocess.py /tmp/before before

). Prints the best and the median of 7 rounds of 1,000 requests, in microseconds.
"""

import asyncio
import statistics
import sys
import time
from pathlib import Path

import orjson
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import train_random_forest

from loopml.config import load_config
from loopml.serving.app import create_app
from loopml.tracking.models import load_with_compiled

folder = Path(sys.argv[1])
folder.mkdir(parents=True, exist_ok=True)
config = folder / "loopml.yaml"
if not config.exists():
    train_random_forest(folder)
cfg = load_config(config)
loaded = load_with_compiled(f"models:/{cfg.model_name}@champion", tracking_uri=cfg.tracking.uri)
settings = cfg.serve.model_copy(deep=True)
settings.batching.enabled = False  # one request at a time: no batching wait
app = create_app(loaded, settings, project=cfg)
row = pd.read_csv(folder / "data" / "score_me.csv").iloc[:1]
body = orjson.dumps(
    {"dataframe_split": {"columns": list(row.columns), "data": row.values.tolist()}}
)


async def call():
    sent = {"done": False}

    async def receive():
        if sent["done"]:
            await asyncio.sleep(3600)
        sent["done"] = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = []

    async def send(msg):
        if msg["type"] == "http.response.start":
            status.append(msg["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/invocations",
        "raw_path": b"/invocations",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"x")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "root_path": "",
        "state": {},
    }
    await app(scope, receive, send)
    assert status[0] == 200, status


async def main():
    async with app.router.lifespan_context(app):
        for _ in range(300):
            await call()
        results = []
        for _round in range(7):
            n = 1000
            t = time.perf_counter()
            for _ in range(n):
                await call()
            results.append((time.perf_counter() - t) / n * 1e6)
        print(
            f"{sys.argv[2]}: per request, microseconds: best {min(results):.1f}, "
            f"median {statistics.median(results):.1f}"
        )


asyncio.run(main())
