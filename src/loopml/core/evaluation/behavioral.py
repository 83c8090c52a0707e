"""Behavioral tests of a trained model: invariance, directional, perturbation, examples.

Each test changes rows in a declared way, predicts again, and measures how often the model
behaves as expected (``agreement``); it passes when agreement reaches ``min_agreement``.
``check`` validates the declared tests against the data before anything is trained.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loopml.config import (
    BehavioralTest,
    DirectionalTest,
    ExamplesTest,
    InvarianceTest,
    PerturbationTest,
    Task,
)
from loopml.core.features import category_key
from loopml.errors import ConfigError

# rows -> (predictions, class probabilities or None)
Predictor = Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray | None]]
_CHANGE = re.compile(r"^([+\-*])(\d+(?:\.\d+)?)(%?)$")
_TOLERANCE = 1e-9


@dataclass
class BehavioralResult:
    """The outcome of one behavioural test.

    Parameters
    ----------
    name : str
        The test's title (see ``title``).
    kind : str
        "invariance", "directional", "perturbation" or "examples".
    passed : bool
        ``agreement >= required``.
    agreement : float
        Share in [0, 1] of rows where the model behaved as expected.
    required : float
        The test's ``min_agreement``.
    rows : int
        Rows tested.
    detail : str
        One line of counts.
    failures : list of dict, default []
        Up to 5 failing rows, with their values and predictions.
    """

    name: str
    kind: str
    passed: bool
    agreement: float
    required: float
    rows: int
    detail: str
    failures: list[dict[str, Any]] = field(default_factory=list)  # a few failing rows

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON reports).

        Returns
        -------
        dict of str to Any
        """
        return dict(self.__dict__)


def title(test: BehavioralTest) -> str:
    """The test's name, or a description of it when it has none.

    Parameters
    ----------
    test : loopml.config.BehavioralTest

    Returns
    -------
    str
    """
    if test.name:
        return test.name
    if isinstance(test, ExamplesTest):
        return f"examples ({len(test.rows)} rows)"
    if isinstance(test, PerturbationTest):
        return f"perturbation ({test.noise}) of {', '.join(test.columns)}"
    if isinstance(test, DirectionalTest):
        return f"directional: {test.column} {test.change} -> {test.expect}"
    return f"invariance of {test.column}"


def check(tests: list[BehavioralTest], frame: pd.DataFrame, task: Task, classes: list[Any]) -> None:
    """A ConfigError naming ``behavioral[i]`` for a column or label the data does not have.

    Parameters
    ----------
    tests : list of loopml.config.BehavioralTest
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The data, typed.
    task : {"classification", "regression"}
    classes : list
        The target's classes (classification).

    Raises
    ------
    loopml.errors.ConfigError
        A changed column missing from the data; a directional test or numeric
        perturbation on a non-numeric column; a classification directional test without
        ``label`` or with a label that is not a class.
    """
    for i, test in enumerate(tests):
        where = f"behavioral[{i}] ({title(test)})"
        for column in columns_of(test):
            if column not in frame.columns:
                close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ConfigError(f"{where}: column '{column}' is not in the data{hint}")
        if isinstance(test, DirectionalTest):
            _check_directional(test, where, frame, task, classes)
        if isinstance(test, PerturbationTest) and test.noise == "numeric":
            for column in test.columns:
                _require_numeric(frame, column, where)


def columns_of(test: BehavioralTest) -> list[str]:
    """The columns a test changes.

    Parameters
    ----------
    test : loopml.config.BehavioralTest

    Returns
    -------
    list of str
        Empty for an examples test.
    """
    if isinstance(test, PerturbationTest):
        return list(test.columns)
    if isinstance(test, InvarianceTest | DirectionalTest):
        return [test.column]
    return []


def _check_directional(
    test: DirectionalTest, where: str, frame: pd.DataFrame, task: Task, classes: list[Any]
) -> None:
    _require_numeric(frame, test.column, where)
    if task == "classification":
        if test.label is None:
            raise ConfigError(
                f"{where}: add label: <class> (the class whose probability should "
                f"{test.expect}); classes are {', '.join(map(str, classes))}"
            )
        if _class_index(classes, test.label) is None:
            raise ConfigError(
                f"{where}: label {test.label!r} is not a class; use one of "
                f"{', '.join(map(str, classes))}"
            )


def _require_numeric(frame: pd.DataFrame, column: str, where: str) -> None:
    if not pd.api.types.is_numeric_dtype(frame[column]):
        raise ConfigError(
            f"{where}: column '{column}' is not numeric; use it with typos or invariance"
        )


def run_one(
    test: BehavioralTest,
    rows: pd.DataFrame,
    predictor: Predictor,
    classes: list[Any],
    seed: int = 0,
) -> BehavioralResult:
    """Run one behavioural test against ``predictor``.

    The kinds follow CheckList (Ribeiro et al., "Beyond Accuracy: Behavioral Testing of NLP
    Models with CheckList", ACL 2020): invariance (setting a column to each of ``values``
    must not change a prediction), directional (``change`` on a numeric column must not
    move the prediction, or P(``label``), the wrong way, beyond 1e-9), perturbation (typos
    or Gaussian noise of ``scale`` standard deviations must not change a prediction) and
    examples (given rows must be predicted as ``expect``: a label, or a [low, high] range).

    Parameters
    ----------
    test : loopml.config.BehavioralTest
    rows : pandas.DataFrame, shape (n_rows, n_columns)
        Input rows; all but examples tests use a sample of ``test.sample`` of them.
    predictor : callable (DataFrame) -> (numpy.ndarray, numpy.ndarray or None)
        Predictions, shape (n,), and class probabilities, shape (n, n_classes), or None.
    classes : list
        In probability column order.
    seed : int, default 0
        Seed of the sample and of the noise.

    Returns
    -------
    BehavioralResult

    Raises
    ------
    loopml.errors.ConfigError
        A directional ``change`` that is not like "+10%", "-5" or "*2".
    """
    sample = rows if isinstance(test, ExamplesTest) else _sample(rows, test.sample, seed)
    if isinstance(test, InvarianceTest):
        return _invariance(test, sample, predictor)
    if isinstance(test, DirectionalTest):
        return _directional(test, sample, predictor, classes)
    if isinstance(test, PerturbationTest):
        return _perturbation(test, sample, predictor, seed)
    return _examples(test, rows, predictor)


def _sample(rows: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    if len(rows) <= size:
        return rows.reset_index(drop=True)
    return rows.sample(n=size, random_state=seed).reset_index(drop=True)


def _result(
    test: BehavioralTest, agreement: float, rows: int, detail: str, failures: list[dict[str, Any]]
) -> BehavioralResult:
    passed = bool(agreement >= test.min_agreement)
    return BehavioralResult(
        title(test),
        test.kind,
        passed,
        float(agreement),
        test.min_agreement,
        rows,
        detail,
        failures[:5],
    )


def _invariance(test: InvarianceTest, rows: pd.DataFrame, predictor: Predictor) -> BehavioralResult:
    original, _ = predictor(rows)
    same = np.ones(len(rows), dtype=bool)
    changed_to: list[Any] = [None] * len(rows)
    for value in test.values:
        predicted, _ = predictor(rows.assign(**{test.column: value}))
        differs = _differs(predicted, original) & same
        for i in np.flatnonzero(differs):
            changed_to[i] = (value, predicted[i])
        same &= ~differs
    failures = [
        {
            "row": int(i),
            "original": _plain(original[i]),
            "value": _plain(changed_to[i][0]),
            "prediction": _plain(changed_to[i][1]),
        }
        for i in np.flatnonzero(~same)
    ]
    changes = int((~same).sum())
    detail = (
        f"{changes} of {len(rows)} predictions change when {test.column} is set to {test.values}"
    )
    return _result(test, same.mean(), len(rows), detail, failures)


def _directional(
    test: DirectionalTest, rows: pd.DataFrame, predictor: Predictor, classes: list[Any]
) -> BehavioralResult:
    changed = rows.assign(**{test.column: apply_change(rows[test.column], test.change)})
    before, after = (
        _outputs(predictor, rows, test, classes),
        _outputs(predictor, changed, test, classes),
    )
    delta = after - before
    wrong = delta < -_TOLERANCE if test.expect == "increase" else delta > _TOLERANCE
    moved_right = (delta > _TOLERANCE) if test.expect == "increase" else (delta < -_TOLERANCE)
    target = f"P({test.label})" if test.label is not None else "the prediction"
    detail = (
        f"{test.column} {test.change}: {target} moves as expected in {moved_right.sum()}, stays in "
        f"{(~wrong & ~moved_right).sum()}, moves the wrong way in {wrong.sum()} of {len(rows)} rows"
    )
    failures = [
        {"row": int(i), "before": float(before[i]), "after": float(after[i])}
        for i in np.flatnonzero(wrong)
    ]
    return _result(test, 1.0 - wrong.mean(), len(rows), detail, failures)


def _outputs(
    predictor: Predictor, rows: pd.DataFrame, test: DirectionalTest, classes: list[Any]
) -> np.ndarray:
    predicted, proba = predictor(rows)
    if test.label is None or proba is None:
        return np.asarray(predicted, dtype=float)
    index = _class_index(classes, test.label)
    return np.asarray(proba)[:, index]


def apply_change(values: pd.Series, change: str) -> pd.Series:
    """``+10%``, ``-5%``, ``+3``, ``-1.5`` or ``*2`` applied to numbers.

    Parameters
    ----------
    values : pandas.Series
        Read as numbers (others become NaN).
    change : str
        A sign (+, - or *), an amount and an optional % (a share of each |value|).

    Returns
    -------
    pandas.Series

    Raises
    ------
    loopml.errors.ConfigError
        ``change`` is not of that form.
    """
    match = _CHANGE.match(change.replace(" ", ""))
    if not match:
        raise ConfigError(f"change '{change}' is not like '+10%', '-5', or '*2'")
    sign, amount, percent = match.group(1), float(match.group(2)), match.group(3)
    numbers = pd.to_numeric(values, errors="coerce")
    if sign == "*":
        return numbers * amount
    step = numbers.abs() * amount / 100 if percent else amount
    return numbers + step if sign == "+" else numbers - step


def _perturbation(
    test: PerturbationTest, rows: pd.DataFrame, predictor: Predictor, seed: int
) -> BehavioralResult:
    rng = np.random.default_rng(seed)
    noisy = rows.copy()
    for column in test.columns:
        if test.noise == "typos":
            noisy[column] = [add_typos(v, test.scale, rng) for v in rows[column]]
        else:
            numbers = pd.to_numeric(rows[column], errors="coerce")
            spread = float(numbers.std()) if len(numbers) > 1 else 0.0
            noisy[column] = numbers + rng.normal(0.0, test.scale * (spread or 1.0), len(rows))
    original, _ = predictor(rows)
    predicted, _ = predictor(noisy)
    same = ~_differs(predicted, original)
    failures = [
        {
            "row": int(i),
            "original": _plain(original[i]),
            "perturbed": _plain(predicted[i]),
            **{c: _plain(noisy[c].iloc[i]) for c in test.columns},
        }
        for i in np.flatnonzero(~same)
    ]
    detail = (
        f"{same.sum()} of {len(rows)} predictions unchanged under {test.noise} noise "
        f"(scale {test.scale:g})"
    )
    return _result(test, same.mean(), len(rows), detail, failures)


def add_typos(value: Any, rate: float, rng: np.random.Generator) -> Any:
    """Swap, drop, double or replace one letter in about ``rate`` of the words.

    Only words of 3+ characters (split on spaces) are changed; non-strings are returned
    as they are.

    Parameters
    ----------
    value : Any
    rate : float
        Probability in [0, 1] that a word gets a typo.
    rng : numpy.random.Generator

    Returns
    -------
    Any
    """
    if not isinstance(value, str):
        return value
    words = value.split(" ")
    for i, word in enumerate(words):
        if len(word) >= 3 and rng.random() < rate:
            words[i] = _typo(word, rng)
    return " ".join(words)


def _typo(word: str, rng: np.random.Generator) -> str:
    at = int(rng.integers(0, len(word) - 1))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if kind == 1:
        return word[:at] + word[at + 1 :]
    if kind == 2:
        return word[:at] + word[at] + word[at:]
    letter = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(0, 26))]
    return word[:at] + letter + word[at + 1 :]


def _examples(test: ExamplesTest, rows: pd.DataFrame, predictor: Predictor) -> BehavioralResult:
    inputs = pd.DataFrame([{k: v for k, v in row.items() if k != "expect"} for row in test.rows])
    for column in rows.columns:
        if column not in inputs.columns:
            inputs[column] = None
    predicted, _ = predictor(inputs[[*rows.columns]])
    hits = np.array(
        [_as_expected(p, row["expect"]) for p, row in zip(predicted, test.rows, strict=True)]
    )
    failures = [
        {
            "row": int(i),
            "expect": _plain(test.rows[i]["expect"]),
            "prediction": _plain(predicted[i]),
            **{k: _plain(v) for k, v in test.rows[i].items() if k != "expect"},
        }
        for i in np.flatnonzero(~hits)
    ]
    detail = f"{hits.sum()} of {len(hits)} examples predicted as expected"
    return _result(test, hits.mean(), len(hits), detail, failures)


def _as_expected(predicted: Any, expect: Any) -> bool:
    if isinstance(expect, list | tuple) and len(expect) == 2:
        low, high = (float(v) for v in expect)
        return low <= float(predicted) <= high
    return category_key(predicted) == category_key(expect)


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fi" and b.dtype.kind in "fi":
        return ~np.isclose(a.astype(float), b.astype(float), rtol=1e-9, atol=1e-12)
    return np.array(
        [category_key(x) != category_key(y) for x, y in zip(a, b, strict=True)], dtype=bool
    )


def _class_index(classes: list[Any], label: Any) -> int | None:
    keys = [category_key(c) for c in classes]
    return keys.index(category_key(label)) if category_key(label) in keys else None


def _plain(value: Any) -> Any:
    """A JSON-friendly value."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
