"""`loopml init`: a new project folder from an example that ships with scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from loopml import __version__
from loopml.errors import ConfigError


@dataclass(frozen=True)
class Example:
    description: str
    id_column: str
    target: str
    metric: str
    loader: str  # the sklearn.datasets function
    labelled: bool  # classification: the target holds the class names

    def load(self) -> pd.DataFrame:
        """The bundled scikit-learn dataset with an id column and a named target."""
        import sklearn.datasets

        load = getattr(sklearn.datasets, self.loader)
        bunch = load(as_frame=True, **({} if self.labelled else {"scaled": False}))
        frame = bunch.frame.drop(columns="target")
        frame.insert(0, self.id_column, np.arange(1, len(frame) + 1))
        codes = bunch.frame["target"]
        labels = np.asarray(bunch.target_names)[codes] if self.labelled else codes
        frame[self.target] = labels
        return frame


EXAMPLES: dict[str, Example] = {
    "breast_cancer": Example(
        "binary classification, 569 tumours",
        "patient_id",
        "diagnosis",
        "f1_macro",
        "load_breast_cancer",
        labelled=True,
    ),
    "wine": Example(
        "multiclass classification, 178 wines",
        "bottle_id",
        "cultivar",
        "f1_macro",
        "load_wine",
        labelled=True,
    ),
    "diabetes": Example(
        "regression, 442 patients",
        "patient_id",
        "progression",
        "r2",
        "load_diabetes",
        labelled=False,
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
    workflow = workflow_text()
    written = []
    for path, text in ((folder / "DESIGN.md", design), (folder / WORKFLOW, workflow)):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return tuple(written)


def workflow_text() -> str:
    """The GitHub Actions workflow `loopml init` writes: it installs this very loopml version."""
    from importlib.resources import files

    template = (files("loopml") / "templates" / "github-workflow.yml").read_text(encoding="utf-8")
    return template.replace("{loopml_version}", __version__)


def _config_text(example: str, spec: Example, seed: int) -> str:
    body = {
        "name": example.replace("_", "-"),
        "data": {"source": f"data/{example}.csv", "target": spec.target},
        "split": {"test": 0.2, "validation": 0.2, "seed": seed},
        "metric": spec.metric,
        "tracking": {"uri": "sqlite:///.loopml/mlflow.db"},
        "behavioral": [
            {
                "name": f"ignores {spec.id_column}",
                "kind": "invariance",
                "column": spec.id_column,
                "values": [0, 1_000_000],
            }
        ],
    }
    header = (
        f"# loopml project: {spec.description}.\n"
        "# Column roles are inferred and printed by `loopml run`; declare them under\n"
        "# data.columns (numeric, categorical, text, datetime, id, ignore) to override.\n"
        "# Every key: `loopml config schema`. Override one for a run: --set split.seed=7\n"
        "# behavioral: what the model must get right, checked by `loopml test` and the gate;\n"
        "# the first one says an id must not change a prediction. Add your own.\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False)
