"""compute.make picks the backend from the configuration; what Ray cannot do is one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loopml import compute
from loopml.config import ComputeConfig, ModelsConfig, TrainConfig
from loopml.errors import ConfigError


def test_the_backend_follows_compute_backend_and_train_distributed() -> None:
    local = compute.make(ComputeConfig())
    on_ray = compute.make(ComputeConfig(backend="ray", address="ray://head:10001"))
    training = compute.make(ComputeConfig(), TrainConfig(distributed=True))

    assert (local.name, local.where) == ("local", "")
    assert (on_ray.name, on_ray.where) == ("ray", "Ray (ray://head:10001)")
    assert type(training).__name__ == "RayTrainCompute"
    assert type(compute.make(ComputeConfig(backend="ray"), TrainConfig())).__name__ == "RayCompute"


def test_a_local_run_never_imports_ray() -> None:
    code = (
        "import sys\n"
        "from loopml import compute\n"
        "import loopml.workflows.train, loopml.workflows.predict, loopml.workflows.profile\n"
        "from loopml.config import ComputeConfig, TrainConfig\n"
        "compute.make(ComputeConfig(backend='ray'), TrainConfig(distributed=True))\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_distributed_training_refuses_what_ray_train_cannot_train_naming_the_key() -> None:
    backend = compute.make(ComputeConfig(), TrainConfig(distributed=True))
    warned: list[str] = []

    def no_search() -> None:
        raise AssertionError("distributed training checks no search settings")

    with pytest.raises(ConfigError, match=r"^data\.variant 'clean' is not applied with train"):
        backend.check_variant("clean")
    forest = ModelsConfig(candidates={"random_forest": {}})
    with pytest.raises(ConfigError, match=r"^models\.candidates\.random_forest: train\.distrib"):
        backend.check_training(
            forest, "classification", seed=1, warn=warned.append, search_settings=no_search
        )
    adults = {"when": "age >= 18", "then": "yes", "else": "no"}
    rule = ModelsConfig.model_validate(
        {"candidates": {"lightgbm": {}}, "rules": {"adults": adults}, "register_rule": "adults"}
    )
    with pytest.raises(ConfigError, match=r"^models\.register_rule: .*train\.distributed: false"):
        backend.check_training(
            rule, "classification", seed=1, warn=warned.append, search_settings=no_search
        )
    ruled = ModelsConfig.model_validate({"rules": {"adults": adults}})
    backend.check_training(
        ruled, "classification", seed=1, warn=warned.append, search_settings=no_search
    )
    assert warned == [
        "models.rules: rules are scored in the leaderboard without train.distributed only; "
        "gate.beat_rules still compares on the evaluated test rows"
    ]


def test_the_local_backend_checks_the_search_settings_and_applies_any_variant() -> None:
    backend = compute.make(ComputeConfig())
    checked: list[bool] = []

    backend.check_variant("clean")
    backend.check_training(
        ModelsConfig(),
        "classification",
        seed=1,
        warn=print,
        search_settings=lambda: checked.append(True),
    )

    assert checked == [True]
