"""The Starlette floor for bench_serving.py: the same uvicorn, parsing the same body (orjson)
and answering a fixed prediction. Nothing a model server can go below.

    python benchmarks/_floor_app.py PORT
"""

from __future__ import annotations

import sys

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = orjson.dumps({"predictions": ["benign"]})


async def invocations(request: Request) -> Response:
    payload = orjson.loads(await request.body())
    if not isinstance(payload, dict):
        return Response(b'{"error":"bad body"}', status_code=400)
    return Response(ANSWER, media_type="application/json")


async def ping(request: Request) -> Response:
    return Response(b"\n", media_type="application/json")


app = Starlette(routes=[Route("/invocations", invocations, methods=["POST"]), Route("/ping", ping)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
