"""Ray's exceptions mapped once, at the compute boundary: each is one loopml error line."""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from loopml.compute.ray_errors import from_ray, ray_errors
from loopml.errors import ComputeError, DataContractError, DataError, LoopmlError

exceptions = pytest.importorskip("ray.exceptions", reason="Ray is not installed")

RAY_ERRORS = sorted(
    (cls for _, cls in inspect.getmembers(exceptions, inspect.isclass)),
    key=lambda cls: cls.__name__,
)
RAY_ERRORS = [cls for cls in RAY_ERRORS if issubclass(cls, exceptions.RayError)]
WORKER_FAILURES = (exceptions.RayTaskError, exceptions.UserCodeException)
TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: boom'


def _instance(cls: type[BaseException]) -> BaseException:
    """An instance of ``cls`` built as Ray builds it (the arguments differ by class)."""
    attempts: list[tuple[Any, ...]] = [
        ("boom",),
        (),
        ("fn", TRACEBACK, ValueError("boom")),
        ("ab" * 14, None, "call site"),
        ("boom", None),
        (ValueError("boom"),),
    ]
    for args in attempts:
        try:
            return cls(*args)
        except Exception:
            continue
    return cls.__new__(cls)  # no constructor fits: the class itself must still map


def test_every_ray_exception_class_is_listed() -> None:
    assert exceptions.RayTaskError in RAY_ERRORS and exceptions.GetTimeoutError in RAY_ERRORS
    assert len(RAY_ERRORS) > 20


@pytest.mark.parametrize("cls", RAY_ERRORS, ids=lambda cls: cls.__name__)
def test_each_ray_exception_maps_to_one_loopml_error_line(cls: type[BaseException]) -> None:
    mapped = from_ray(_instance(cls), "shop.csv", "scoring")

    assert isinstance(mapped, LoopmlError)
    text = str(mapped)
    assert "\n" not in text and text.startswith("shop.csv: scoring on Ray failed (")
    if issubclass(cls, WORKER_FAILURES):
        assert type(mapped) is DataError and "check the file" in text
    else:
        assert type(mapped) is ComputeError and f"({cls.__name__}: " in text
        assert "compute.backend: local" in text


def test_a_loopml_error_raised_in_a_worker_is_raised_again_as_itself() -> None:
    cause = DataContractError("row 3, column 'age': 'old' is not a number\nmore detail")
    task_error = exceptions.RayTaskError("score", TRACEBACK, cause)

    for raised in (task_error, task_error.as_instanceof_cause()):
        mapped = from_ray(raised, "shop.csv", "scoring")
        assert type(mapped) is DataContractError
        assert str(mapped) == "shop.csv: row 3, column 'age': 'old' is not a number"


def test_another_worker_failure_names_its_cause() -> None:
    task_error = exceptions.RayTaskError("score", TRACEBACK, ValueError("boom"))

    mapped = from_ray(task_error, "shop.csv", "profiling")

    assert type(mapped) is DataError
    assert str(mapped).startswith("shop.csv: profiling on Ray failed (ValueError: boom)")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """A real local Ray instance of one CPU; this module's functions go to it by value."""
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _raise(error: Exception) -> None:
    raise error


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


@pytest.mark.ray
def test_errors_gathered_from_a_live_ray_are_loopml_errors(local_ray: Any) -> None:
    fails = local_ray.remote(_raise)
    with pytest.raises(DataError, match=r"^shop\.csv: row 7 is ragged$"):
        with ray_errors("shop.csv", "scoring"):
            local_ray.get(fails.remote(DataError("row 7 is ragged")))
    with pytest.raises(DataError, match=r"^shop\.csv: training on Ray failed \(KeyError: "):
        with ray_errors("shop.csv", "training"):
            local_ray.get(fails.remote(KeyError("age")))
    sleeps = local_ray.remote(_sleep)
    with pytest.raises(ComputeError, match=r"^shop\.csv: scoring on Ray failed \(GetTimeoutError"):
        with ray_errors("shop.csv", "scoring"):
            local_ray.get(sleeps.remote(5), timeout=0.05)
