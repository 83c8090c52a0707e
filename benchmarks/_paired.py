"""The paired comparison of bench_quality.py, apart so that a unit test imports only this."""

from __future__ import annotations

import math
from typing import Any


def paired_interval(
    differences: list[float], peer: str, confidence: float = 0.95
) -> dict[str, Any]:
    """Mean of paired differences, its Student t-interval and what it says.

    Parameters
    ----------
    differences : list of float, length n
        One difference per seed: loopml's test score minus ``peer``'s on the same split.
    peer : str
        The peer's name, for the verdict.
    confidence : float
        Coverage of the two-sided interval.

    Returns
    -------
    dict
        ``mean``; ``interval``, ``[low, high]`` = ``mean ± t_{(1+confidence)/2, n-1} · s /
        sqrt(n)`` (Student, 1908; scipy's ``ttest_1samp(...).confidence_interval``), NaN
        when n < 2; ``verdict``: "loopml ahead" or "<peer> ahead" when the interval excludes
        0, else "no clear difference" (or "one seed: no interval").
    """
    from scipy import stats

    mean = float(sum(differences) / len(differences))
    if len(differences) < 2:
        return {"mean": mean, "interval": [math.nan, math.nan], "verdict": "one seed: no interval"}
    low, high = stats.ttest_1samp(differences, 0.0).confidence_interval(confidence)
    verdict = "no clear difference"
    if low > 0:
        verdict = "loopml ahead"
    elif high < 0:
        verdict = f"{peer} ahead"
    return {"mean": mean, "interval": [float(low), float(high)], "verdict": verdict}
