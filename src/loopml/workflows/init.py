"""`loopml init`: a new project folder, from your own data file or from an example.

``init_from_data`` reads the file as ``loopml run`` will (the detected CSV dialect, the
data contract's column kinds, the inferred roles and task) and writes a ``loopml.yaml``
that spells out what it found, one comment per choice, for the user to correct.
``init_project`` writes an example that ships with scikit-learn.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from loopml import __version__
from loopml.config import ColumnsConfig, Task
from loopml.core.data import checks, contract, ingest
from loopml.core.data.dialect import CsvDialect
from loopml.core.data.roles import ColumnRoles, infer_roles, infer_task
from loopml.errors import ConfigError, DataError


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
    """The project folder, the files written, and what was read (``init_from_data``)."""

    folder: Path
    files: tuple[Path, ...]
    found: tuple[str, ...] = ()


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
    written = _templates(folder, spec.target, spec.metric)
    return InitResult(folder, (config, data_file, score_file, ignore, *written))


def _templates(folder: Path, target: str, metric: str) -> tuple[Path, ...]:
    """DESIGN.md (the questions to answer first) and a CI workflow; kept if already there."""
    from importlib.resources import files

    templates = files("loopml") / "templates"
    name = folder.resolve().name
    design = (templates / "DESIGN.md").read_text(encoding="utf-8")
    design = design.format(name=name, target=target, metric=metric)
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


# A data file up to this size is copied into the project's data/ folder; a larger one is
# referenced where it is.
COPY_LIMIT_BYTES = 100 * 1024 * 1024
_ROLE_ORDER = ("numeric", "categorical", "text", "datetime", "id", "ignore")


@dataclass(frozen=True)
class _Reading:
    """What ``init_from_data`` learned from the file."""

    dialect: CsvDialect | None
    task: Task
    metric: str
    roles: ColumnRoles
    date_formats: dict[str, str]
    target_note: str
    warnings: tuple[str, ...]


def init_from_data(folder: Path, data: Path, target: str, *, seed: int = 42) -> InitResult:
    """Write ``loopml.yaml`` for ``data`` (a .csv, .tsv, .parquet or .jsonl file) into ``folder``.

    The file is read through the same detection and data contract as ``loopml run``; the
    configuration states the dialect, the roles, the task and the metric found. The file
    is copied into ``folder/data/`` (or referenced where it is when larger than 100 MiB,
    or already inside ``folder``). Raises ``DataError`` for a missing or unreadable file,
    ``ConfigError`` when ``target`` is not a column or ``folder`` already has a project,
    ``DataValidationError`` when the target holds nothing to learn; nothing is written then.
    """
    if not data.is_file():
        raise DataError(f"--data {data}: no such file; give the path of a .csv, .parquet or .jsonl")
    ingest.file_kind(str(data))
    if (folder / "loopml.yaml").exists():
        raise ConfigError(f"{folder / 'loopml.yaml'} already exists; choose an empty folder")
    table = ingest.read_table(str(data))
    reading = _read(table, target, data)
    folder.mkdir(parents=True, exist_ok=True)
    source, copied = _place(folder, data)
    config = folder / "loopml.yaml"
    config.write_text(_data_config_text(folder, data, source, target, reading, seed), "utf-8")
    ignore = folder / ".gitignore"
    written = [config, *copied]
    if not ignore.exists():
        ignore.write_text(".loopml/\n", encoding="utf-8")
        written.append(ignore)
    written += _templates(folder, target, reading.metric)
    found = (
        *((reading.dialect.describe(str(data)),) if reading.dialect else ()),
        f"task {reading.task} ({reading.target_note}); metric {reading.metric}",
        *reading.warnings,
    )
    return InitResult(folder, tuple(written), found)


def _read(table: ingest.Table, target: str, data: Path) -> _Reading:
    """The kinds, roles, task and metric of ``table``, as training will find them."""
    columns = [str(c) for c in table.frame.columns]
    if target not in columns:
        close = difflib.get_close_matches(target, columns, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"columns are: {', '.join(columns[:20])}"
        raise ConfigError(f"--target '{target}' is not a column of {data}; {hint}")
    dialect = table.dialect
    learned = contract.learn(
        table.frame,
        target=target,
        decimal=dialect.decimal if dialect else ".",
        thousands=dialect.thousands if dialect else "",
    )
    frame = learned.apply(table.frame, source=str(data))
    task = infer_task(frame[target], "auto")
    frame, label_warnings = checks.check_target(frame, target, task)
    hints = {rule.name: kind for rule in learned.columns if (kind := rule.role_hint())}
    roles = infer_roles(frame, target, ColumnsConfig(), hints)
    formats = {
        rule.name: rule.date_format
        for rule in learned.columns
        if rule.name in roles.datetime and rule.date_format
    }
    metric, note = _metric_for(frame[target], task)
    return _Reading(
        dialect,
        task,
        metric,
        roles,
        formats,
        note,
        tuple(learned.warnings() + label_warnings),
    )


def _metric_for(labels: pd.Series, task: Task) -> tuple[str, str]:
    """The metric to select models by, and a note on the target that explains it."""
    if task == "regression":
        return "r2", f"{labels.nunique():,} distinct numbers"
    counts = labels.value_counts()
    shown = ", ".join(f"{label} {n:,}" for label, n in counts.head(5).items())
    more = f", … {len(counts) - 5} more" if len(counts) > 5 else ""
    return "f1_macro", f"{len(counts)} classes: {shown}{more}"


def _place(folder: Path, data: Path) -> tuple[str, tuple[Path, ...]]:
    """Where loopml.yaml finds the data (relative to ``folder`` when it can), and copies."""
    resolved, home = data.resolve(), folder.resolve()
    if resolved.is_relative_to(home):
        return resolved.relative_to(home).as_posix(), ()
    if resolved.stat().st_size > COPY_LIMIT_BYTES:
        return str(resolved), ()
    target = folder / "data" / data.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data, target)
    return f"data/{data.name}", (target,)


def _q(value: object) -> str:
    """``value`` as a YAML scalar: JSON's double-quoted strings are valid YAML and keep any
    character of a column name (``:``, ``#``, quotes, brackets) as written."""
    return json.dumps(value, ensure_ascii=False)


def _data_config_text(
    folder: Path, data: Path, source: str, target: str, reading: _Reading, seed: int
) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", data.stem).strip("-._") or "project"
    lines = [
        f"# loopml project for {data.name}, written by `loopml init --data` from the file itself.",
        "# Everything below was read from the data: check it, correct what is wrong, then run",
        "# `loopml run`. Every key: `loopml config schema`; one run only: --set split.seed=7",
        f"name: {_q(name)}",
        "data:",
        f"  source: {_q(source)}",
        f"  target: {_q(target)}",
        f"  task: {reading.task}  # {reading.target_note}",
    ]
    if reading.dialect is not None:
        lines += _csv_lines(reading.dialect)
    lines += _column_lines(reading)
    lines += [
        "split:  # rows held out: validation picks the model, test scores it once",
        "  test: 0.2",
        "  validation: 0.2",
        f"  seed: {seed}",
        f"metric: {reading.metric}  # {_METRIC_NOTES[reading.metric]}",
        "tracking:",
        "  uri: sqlite:///.loopml/mlflow.db  # runs and models stay in this folder",
    ]
    return "\n".join(lines) + "\n"


_METRIC_NOTES = {
    "f1_macro": "F1 per class, averaged: a rare class counts as much as a common one",
    "r2": "share of the target's variance explained, 1 is perfect; or rmse, mae",
}


def _csv_lines(found: CsvDialect) -> list[str]:
    return [
        "  csv:  # how the file is written, as detected; fix a wrong one here",
        f"    sep: {_q(found.sep)}",
        f"    decimal: {_q(found.decimal)}  # the decimal mark of numbers",
        f"    thousands: {_q(found.thousands)}  # the digit-group separator, '' for none",
        f"    encoding: {found.encoding}",
    ]


def _column_lines(reading: _Reading) -> list[str]:
    """``data.columns``: each column under its inferred role, with why, one per line."""
    lines = ["  columns:  # roles inferred from the values; move a column to change its role"]
    for role in _ROLE_ORDER:
        names = getattr(reading.roles, role)
        if not names:
            continue
        # Dates as {column: format} when every one has a learned format, else a list.
        dated = role == "datetime" and all(c in reading.date_formats for c in names)
        lines.append(f"    {role}:")
        for column in names:
            why = reading.roles.inferred.get(column, role).partition(" ")[2].strip("()")
            if dated:
                lines.append(f"      {_q(column)}: {_q(reading.date_formats[column])}  # {why}")
            else:
                lines.append(f"      - {_q(column)}  # {why}")
    return lines
