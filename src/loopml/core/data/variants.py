"""Data variants: the same data with rows left out or labels corrected, on the same split.

The split is made on the unchanged data (``split.make``), then the variant changes only
the training and validation rows; the test rows, and their labels, stay as they were, so
the test scores of variants compare the data versions on the same rows (the data-centric
iteration of Ng's "data-centric AI", with the model configuration held fixed).
Rows are named by their number in the data file: the 0-based position among its data rows
(the header is not a row), as ``loopml data issues`` writes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from loopml.core.data.split import Splits


@dataclass(frozen=True)
class VariantChange:
    """What a variant changed: rows removed and relabelled in training and validation, and
    listed rows left alone because they are test rows.

    Parameters
    ----------
    name : str
        The variant's name.
    removed : int
        Rows left out of training and validation.
    relabelled : int
        Rows whose label was replaced there.
    test_rows_unchanged : int
        Listed rows that are test rows, left as they are.
    fingerprint : str
        16 hex digits identifying the change (which rows, which labels).
    """

    name: str
    removed: int
    relabelled: int
    test_rows_unchanged: int
    fingerprint: str  # of the change: which rows, which labels

    def describe(self) -> str:
        """One line: rows left out and relabelled, and listed rows left alone in the test split.

        Returns
        -------
        str
        """
        text = (
            f"data variant '{self.name}': {self.removed} rows left out, "
            f"{self.relabelled} relabelled in training and validation"
        )
        if self.test_rows_unchanged:
            text += (
                f"; {self.test_rows_unchanged} listed rows are test rows and stay as they are "
                "(variants compare on the same test)"
            )
        return text

    def params(self) -> dict[str, Any]:
        """The change as MLflow run parameters (``data_variant*``).

        Returns
        -------
        dict of str to Any
        """
        return {
            "data_variant": self.name,
            "data_variant_removed": self.removed,
            "data_variant_relabelled": self.relabelled,
            "data_variant_fingerprint": self.fingerprint,
        }


def apply_variant(
    splits: Splits,
    target: str,
    name: str,
    exclude: set[int],
    relabel: Mapping[int, Any],
) -> tuple[Splits, VariantChange]:
    """``splits`` with the rows numbered in ``exclude`` left out of training and validation
    and the labels of ``relabel`` (row -> label) replaced there; the test part untouched.
    ``splits.rows`` must number the rows (``split.make`` does).

    Parameters
    ----------
    splits : loopml.core.data.split.Splits
        Made by ``split.make`` on the unchanged data.
    target : str
    name : str
        The variant's name.
    exclude : set of int
        Row numbers to leave out (0-based data rows of the file).
    relabel : mapping of int to Any
        Row number to its corrected label.

    Returns
    -------
    splits : loopml.core.data.split.Splits
        Train and validation changed (re-numbered from 0), ``rows`` updated; test unchanged.
    change : VariantChange
        Counts, and a fingerprint (16 hex digits of SHA-256) of ``exclude`` and ``relabel``.

    Raises
    ------
    ValueError
        ``splits.rows`` does not number the three parts.
    """
    if len(splits.rows) != 3:
        raise ValueError("the splits do not number their rows; make them with split.make")
    train_rows, validation_rows, test_rows = splits.rows
    parts, numbers, removed, relabelled = [], [], 0, 0
    for part, rows in ((splits.train, train_rows), (splits.validation, validation_rows)):
        keep = ~np.isin(rows, list(exclude))
        removed += int((~keep).sum())
        part, rows = part[keep].reset_index(drop=True), rows[keep]
        changed = np.array([r in relabel for r in rows], dtype=bool)
        if changed.any():
            labels = part[target].to_numpy(dtype=object, copy=True)
            labels[changed] = [relabel[r] for r in rows[changed]]
            part = part.assign(**{target: pd.Series(labels, index=part.index)})
            part[target] = part[target].infer_objects()
            relabelled += int(changed.sum())
        parts.append(part)
        numbers.append(rows)
    listed = set(exclude) | set(relabel)
    in_test = int(np.isin(test_rows, list(listed)).sum())
    blob = json.dumps(
        {
            "exclude": sorted(int(r) for r in exclude),
            "relabel": {str(k): str(v) for k, v in sorted(relabel.items())},
        },
        sort_keys=True,
    )
    change = VariantChange(
        name, removed, relabelled, in_test, hashlib.sha256(blob.encode()).hexdigest()[:16]
    )
    varied = replace(
        splits, train=parts[0], validation=parts[1], rows=(numbers[0], numbers[1], test_rows)
    )
    return varied, change
