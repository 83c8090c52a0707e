"""pytest plugin: run loopml.yaml's behavioral tests as pytest tests, and fixtures for your own.

Installed with loopml (entry point ``pytest11``). In a project folder::

    pytest --loopml-run challenger            # or a run id, a version number, champion
    pytest --loopml-run 3 loopml.yaml         # only the behavioral tests

Each test under ``behavioral:`` becomes one pytest item. Your own tests can use the
fixtures ``loopml_config``, ``loopml_model`` (a ``ScoringModel``) and ``loopml_test_rows``
(the model's test split), for the model named by ``--loopml-run`` (default: challenger).
Nothing is imported or loaded unless one of them is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from loopml.errors import BehavioralTestError

if TYPE_CHECKING:
    import pandas as pd

    from loopml.config import ProjectConfig
    from loopml.core.evaluation.behavioral import BehavioralResult
    from loopml.core.scoring import ScoringModel
    from loopml.workflows.evaluate import Loaded


@dataclass
class _Session:
    cfg: ProjectConfig
    loaded: Loaded


_SESSIONS = pytest.StashKey[dict[Path, _Session]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("loopml", "loopml behavioral tests")
    group.addoption(
        "--loopml-run",
        default=None,
        metavar="RUN",
        help="run id, version or alias of the model to test: runs loopml.yaml's behavioral "
        "tests and sets the loopml_model fixture",
    )
    group.addoption(
        "--loopml-config",
        default="loopml.yaml",
        metavar="PATH",
        help="the project's loopml.yaml (default: ./loopml.yaml)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SESSIONS] = {}


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    if config.getoption("loopml_run") is None:
        return None
    if file_path.resolve() != _config_path(config):
        return None
    return LoopmlFile.from_parent(parent, path=file_path)


def _config_path(config: pytest.Config) -> Path:
    path = Path(config.getoption("loopml_config"))
    return (path if path.is_absolute() else Path(config.invocation_params.dir) / path).resolve()


def _session(config: pytest.Config, path: Path) -> _Session:
    """The project's config and the model under test, loaded once per pytest session."""
    sessions = config.stash[_SESSIONS]
    if path not in sessions:
        from loopml.config import load_config
        from loopml.tracking.store import Tracker
        from loopml.workflows.evaluate import load
        from loopml.workflows.events import SilentReporter

        cfg = load_config(path)
        loaded = load(
            cfg, Tracker.from_config(cfg), config.getoption("loopml_run"), SilentReporter()
        )
        sessions[path] = _Session(cfg, loaded)
    return sessions[path]


class LoopmlFile(pytest.File):
    """loopml.yaml: one item per declared behavioral test."""

    def collect(self) -> Any:
        from loopml.config import load_config
        from loopml.core.evaluation.behavioral import title

        for index, test in enumerate(load_config(self.path).behavioral):
            yield BehavioralItem.from_parent(
                self, name=f"behavioral[{index}] {title(test)}", index=index
            )


class BehavioralFailure(BehavioralTestError, AssertionError):
    """One declared behavioural test failed: loopml's ``BehavioralTestError``, and an
    ``AssertionError`` so pytest reports it as a test failure, not an error."""

    def __init__(self, result: BehavioralResult):
        super().__init__(result.detail)
        self.result = result


class BehavioralItem(pytest.Item):
    def __init__(self, *, index: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.index = index

    def runtest(self) -> None:
        from loopml.core.evaluation.assess import behave

        state = _session(self.config, self.path.resolve())
        test = state.cfg.behavioral[self.index]
        result = behave(
            state.loaded.model, test, state.loaded.data.splits.test, state.cfg.split.seed
        )
        self.user_properties.append(("agreement", result.agreement))
        if not result.passed:
            raise BehavioralFailure(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, BehavioralFailure):
            r = excinfo.value.result
            lines = [
                f"{r.name}: agreement {r.agreement:.3f} < required {r.required:.3f}",
                r.detail,
                *(f"  e.g. {failure}" for failure in r.failures),
            ]
            return "\n".join(lines)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"loopml {self.name}"


@pytest.fixture(scope="session")
def loopml_config(pytestconfig: pytest.Config) -> ProjectConfig:
    """The project's loopml.yaml (``--loopml-config``, default ./loopml.yaml)."""
    return _session(pytestconfig, _config_path(pytestconfig)).cfg


@pytest.fixture(scope="session")
def loopml_model(pytestconfig: pytest.Config) -> ScoringModel:
    """The model of ``--loopml-run`` (default: the challenger), as ``loopml.load_model`` gives."""
    return _session(pytestconfig, _config_path(pytestconfig)).loaded.model


@pytest.fixture(scope="session")
def loopml_test_rows(pytestconfig: pytest.Config) -> pd.DataFrame:
    """The model's test split (features and target), re-split exactly as at training."""
    return _session(pytestconfig, _config_path(pytestconfig)).loaded.data.splits.test
