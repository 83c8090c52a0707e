"""Train / validation / test splits: random, stratified by class, or by time.

``make`` splits a frame in memory. For data that is never whole in one place
(``train.distributed``), ``draws`` and ``place`` decide each row's split from the row alone:
a hash of its values (salted with the seed) is a uniform draw, and the draw, or the row's
time against two cutoffs, names its split. The same row lands in the same split in any
block, worker or run, so a sample's split is exactly the sample of the whole data's split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from loopml.config import SplitConfig, Task
from loopml.errors import DataValidationError


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    how: str  # "stratified", "random" or "time-based on <col>"

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }


def make(frame: pd.DataFrame, cfg: SplitConfig, target: str, task: Task) -> Splits:
    """Split ``frame`` into train, validation and test according to ``cfg``."""
    n_test, n_val = round(len(frame) * cfg.test), round(len(frame) * cfg.validation)
    if min(n_test, n_val, len(frame) - n_test - n_val) < 1:
        raise DataValidationError(
            f"{len(frame)} rows are too few to split into train/validation/test with "
            f"split.test={cfg.test} and split.validation={cfg.validation}; add rows"
        )
    if cfg.time_column:
        return _by_time(frame, cfg.time_column, n_val, n_test)
    stratify = (
        task == "classification" and cfg.stratify and _can_stratify(frame[target], n_val, n_test)
    )
    strata = frame[target] if stratify else None
    rest, test = train_test_split(frame, test_size=n_test, random_state=cfg.seed, stratify=strata)
    strata = rest[target] if stratify else None
    train, val = train_test_split(rest, test_size=n_val, random_state=cfg.seed, stratify=strata)
    return Splits(_clean(train), _clean(val), _clean(test), "stratified" if stratify else "random")


def _can_stratify(labels: pd.Series, n_val: int, n_test: int) -> bool:
    """Every class needs a row in each part; otherwise fall back to a random split."""
    counts = labels.value_counts()
    return bool(counts.min() >= 3 and min(n_val, n_test) >= len(counts))


def _by_time(frame: pd.DataFrame, column: str, n_val: int, n_test: int) -> Splits:
    moments = times(frame, column)
    ordered = frame.iloc[moments.argsort(kind="stable")]
    n_train = len(frame) - n_val - n_test
    return Splits(
        _clean(ordered.iloc[:n_train]),
        _clean(ordered.iloc[n_train : n_train + n_val]),
        _clean(ordered.iloc[n_train + n_val :]),
        f"time-based on '{column}'",
    )


def times(frame: pd.DataFrame, column: str) -> pd.Series:
    """``column`` read as dates; a value that is not one is a DataValidationError."""
    moments = pd.to_datetime(frame[column], errors="coerce", format="mixed")
    if moments.isna().any():
        bad = frame.loc[moments.isna(), column].iloc[0]
        raise DataValidationError(
            f"split.time_column '{column}' has values that are not dates (e.g. {bad!r}); "
            "clean them or choose another column"
        )
    return moments


DRAW_RANGE = 2**32  # a draw is an integer in [0, DRAW_RANGE): exact in any file format
PARTS = ("train", "validation", "test")


def draws(frame: pd.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent draws per row, from a hash of its values: its split and its sampling.

    pandas' row hash is stable across processes and runs (it does not use Python's
    salted ``hash``); the seed is the hash key, so another seed gives another split.
    """
    key = f"{seed % 10**10:010d}loopml"
    hashed = pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy()
    return (hashed >> np.uint64(32)).astype(np.int64), (hashed & np.uint64(0xFFFFFFFF)).astype(
        np.int64
    )


def place(split_draws: np.ndarray, cfg: SplitConfig) -> np.ndarray:
    """Each row's split from its draw: train, validation and test in the configured shares."""
    train_end = (1 - cfg.validation - cfg.test) * DRAW_RANGE
    validation_end = (1 - cfg.test) * DRAW_RANGE
    parts = np.digitize(split_draws, [train_end, validation_end])
    return np.asarray(PARTS, dtype=object)[parts]


def time_cutoffs(moments: pd.Series, cfg: SplitConfig) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The last moments of train and of validation: the shares' quantiles of ``moments``."""
    shares = [1 - cfg.validation - cfg.test, 1 - cfg.test]
    ends = moments.quantile(shares, interpolation="lower")
    return pd.Timestamp(ends.iloc[0]), pd.Timestamp(ends.iloc[1])


def place_by_time(moments: pd.Series, cutoffs: tuple[pd.Timestamp, pd.Timestamp]) -> np.ndarray:
    """Train up to the first cutoff, validation up to the second, test after it."""
    after_train = (moments > cutoffs[0]).to_numpy()
    after_validation = (moments > cutoffs[1]).to_numpy()
    return np.asarray(PARTS, dtype=object)[after_train.astype(int) + after_validation]


def from_places(frame: pd.DataFrame, places: np.ndarray, how: str) -> Splits:
    """The rows of ``frame`` grouped by their places (``place`` or ``place_by_time``)."""
    parts = [_clean(frame[places == part]) for part in PARTS]
    for name, rows in zip(PARTS, parts, strict=True):
        if rows.empty:
            raise DataValidationError(
                f"the {name} split of the {len(frame):,} sampled rows is empty; "
                "raise train.sample_rows, or add rows"
            )
    return Splits(parts[0], parts[1], parts[2], how)


def _clean(part: pd.DataFrame) -> pd.DataFrame:
    return part.reset_index(drop=True)
