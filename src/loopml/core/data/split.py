"""Train / validation / test splits: random, stratified by class, or by time."""

from __future__ import annotations

from dataclasses import dataclass

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
    moments = pd.to_datetime(frame[column], errors="coerce", format="mixed")
    if moments.isna().any():
        bad = frame.loc[moments.isna(), column].iloc[0]
        raise DataValidationError(
            f"split.time_column '{column}' has values that are not dates (e.g. {bad!r}); "
            "clean them or choose another column"
        )
    ordered = frame.iloc[moments.argsort(kind="stable")]
    n_train = len(frame) - n_val - n_test
    return Splits(
        _clean(ordered.iloc[:n_train]),
        _clean(ordered.iloc[n_train : n_train + n_val]),
        _clean(ordered.iloc[n_train + n_val :]),
        f"time-based on '{column}'",
    )


def _clean(part: pd.DataFrame) -> pd.DataFrame:
    return part.reset_index(drop=True)
