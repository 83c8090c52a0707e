"""Drift statistics are registry entries: every consumer follows ``DISTANCES`` and ``TESTS``."""

from __future__ import annotations

import typing

import numpy as np
import pandas as pd
import pytest

from loopml.config import DriftConfig
from loopml.core import drift
from loopml.core.data.roles import ColumnRoles
from loopml.core.reference import build_profile
from loopml.reports.monitor import render


def _report() -> drift.DriftReport:
    rng = np.random.default_rng(3)

    def frame(shift: float) -> pd.DataFrame:
        x = rng.normal(shift, 1, 600)
        x[rng.random(600) < 0.05 + 0.1 * shift] = np.nan
        colours = rng.choice(["red", "blue"], 600, p=[0.5 + 0.3 * shift, 0.5 - 0.3 * shift])
        return pd.DataFrame({"x": x, "colour": colours, "y": rng.normal(size=600)})

    roles = ColumnRoles(numeric=("x",), categorical=("colour",))
    profile = build_profile(frame(0), roles, task="regression", target="y")
    return drift.compare(profile, frame(1), DriftConfig())


def test_every_kind_of_bins_has_exactly_one_test() -> None:
    for shape in drift.SHAPES:
        assert shape in drift.judging_test(shape).applies_to
    with pytest.raises(LookupError, match="0 drift tests apply to dates bins"):
        drift.judging_test("dates")


def test_the_configurable_methods_are_the_registered_distances() -> None:
    methods = set(typing.get_args(DriftConfig.model_fields["method"].annotation))
    assert methods == {"auto", "test", *drift.DISTANCES}  # a new distance: add it to config
    for d in drift.DISTANCES.values():
        assert d.threshold in DriftConfig.model_fields


def test_a_new_distance_is_one_entry_and_reaches_json_and_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def hellinger(reference: np.ndarray, current: np.ndarray) -> float:
        p, q = reference / reference.sum(), current / current.sum()
        return float(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)))

    entry = drift.DriftDistance(
        "hellinger",
        "Hellinger",
        "H",
        frozenset(drift.SHAPES),
        hellinger,
        threshold="threshold",
        higher_is_drift=True,
        logged=False,
        on_dashboard=False,
        source="Hellinger distance",
    )
    monkeypatch.setitem(drift.DISTANCES, "hellinger", entry)
    found = _report()
    feature = found.as_dict()["features"][0]
    assert list(feature)[7:10] == ["psi", "jensen_shannon", "hellinger"]
    assert 0 < feature["hellinger"] < 1
    meta = {"model": "m", "created": "now", "source": "s", "uri": "u", "run_id": "r"}
    page = render(found, None, meta, "alert")
    assert "<th>Jensen-Shannon</th><th>Hellinger</th><th>missing" in page


def test_a_distance_flags_by_its_direction() -> None:
    settings = DriftConfig(method="psi", threshold=0.2)
    assert drift.DISTANCES["psi"].reaches(0.2, settings)
    assert not drift.DISTANCES["psi"].reaches(0.19, settings)
    lower = drift.DriftDistance(
        "overlap",
        "overlap",
        "OV",
        frozenset(drift.SHAPES),
        lambda r, c: 0.0,
        threshold="threshold",
        higher_is_drift=False,
        logged=False,
        on_dashboard=False,
        source="",
    )
    assert lower.reaches(0.1, settings) and not lower.reaches(0.3, settings)


def test_json_keeps_psi_and_jensen_shannon_as_keys_of_each_feature() -> None:
    feature = _report().features[0]
    as_json = feature.as_dict()
    assert as_json["psi"] == feature.psi == feature.distances["psi"]
    assert as_json["jensen_shannon"] == feature.jensen_shannon
    assert "distances" not in as_json


def test_psi_alone_is_logged_per_feature_and_shown_on_the_dashboard() -> None:
    # MLflow metric names (psi.<feature>) and the dashboard's columns are what users saw
    # before the registry; a new distance opts in to either.
    assert [d.name for d in drift.DISTANCES.values() if d.logged] == ["psi"]
    assert [d.name for d in drift.DISTANCES.values() if d.on_dashboard] == ["psi"]
    assert drift.HEADLINE is drift.DISTANCES["psi"]
