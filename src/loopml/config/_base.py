"""What every section of loopml.yaml shares: unknown keys refused, one duration type, and
old key names that keep working for one release.

Conventions of the whole file
-----------------------------
Parallelism
    ``n_jobs``, as in scikit-learn: how many workers of one kind run at once (candidate
    fits, search trials, server processes, Ray Train shards). ``-1`` means every core
    where a key allows it.
Durations
    One type, :data:`Duration`: a number is seconds (as Optuna's ``timeout`` and the
    ``timeout`` of HTTP clients), a string carries its unit (``500ms``, ``30s``, ``10m``,
    ``2h``, ``7d``, as Prometheus and Kubernetes write them). The key names what the
    duration is, never its unit; the value held is always seconds (a float).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

log = logging.getLogger("loopml.config")

#: The pydantic error type of an old and a new key given together (see ``loader``).
RENAMED_TWICE = "renamed_key_twice"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_FORMAT = "a duration like 30s, 10m, 2h or 7d"


def _parse(text: str) -> float | None:
    match = _DURATION.match(str(text))
    return float(match.group(1)) * _SECONDS[match.group(2)] if match else None


def duration_seconds(text: str | float) -> float:
    """A positive duration in seconds.

    Parameters
    ----------
    text : str or float
        ``'500ms'``, ``'30s'``, ``'10m'``, ``'2h'``, ``'7d'``, or a number of seconds.

    Returns
    -------
    float
        The duration in seconds, above 0.

    Raises
    ------
    ValueError
        When ``text`` is no such duration or not above 0; the message names the format.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds: float | None = float(text)
    else:
        seconds = _parse(str(text))
    if seconds is None or seconds <= 0:
        raise ValueError(f"'{text}' is not {_FORMAT}")
    return seconds


def format_duration(seconds: float) -> str:
    """``seconds`` in the largest unit that holds it whole, e.g. 604800 -> ``'7d'``.

    Parameters
    ----------
    seconds : float
        A duration in seconds, at least 0.

    Returns
    -------
    str
        ``'7d'``, ``'2h'``, ``'10m'``, ``'30s'``, ``'2ms'``, or ``'1.5s'`` when no unit
        holds it whole.
    """
    for unit in ("d", "h", "m", "s", "ms"):
        count = seconds / _SECONDS[unit]
        if count >= 1 and abs(count - round(count)) < 1e-9:
            return f"{round(count)}{unit}"
    return f"{seconds:g}s"


def _to_seconds(value: Any) -> Any:
    """Strings with a unit become seconds; numbers and the rest go on to float validation.
    An infinite or NaN number (``inf``, ``1e400``, ``nan``) is refused here: a duration
    that never ends is no limit (``--time-limit inf`` would search forever)."""
    if isinstance(value, str):
        seconds = _parse(value)
        if seconds is None:
            try:
                seconds = float(value)
            except ValueError:
                raise ValueError(
                    f"'{value}' is not {_FORMAT} (or 500ms, or a number of seconds)"
                ) from None
        value = seconds
    if _is_number(value) and not math.isfinite(value):
        raise ValueError(f"'{value}' is not a finite duration; give {_FORMAT}")
    return value


#: A duration: a number of seconds or a string with its unit; held as seconds (float).
Duration = Annotated[
    float,
    BeforeValidator(_to_seconds),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "description": "seconds"},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$"},
            ]
        }
    ),
]


def _same(value: Any) -> Any:
    return value


def _is_number(value: Any) -> bool:
    """A number a unit applies to (a bool is not one)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def scaled(factor: float) -> Callable[[Any], Any]:
    """Multiply numbers by ``factor``; leave anything else for the new key to judge.

    Parameters
    ----------
    factor : float
        E.g. 0.001 to read milliseconds as seconds, 86400 to read days as seconds.

    Returns
    -------
    callable
        value -> value * factor for numbers (not bools), the value itself otherwise.
    """

    def convert(value: Any) -> Any:
        if _is_number(value):
            return value * factor
        return value

    return convert


def unscaled(factor: float) -> Callable[[Any], Any]:
    """Divide numbers by ``factor`` (the inverse of :func:`scaled`); leave anything else.

    Parameters
    ----------
    factor : float
        E.g. 86400 to give seconds back as days.

    Returns
    -------
    callable
        value -> value / factor for numbers (not bools), the value itself otherwise.
    """

    def convert(value: Any) -> Any:
        if _is_number(value):
            return value / factor
        return value

    return convert


class Renamed(NamedTuple):
    """An old key of a section: its new name and how an old value becomes a new one."""

    new: str
    convert: Callable[[Any], Any] = _same  # old value -> new value (e.g. ms -> s)
    back: Callable[[Any], Any] = _same  # new value -> old value, for old attribute reads


_QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("loopml_config_quiet", default=False)


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Read old key names without notices: for settings loopml wrote itself (a training
    run's logged ``config/loopml.json``), which the user cannot and need not rename."""
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


def _warn_renamed(old: str, new: str, written: str = "") -> None:
    """One ``DeprecationWarning`` and the same notice logged. ``written``: the value in the
    new key's unit, when the rename changed the unit (``retention.days: 30`` is
    ``retention.max_age: 30d``, and ``max_age: 30`` would be 30 seconds)."""
    if _QUIET.get():
        return
    notice = f"{old} is now {new}; the old name works until the next release"
    if written:
        notice += f" (in the new unit, write {new.rsplit('.', 1)[-1]}: {written})"
    log.warning("%s", notice)
    warnings.warn(notice, DeprecationWarning, stacklevel=4)


def other_names(section: str, key: str) -> set[str]:
    """The other names of the setting ``key`` of ``section`` (its old names, or its new
    name and the other old ones): what a ``--set section.key=...`` replaces.

    Parameters
    ----------
    section : str
        The section's place in the file, e.g. ``"serve.limits"`` (``""`` for the root).
    key : str
        A key of that section, old or new.

    Returns
    -------
    set of str
        Empty when the key was never renamed.
    """
    found: set[str] = set()
    for cls in _sections():
        if cls._section != section:
            continue
        renamed = cls._renamed
        new = renamed[key].new if key in renamed else key
        found |= {old for old, r in renamed.items() if r.new == new} | {new}
    return found - {key}


def _sections() -> Iterator[type[_Strict]]:
    stack: list[type[_Strict]] = list(_Strict.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        yield cls


class _Strict(BaseModel):
    """A section of loopml.yaml: unknown keys are errors; ``_renamed`` old keys still read.

    A subclass lists its old key names in ``_renamed`` (old -> :class:`Renamed`) and its
    place in the file in ``_section`` (e.g. ``"serve.limits"``). An old key in the file, or
    read or set as an attribute, gives one ``DeprecationWarning`` and a one-line notice
    naming old and new key; old and new together are a validation error naming both.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True)

    _section: ClassVar[str] = ""
    _renamed: ClassVar[dict[str, Renamed]] = {}

    @classmethod
    def _key(cls, name: str) -> str:
        return f"{cls._section}.{name}" if cls._section else name

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, value: Any) -> Any:
        if not cls._renamed or not isinstance(value, dict):
            return value
        value = dict(value)
        for old, renamed in cls._renamed.items():
            if old not in value:
                continue
            if renamed.new in value:
                raise PydanticCustomError(
                    RENAMED_TWICE,
                    "{old} and {new} are both set, and they are one setting ({old} is its "
                    "old name); keep only {new}",
                    {"old": cls._key(old), "new": cls._key(renamed.new)},
                )
            given = value.pop(old)
            value[renamed.new] = renamed.convert(given)
            changed = renamed.convert is not _same and _is_number(given)
            written = format_duration(value[renamed.new]) if changed else ""
            _warn_renamed(cls._key(old), cls._key(renamed.new), written)
        return value

    if not TYPE_CHECKING:  # mypy keeps checking attribute names; old names are runtime only

        def __getattr__(self, name: str) -> Any:
            renamed = type(self)._renamed.get(name)
            if renamed is None:
                return super().__getattr__(name)
            _warn_renamed(self._key(name), self._key(renamed.new))
            return renamed.back(getattr(self, renamed.new))

        def __setattr__(self, name: str, value: Any) -> None:
            renamed = type(self)._renamed.get(name)
            if renamed is not None:
                _warn_renamed(self._key(name), self._key(renamed.new))
                name, value = renamed.new, renamed.convert(value)
            super().__setattr__(name, value)
