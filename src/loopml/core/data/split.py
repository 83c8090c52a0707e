"""Train / validation / test splits: random, stratified by class, or by time.

``make`` splits a frame in memory. For data that is never whole in one place
(``train.distributed``), ``draws`` and ``place`` decide each row's split from the row alone:
a hash of its values (salted with the seed) is a uniform draw, and the draw, or the row's
time against two cutoffs, names its split. The same row lands in the same split in any
block, worker or run, so a sample's split is exactly the sample of the whole data's split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from loopml.config import SplitConfig, Task
from loopml.errors import DataValidationError

# A class needs a row in each of train, validation and test to be stratified.
PER_CLASS = 3


@dataclass(frozen=True)
class Splits:
    """Three parts of the rows and how they were made.

    ``how`` is "stratified", "stratified except 'a', 'b'" (those classes in training
    only), "random" or "time-based on '<column>'". ``notes`` are warnings about what was
    done differently from the configuration, one line each.

    Parameters
    ----------
    train, validation, test : pandas.DataFrame
        The parts, each indexed from 0.
    how : str
    notes : tuple of str, default ()
    training_only : tuple of str, default ()
        Classes too rare to stratify, kept in training only (as text).
    rows : tuple of numpy.ndarray, default ()
        The index labels of the split frame's rows in each part (train, validation,
        test): which rows of the data each part holds, e.g. for a data variant. Empty
        when the parts were not made by ``make``.
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    how: str
    notes: tuple[str, ...] = ()
    training_only: tuple[str, ...] = ()
    # the index labels of the split frame's rows in each part (train, validation, test):
    # which rows of the data each part holds, e.g. for a data variant
    rows: tuple[np.ndarray, ...] = ()

    def sizes(self) -> dict[str, int]:
        """Rows per part.

        Returns
        -------
        dict of str to int
            Keys "train", "validation", "test".
        """
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }

    def params(self, cfg: SplitConfig) -> dict[str, Any]:
        """The split as it was made, for logging: ``cfg`` with ``stratify`` as applied, the
        ``how`` and the classes kept in training only (a list of label strings).

        Parameters
        ----------
        cfg : loopml.config.SplitConfig
            The configuration the split was made with.

        Returns
        -------
        dict of str to Any
        """
        stratified = self.how.startswith("stratified")
        return {
            **cfg.model_dump(),
            "stratify": stratified,
            "how": self.how,
            "training_only": list(self.training_only),
        }


def make(frame: pd.DataFrame, cfg: SplitConfig, target: str, task: Task) -> Splits:
    """Split ``frame`` into train, validation and test according to ``cfg``.

    A stratified split keeps class shares equal; a class with fewer than ``PER_CLASS`` rows
    cannot be stratified, so its rows go to training (it is never validated or tested)
    and the other classes are stratified, with a note naming it. When stratification is
    impossible altogether (fewer than two stratifiable classes, or fewer validation/test
    rows than classes) the split is random, with a note. With ``cfg.time_column`` the
    oldest rows train and the newest test. Each part's rows are numbered from 0;
    ``Splits.rows`` gives the index labels of ``frame`` each part holds.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
    cfg : loopml.config.SplitConfig
        Shares ``test`` and ``validation`` (of n_rows, rounded), ``seed``, ``stratify``,
        ``time_column``.
    target : str
    task : {"classification", "regression"}
        Only classification is stratified.

    Returns
    -------
    Splits

    Raises
    ------
    loopml.errors.DataValidationError
        The rows are too few for three non-empty parts, or a ``time_column`` value is not
        a date.
    """
    numbered = frame.assign(**{_ROW: frame.index.to_numpy()})
    found = _make(numbered, cfg, target, task)
    parts = [found.train, found.validation, found.test]
    rows = tuple(part[_ROW].to_numpy() for part in parts)
    clean = [part.drop(columns=_ROW) for part in parts]
    return replace(found, train=clean[0], validation=clean[1], test=clean[2], rows=rows)


_ROW = "\x1floopml_row\x1f"  # a column no data has: carries the row labels through


def _make(frame: pd.DataFrame, cfg: SplitConfig, target: str, task: Task) -> Splits:
    n_test, n_val = round(len(frame) * cfg.test), round(len(frame) * cfg.validation)
    if min(n_test, n_val, len(frame) - n_test - n_val) < 1:
        raise DataValidationError(
            f"{len(frame)} rows are too few to split into train/validation/test with "
            f"split.test={cfg.test} and split.validation={cfg.validation}; add rows"
        )
    if cfg.time_column:
        return _by_time(frame, cfg.time_column, n_val, n_test)
    if task == "classification" and cfg.stratify:
        return _stratified(frame, cfg, target, n_val, n_test)
    return _random(frame, cfg, n_val, n_test, None, ())


def _random(
    frame: pd.DataFrame,
    cfg: SplitConfig,
    n_val: int,
    n_test: int,
    target: str | None,
    notes: tuple[str, ...],
) -> Splits:
    """A random split, or a stratified one on ``target`` when it is given."""
    strata = frame[target] if target else None
    rest, test = train_test_split(frame, test_size=n_test, random_state=cfg.seed, stratify=strata)
    strata = rest[target] if target else None
    train, val = train_test_split(rest, test_size=n_val, random_state=cfg.seed, stratify=strata)
    how = "stratified" if target else "random"
    return Splits(_clean(train), _clean(val), _clean(test), how, notes)


def _stratified(
    frame: pd.DataFrame, cfg: SplitConfig, target: str, n_val: int, n_test: int
) -> Splits:
    """Stratified on the classes with a row for each part; the rarer ones train only."""
    counts = frame[target].value_counts()
    rare = counts[counts < PER_CLASS]
    common = counts.drop(rare.index)
    kept = frame[~frame[target].isin(rare.index)]
    if len(common) < 2 or min(n_val, n_test) < len(common) or len(kept) - n_val - n_test < 1:
        note = (
            f"split.stratify: {len(common)} of {len(counts)} classes have {PER_CLASS}+ rows and "
            f"validation/test hold {min(n_val, n_test)} rows; the split is random, not "
            "stratified; add rows, raise split.test, or merge rare classes"
        )
        return _random(frame, cfg, n_val, n_test, None, (note,))
    if rare.empty:
        return _random(frame, cfg, n_val, n_test, target, ())
    parts = _random(kept, cfg, n_val, n_test, target, ())
    train = pd.concat([parts.train, frame[frame[target].isin(rare.index)]])
    train = train.sample(frac=1.0, random_state=cfg.seed)
    names = tuple(str(label) for label in rare.index)
    return Splits(
        _clean(train),
        parts.validation,
        parts.test,
        "stratified except " + ", ".join(f"'{n}'" for n in names),
        (_rare_note(rare),),
        names,
    )


def _rare_note(rare: pd.Series) -> str:
    """One line naming the classes too small to stratify, their rows and what was done."""
    rows = ", ".join(f"'{label}' has {n} row{'s' if n > 1 else ''}" for label, n in rare.items())
    one = len(rare) == 1
    return (
        f"{'class' if one else 'classes'} {rows}: too few to stratify (needs {PER_CLASS}, one "
        f"for each of train, validation and test); {'it is' if one else 'they are'} kept in "
        "training only (never validated or tested) and the split is stratified on the other "
        "classes"
    )


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
    """``column`` read as dates; a value that is not one is a DataValidationError.

    Parameters
    ----------
    frame : pandas.DataFrame
    column : str

    Returns
    -------
    pandas.Series of datetime64, shape (n_rows,)

    Raises
    ------
    loopml.errors.DataValidationError
        A value (missing included) that ``pandas.to_datetime(format="mixed")`` cannot read.
    """
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

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The index is not hashed: equal rows get equal draws.
    seed : int

    Returns
    -------
    split_draws, sample_draws : numpy.ndarray of int64, shape (n_rows,)
        Integers in [0, ``DRAW_RANGE``): the high and low 32 bits of the 64-bit hash.
    """
    key = f"{seed % 10**10:010d}loopml"
    hashed = pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy()
    return (hashed >> np.uint64(32)).astype(np.int64), (hashed & np.uint64(0xFFFFFFFF)).astype(
        np.int64
    )


def place(split_draws: np.ndarray, cfg: SplitConfig) -> np.ndarray:
    """Each row's split from its draw: train, validation and test in the configured shares.

    Parameters
    ----------
    split_draws : numpy.ndarray of int, shape (n_rows,)
        From ``draws``, in [0, ``DRAW_RANGE``).
    cfg : loopml.config.SplitConfig
        ``validation`` and ``test`` shares.

    Returns
    -------
    numpy.ndarray of object, shape (n_rows,)
        "train", "validation" or "test".
    """
    train_end = (1 - cfg.validation - cfg.test) * DRAW_RANGE
    validation_end = (1 - cfg.test) * DRAW_RANGE
    parts = np.digitize(split_draws, [train_end, validation_end])
    return np.asarray(PARTS, dtype=object)[parts]


def time_cutoffs(moments: pd.Series, cfg: SplitConfig) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The last moments of train and of validation: the shares' quantiles of ``moments``.

    Parameters
    ----------
    moments : pandas.Series of datetime64
    cfg : loopml.config.SplitConfig

    Returns
    -------
    tuple of (pandas.Timestamp, pandas.Timestamp)
        The (1 - validation - test) and (1 - test) quantiles, taken as existing values
        (``interpolation="lower"``).
    """
    shares = [1 - cfg.validation - cfg.test, 1 - cfg.test]
    ends = moments.quantile(shares, interpolation="lower")
    return pd.Timestamp(ends.iloc[0]), pd.Timestamp(ends.iloc[1])


def place_by_time(moments: pd.Series, cutoffs: tuple[pd.Timestamp, pd.Timestamp]) -> np.ndarray:
    """Train up to the first cutoff, validation up to the second, test after it.

    Parameters
    ----------
    moments : pandas.Series of datetime64, shape (n_rows,)
    cutoffs : tuple of (pandas.Timestamp, pandas.Timestamp)
        From ``time_cutoffs``; both bounds are inclusive (a missing moment goes to train).

    Returns
    -------
    numpy.ndarray of object, shape (n_rows,)
        "train", "validation" or "test".
    """
    after_train = (moments > cutoffs[0]).to_numpy()
    after_validation = (moments > cutoffs[1]).to_numpy()
    return np.asarray(PARTS, dtype=object)[after_train.astype(int) + after_validation]


def from_places(frame: pd.DataFrame, places: np.ndarray, how: str) -> Splits:
    """The rows of ``frame`` grouped by their places (``place`` or ``place_by_time``).

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
    places : numpy.ndarray of object, shape (n_rows,)
    how : str
        Stored as ``Splits.how``.

    Returns
    -------
    Splits
        Each part re-numbered from 0; ``rows`` is left empty.

    Raises
    ------
    loopml.errors.DataValidationError
        A part is empty.
    """
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
