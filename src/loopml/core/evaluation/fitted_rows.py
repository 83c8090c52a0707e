"""Which rows a model was fitted on, by fingerprint: the gate compares models on other rows.

A version is trained on its train split and sees its validation split too (the winner is
chosen on it, calibrated on it, and refitted on it with ``train.refit``). Scoring a champion
on rows it saw flatters it, so ``beat_champion`` compares the two models only on the
challenger's test rows whose fingerprint is not among the champion's fitted rows.

A row's fingerprint is pandas' row hash (``pd.util.hash_pandas_object``, as
``core.data.split`` hashes rows) of its raw feature and target values, over the columns
named in the record, so the same row read again from any file gives the same fingerprint.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

DOCUMENT = "data/fitted_rows.json"
_ENCODING = "uint64-le-base64"


@dataclass(frozen=True)
class FittedRows:
    """The fingerprints of the rows a model was fitted on, and the columns hashed.

    Parameters
    ----------
    columns : tuple of str
        The feature and target columns hashed, sorted.
    hashes : numpy.ndarray of uint64, shape (n_fitted,)
        Distinct row fingerprints, sorted.
    """

    columns: tuple[str, ...]
    hashes: np.ndarray  # uint64, one per fitted row

    def as_document(self) -> dict[str, Any]:
        """The record as JSON (``DOCUMENT``): columns, row count and the hashes as base64 of
        little-endian uint64.

        Returns
        -------
        dict of str to Any
        """
        data = np.ascontiguousarray(self.hashes, dtype="<u8").tobytes()
        return {
            "columns": list(self.columns),
            "rows": len(self.hashes),
            "encoding": _ENCODING,
            "hashes": base64.b64encode(data).decode("ascii"),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> FittedRows:
        """The record stored by ``as_document``.

        Parameters
        ----------
        document : dict of str to Any

        Returns
        -------
        FittedRows

        Raises
        ------
        ValueError
            An unknown ``encoding``.
        KeyError
            ``hashes`` or ``columns`` is missing.
        """
        if document.get("encoding") != _ENCODING:
            raise ValueError(f"unknown fitted-rows encoding {document.get('encoding')!r}")
        hashes = np.frombuffer(base64.b64decode(document["hashes"]), dtype="<u8")
        return cls(tuple(document["columns"]), hashes.astype(np.uint64))


def record(frames: list[pd.DataFrame], columns: list[str]) -> FittedRows:
    """The fingerprints of every row of ``frames`` (e.g. train and validation).

    Parameters
    ----------
    frames : list of pandas.DataFrame
        Each holds ``columns``.
    columns : list of str

    Returns
    -------
    FittedRows
        Columns sorted, hashes distinct and sorted.
    """
    ordered = sorted(columns)
    hashes = [fingerprints(frame, ordered) for frame in frames]
    return FittedRows(tuple(ordered), np.unique(np.concatenate(hashes)))


def fingerprints(frame: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> np.ndarray:
    """One uint64 per row of ``frame`` from its values in ``columns`` (not its index).

    Numbers are hashed as float64 and text as Python strings, so a row hashes the same
    whether a column came as int64 (no gaps) or float64 (grown data with gaps).

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
    columns : list or tuple of str

    Returns
    -------
    numpy.ndarray of uint64, shape (n_rows,)
        ``pandas.util.hash_pandas_object`` of the canonical values.
    """
    values = frame[list(columns)]
    canonical = {
        name: (
            values[name].astype("float64")
            if pd.api.types.is_numeric_dtype(values[name])
            and not pd.api.types.is_bool_dtype(values[name])
            else values[name].astype(object)
        )
        for name in values.columns
    }
    table = pd.DataFrame(canonical, index=values.index)
    return pd.util.hash_pandas_object(table, index=False).to_numpy(np.uint64)


def unseen(frame: pd.DataFrame, fitted: FittedRows) -> np.ndarray:
    """A mask of the rows of ``frame`` that are not among ``fitted``'s rows.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
    fitted : FittedRows

    Returns
    -------
    numpy.ndarray of bool, shape (n_rows,)

    Raises
    ------
    KeyError
        Naming the first column of the record that ``frame`` lacks.
    """
    missing = [c for c in fitted.columns if c not in frame.columns]
    if missing:
        raise KeyError(missing[0])
    return ~np.isin(fingerprints(frame, fitted.columns), fitted.hashes)
