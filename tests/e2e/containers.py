"""Helpers of the container tests: waiting for a service, and rows for /invocations."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx


def healthy(url: str) -> bool:
    """``url`` answers 200 now."""
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def wait_until(check: Callable[[], bool], what: str, seconds: float = 180) -> None:
    """Poll ``check`` every 2 s until it holds; TimeoutError naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(2)
    raise TimeoutError(f"{what} within {seconds:.0f} s")


def check_served(served: str, project: Path) -> None:
    """The model server at ``served`` scores 3 rows of the project's score_me.csv and counts
    the request in its /metrics."""
    rows = (project / "data" / "score_me.csv").read_text().splitlines()
    body = {"dataframe_split": dataframe_split(rows[:4])}
    answer = httpx.post(f"{served}/invocations", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 3
    metrics = httpx.get(f"{served}/metrics", timeout=10).text
    assert 'loopml_requests_total{endpoint="invocations",status="200"}' in metrics


def dataframe_split(lines: list[str]) -> dict[str, object]:
    """CSV lines (header first) of numbers as the `dataframe_split` body of /invocations."""
    columns = lines[0].split(",")
    data = [[_number(value) for value in line.split(",")] for line in lines[1:]]
    return {"columns": columns, "data": data}


def _number(text: str) -> int | float:
    return int(text) if text.isdigit() else float(text)
