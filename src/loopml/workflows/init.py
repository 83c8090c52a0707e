"""`loopml init`: a new project folder from an example that ships with scikit-learn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from loopml.errors import ConfigError


@dataclass(frozen=True)
class Example:
    description: str
    target: str
    metric: str
    load: Callable[[], pd.DataFrame]


def _from_sklearn(loader: str, id_column: str, target: str, labelled: bool) -> pd.DataFrame:
    """A bundled scikit-learn dataset with an id column and a named target."""
    import sklearn.datasets

    load = getattr(sklearn.datasets, loader)
    bunch = load(as_frame=True, **({} if labelled else {"scaled": False}))
    frame = bunch.frame.drop(columns="target")
    frame.insert(0, id_column, np.arange(1, len(frame) + 1))
    codes = bunch.frame["target"]
    frame[target] = np.asarray(bunch.target_names)[codes] if labelled else codes
    return frame


EXAMPLES: dict[str, Example] = {
    "breast_cancer": Example(
        "binary classification, 569 tumours",
        "diagnosis",
        "f1_macro",
        lambda: _from_sklearn("load_breast_cancer", "patient_id", "diagnosis", labelled=True),
    ),
    "wine": Example(
        "multiclass classification, 178 wines",
        "cultivar",
        "f1_macro",
        lambda: _from_sklearn("load_wine", "bottle_id", "cultivar", labelled=True),
    ),
    "diabetes": Example(
        "regression, 442 patients",
        "progression",
        "r2",
        lambda: _from_sklearn("load_diabetes", "patient_id", "progression", labelled=False),
    ),
}


WORKFLOW = Path(".github") / "workflows" / "loopml.yml"


@dataclass(frozen=True)
class InitResult:
    folder: Path
    files: tuple[Path, ...]


def init_project(folder: Path, example: str, *, seed: int = 42) -> InitResult:
    """Write loopml.yaml, the example's data and a file of rows to score into ``folder``."""
    if example not in EXAMPLES:
        raise ConfigError(f"--example '{example}': unknown; use one of {', '.join(EXAMPLES)}")
    if (folder / "loopml.yaml").exists():
        raise ConfigError(f"{folder / 'loopml.yaml'} already exists; choose an empty folder")
    spec = EXAMPLES[example]
    frame = spec.load()
    (folder / "data").mkdir(parents=True, exist_ok=True)
    data_file = folder / "data" / f"{example}.csv"
    frame.to_csv(data_file, index=False)
    score_file = folder / "data" / "score_me.csv"
    frame.sample(n=min(50, len(frame)), random_state=seed).drop(columns=spec.target).to_csv(
        score_file, index=False
    )
    config = folder / "loopml.yaml"
    config.write_text(_config_text(example, spec, seed), encoding="utf-8")
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text(".loopml/\n", encoding="utf-8")
    return InitResult(folder, (config, data_file, score_file, ignore, *_templates(folder, spec)))


def _templates(folder: Path, spec: Example) -> tuple[Path, ...]:
    """DESIGN.md (the questions to answer first) and a CI workflow; kept if already there."""
    from importlib.resources import files

    templates = files("loopml") / "templates"
    name = folder.resolve().name
    design = (templates / "DESIGN.md").read_text(encoding="utf-8")
    design = design.format(name=name, target=spec.target, metric=spec.metric)
    workflow = (templates / "github-workflow.yml").read_text(encoding="utf-8")
    written = []
    for path, text in ((folder / "DESIGN.md", design), (folder / WORKFLOW, workflow)):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return tuple(written)


def _config_text(example: str, spec: Example, seed: int) -> str:
    body = {
        "name": example.replace("_", "-"),
        "data": {"source": f"data/{example}.csv", "target": spec.target},
        "split": {"test": 0.2, "validation": 0.2, "seed": seed},
        "metric": spec.metric,
        "tracking": {"uri": "sqlite:///.loopml/mlflow.db"},
    }
    header = (
        f"# loopml project: {spec.description}.\n"
        "# Column roles are inferred and printed by `loopml run`; declare them under\n"
        "# data.columns (numeric, categorical, text, datetime, id, ignore) to override.\n"
        "# Every key: `loopml config schema`. Override one for a run: --set split.seed=7\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False)
