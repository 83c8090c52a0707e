"""True labels checked against the model's contract before they reach the prediction log.

A classifier's label must be one of its classes (``"1"`` is accepted for the class ``1``,
and stored as the class itself); a regression label must be a finite number. One record
labelled twice in one batch with the same value counts as a duplicate; with two values,
it is refused, since which one is true cannot be told.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopml.config import Task

SHOWN_CLASSES = 10


@dataclass(frozen=True)
class LabelContract:
    """What a model accepts as a true label.

    Parameters
    ----------
    task : {"classification", "regression"}
    classes : tuple
        The classifier's classes (empty for regression).
    model : str
        The model for messages, e.g. "breast-cancer v3".
    """

    task: Task
    classes: tuple[Any, ...]
    model: str  # e.g. "breast-cancer v3", for messages


@dataclass(frozen=True)
class CheckedLabels:
    """Labels that passed the check, duplicates dropped, and the refused ones.

    Parameters
    ----------
    labels : list of (str, int, Any)
        (request_id, row, label as the model's class or a float), one per record.
    duplicates : int
        Repeated (request_id, row) with the same label, kept once.
    refused : list of str, default []
        One message per refused label.
    """

    labels: list[tuple[str, int, Any]]  # (request_id, row, label as the model's class)
    duplicates: int  # repeated (request_id, row) with the same label, kept once
    refused: list[str] = field(default_factory=list)  # one message per refused label

    def first_problem(self) -> str:
        """The first refusal, with how many more there are.

        Returns
        -------
        str

        Raises
        ------
        IndexError
            Nothing was refused.
        """
        more = len(self.refused) - 1
        return self.refused[0] + (f" (and {more} more refused labels)" if more else "")


def check(
    items: Sequence[tuple[str, int, Any]],
    contract: LabelContract,
    where: Callable[[int], str],
) -> CheckedLabels:
    """Each label conformed to ``contract``; ``where(i)`` names item ``i`` in messages.

    Parameters
    ----------
    items : sequence of (str, int, Any)
        (request_id, row, label) as received.
    contract : LabelContract
    where : callable (int) -> str
        Names item ``i`` (e.g. "line 3") in messages.

    Returns
    -------
    CheckedLabels
        The first label of each record is kept; the same record with another label is
        refused.
    """
    kept: dict[tuple[str, int], tuple[int, Any]] = {}
    refused: list[str] = []
    duplicates = 0
    for i, (request_id, row, value) in enumerate(items):
        record = f"{where(i)} (request_id {request_id!r}, row {row})"
        label, problem = conform(value, contract)
        if problem:
            refused.append(f"{record}: {problem}")
            continue
        earlier = kept.get((request_id, row))
        if earlier is None:
            kept[(request_id, row)] = (i, label)
        elif earlier[1] == label:
            duplicates += 1
        else:
            refused.append(
                f"{record}: labelled {label!r} after {where(earlier[0])} labelled it "
                f"{earlier[1]!r}; keep the true one"
            )
    labels = [(rid, row, label) for (rid, row), (_, label) in kept.items()]
    return CheckedLabels(labels, duplicates, refused)


def conform(value: Any, contract: LabelContract) -> tuple[Any, str]:
    """The label as the model knows it, or ``(None, why not)``.

    A classifier's label matches a class by equality, text matching a non-text class as
    written (``" 1"`` is the class 1); booleans match booleans only. A regression label
    must read as a finite float (booleans are refused).

    Parameters
    ----------
    value : Any
    contract : LabelContract

    Returns
    -------
    label : Any
        The class itself, or a float; None when refused.
    problem : str
        "" when accepted, else why (with a close class name when there is one).
    """
    if contract.task == "regression":
        return _number(value, contract)
    for known in contract.classes:
        if _same(value, known):
            return known, ""
    return None, _not_a_class(value, contract)


def _number(value: Any, contract: LabelContract) -> tuple[Any, str]:
    number = None
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
    if number is None or not math.isfinite(number):
        return None, (
            f"label {value!r} is not a finite number, which {contract.model} "
            "(regression) predicts; send the measured value"
        )
    return number, ""


def _same(value: Any, known: Any) -> bool:
    if isinstance(value, bool) != isinstance(known, bool):
        return False
    if isinstance(value, str) and not isinstance(known, str):
        return value.strip() == str(known)
    if isinstance(known, str) and not isinstance(value, str):
        return False
    try:
        return bool(value == known)
    except (TypeError, ValueError):
        return False


def _not_a_class(value: Any, contract: LabelContract) -> str:
    names = [str(c) for c in contract.classes]
    shown = ", ".join(repr(c) for c in contract.classes[:SHOWN_CLASSES])
    if len(names) > SHOWN_CLASSES:
        shown += f", … {len(names) - SHOWN_CLASSES} more"
    close = difflib.get_close_matches(str(value), names, n=1)
    if not close:
        close = [n for n in names if n.lower() == str(value).lower()]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"label {value!r} is not a class of {contract.model} (classes: {shown}){hint}"
