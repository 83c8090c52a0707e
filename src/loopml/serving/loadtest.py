"""`loopml loadtest URL`: a bounded load generator (loopback by default).

N concurrent clients send requests until ``requests`` are done or ``duration_s`` has
passed, whichever is first, then report throughput, latency percentiles and errors.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import socket
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import orjson

from loopml.errors import ConfigError, DataError


@dataclass(frozen=True)
class LoadResult:
    url: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_target(url: str, allow_remote: bool) -> None:
    """Refuse anything but a loopback address unless ``allow_remote``."""
    host = urlparse(url).hostname
    if not host or urlparse(url).scheme not in ("http", "https"):
        raise ConfigError(f"{url}: not an http(s) URL; e.g. http://127.0.0.1:8000/predict")
    if allow_remote:
        return
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        raise ConfigError(f"{url}: cannot resolve host {host!r}") from None
    if not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise ConfigError(
            f"{url}: {host} is not a loopback address; pass --allow-remote to load-test it"
        )


def bodies_from_csv(path: Path, url: str, rows: int = 1000) -> list[bytes]:
    """One single-row JSON body per CSV row, shaped for the URL's protocol.

    The cells are sent as written in the file (its dialect detected): the server reads
    them through the model's data contract, as it reads rows at training."""
    from loopml.core.data import dialect, ingest

    if not path.is_file():
        raise DataError(f"{path}: no such file; pass a CSV of rows to send")
    frame = ingest.read_csv_text(str(path), dialect.detect(str(path)), nrows=rows)
    if frame.empty:
        raise DataError(f"{path}: no rows to send")
    records = frame.astype(object).where(frame != "", None).to_dict("records")
    route = urlparse(url).path
    if route.endswith("/invocations"):
        columns = list(frame.columns)
        return [
            orjson.dumps({"dataframe_split": {"columns": columns, "data": [list(r.values())]}})
            for r in records
        ]
    if route.endswith("/infer"):
        return [
            orjson.dumps(
                {
                    "inputs": [
                        {"name": k, "shape": [1], "datatype": _oip_type(v), "data": [v]}
                        for k, v in r.items()
                    ]
                }
            )
            for r in records
        ]
    return [orjson.dumps({"records": [r]}) for r in records]


def _oip_type(value: Any) -> str:
    return "FP64" if isinstance(value, int | float) and not isinstance(value, bool) else "BYTES"


async def run_load(
    url: str,
    bodies: list[bytes],
    *,
    concurrency: int = 8,
    requests: int = 2000,
    duration_s: float = 30.0,
    headers: dict[str, str] | None = None,
    timeout_s: float = 10.0,
) -> LoadResult:
    """Send ``bodies`` (cycled) from ``concurrency`` clients; stop at ``requests`` or time."""
    import aiohttp

    if not bodies:
        raise DataError("no request bodies to send")
    send_headers = {"content-type": "application/json", **(headers or {})}
    tally = _Tally()
    ticket = itertools.count()
    deadline = time.perf_counter() + duration_s
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            while time.perf_counter() < deadline and (n := next(ticket)) < requests:
                await _one(session, url, bodies[n % len(bodies)], send_headers, tally)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return _result(url, concurrency, tally.latencies, tally.statuses, elapsed, tally.errors)


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


async def _one(session: Any, url: str, body: bytes, headers: dict[str, str], tally: _Tally) -> None:
    import aiohttp

    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            text = await response.read()
            status = str(response.status)
            if response.status >= 400 and not tally.errors:
                tally.errors.append(f"HTTP {status}: {text[:200].decode(errors='replace')}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        status = type(exc).__name__
        tally.errors.append(f"{status}: {exc}")
    tally.latencies.append(time.perf_counter() - started)
    tally.statuses[status] += 1


def _result(
    url: str,
    concurrency: int,
    latencies: list[float],
    statuses: Counter[str],
    elapsed: float,
    errors: list[str],
) -> LoadResult:
    done = len(latencies)
    ms = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    failed = sum(n for s, n in statuses.items() if not (s.isdigit() and int(s) < 400))
    return LoadResult(
        url=url,
        concurrency=concurrency,
        requests=done,
        errors=failed,
        seconds=round(elapsed, 3),
        requests_per_s=round(done / elapsed, 1) if elapsed > 0 else 0.0,
        p50_ms=round(float(np.percentile(ms, 50)), 3),
        p95_ms=round(float(np.percentile(ms, 95)), 3),
        p99_ms=round(float(np.percentile(ms, 99)), 3),
        max_ms=round(float(ms.max()), 3),
        statuses=dict(statuses),
        first_error=errors[0] if errors else None,
    )
