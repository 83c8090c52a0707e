"""The paired interval of bench_quality.py (benchmarks/_paired.py; the benchmark is no test)."""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("_paired")


def test_the_interval_is_students_from_the_table(bench: ModuleType) -> None:
    # n = 3, mean 0.02, s = 0.01: half-width t(0.975, 2) * 0.01 / sqrt(3), t = 4.303 (table)
    paired = bench.paired_interval([0.01, 0.03, 0.02], "flaml")
    low, high = paired["interval"]
    assert paired["mean"] == pytest.approx(0.02)
    assert high - 0.02 == pytest.approx(4.303 * 0.01 / math.sqrt(3), rel=1e-3)
    assert 0.02 - low == pytest.approx(high - 0.02)
    assert paired["verdict"] == "no clear difference"  # low = -0.0048 < 0


def test_the_verdict_names_who_is_ahead_only_when_0_is_outside(bench: ModuleType) -> None:
    assert bench.paired_interval([0.05, 0.06, 0.04], "flaml")["verdict"] == "loopml ahead"
    assert bench.paired_interval([-0.05, -0.06, -0.04], "autogluon")["verdict"] == (
        "autogluon ahead"
    )


def test_one_seed_gives_no_interval(bench: ModuleType) -> None:
    paired = bench.paired_interval([0.03], "flaml")
    assert paired["mean"] == pytest.approx(0.03)
    assert all(math.isnan(bound) for bound in paired["interval"])
    assert paired["verdict"] == "one seed: no interval"
