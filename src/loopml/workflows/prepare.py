"""Load, check and split the project's data: the first stages of every training."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from loopml import compute
from loopml.config import ProjectConfig, Task
from loopml.core.data import checks, contract, ingest, split, variants
from loopml.core.data.contract import DataContract
from loopml.core.data.roles import ALL_ROLES, ColumnRoles, infer_roles, infer_task
from loopml.core.evaluation import fairness
from loopml.core.features import category_key
from loopml.errors import ConfigError, DataValidationError
from loopml.workflows.events import Reporter

if TYPE_CHECKING:
    from loopml.compute.ray_prepare import PlacedRows


@dataclass(frozen=True)
class Checked:
    """The data as checked: rows with a label, the task, every column's role, the warnings."""

    frame: pd.DataFrame
    task: Task
    roles: ColumnRoles
    warnings: tuple[str, ...]
    contract: DataContract


@dataclass(frozen=True)
class Prepared:
    frame: pd.DataFrame
    target: str
    task: Task
    roles: ColumnRoles
    splits: split.Splits
    fingerprint: str
    warnings: tuple[str, ...]
    contract: DataContract
    # train.distributed: frame and splits hold a sample of data.source's whole_rows rows,
    # and on_ray (in training) every row, split, on Ray.
    whole_rows: int | None = None
    on_ray: PlacedRows | None = None
    variant: variants.VariantChange | None = None  # data.variant's change, when one is used

    @property
    def all_here(self) -> bool:
        """Whether every row of the data is in ``frame`` (not a sample, nothing on Ray)."""
        return self.on_ray is None and self.whole_rows is None

    def sizes(self) -> dict[str, int]:
        """Rows in each split: of the whole data when only a sample of it is here."""
        return self.on_ray.sizes if self.on_ray else self.splits.sizes()


def prepare(
    cfg: ProjectConfig,
    reporter: Reporter,
    *,
    leak_stops: bool = True,
    table: ingest.Table | None = None,
) -> Prepared:
    """Read the data, check it, infer roles and split it. Raises on anything unusable.

    ``leak_stops=False`` (profiling) turns a leaking column into one more warning; ``table``
    is the data already read (a sample of ``data.source``, for profiling on Ray).
    """
    if table is None:
        reporter.stage(f"Loading {cfg.data.source}")
        table = ingest.load_table(cfg.data)
    found = check(cfg, table, reporter, leak_stops=leak_stops)
    splits = split.make(found.frame, cfg.split, cfg.data.target, found.task)
    for note in splits.notes:
        reporter.warn(note)
    fingerprint, change = ingest.fingerprint(found.frame), None
    if cfg.data.variant is not None:
        splits, change = _varied(cfg, found, splits)
        reporter.stage(change.describe().capitalize())
        fingerprint = hashlib.sha256(f"{fingerprint}|{change.fingerprint}".encode()).hexdigest()
        fingerprint = fingerprint[:16]
    return Prepared(
        found.frame,
        cfg.data.target,
        found.task,
        found.roles,
        splits,
        fingerprint,
        found.warnings + splits.notes,
        found.contract,
        variant=change,
    )


def _varied(
    cfg: ProjectConfig, found: Checked, splits: split.Splits
) -> tuple[split.Splits, variants.VariantChange]:
    """The splits with ``data.variant``'s changes (see ``core.data.variants``)."""
    name = cfg.data.variant
    assert name is not None
    compute.make(cfg.compute, cfg.train).check_variant(name)
    settings = cfg.data.variants[name]
    target = cfg.data.target
    rows = found.frame.index
    exclude: set[int] = set()
    relabel: dict[int, object] = {}
    if settings.exclude_rows:
        listed = _listed_rows(settings.exclude_rows, rows, f"data.variants.{name}.exclude_rows")
        exclude = set(listed["row"])
    if settings.relabel:
        key = f"data.variants.{name}.relabel"
        listed = _listed_rows(settings.relabel, rows, key)
        column = target if target in listed.columns else "suggested"
        if column not in listed.columns:
            raise ConfigError(
                f"{settings.relabel} ({key}): no '{target}' or 'suggested' column with the "
                "corrected labels; add one"
            )
        relabel = _labels(listed, column, found.frame[target], found.task, settings.relabel)
    return variants.apply_variant(splits, target, name, exclude, relabel)


def _listed_rows(path: str, rows: pd.Index, key: str) -> pd.DataFrame:
    """The file's rows, with a valid 'row' column: numbers of rows of the data file."""
    if not Path(path).is_file():
        raise ConfigError(f"{key}: no file {path}; fix the path (relative to loopml.yaml)")
    listed = ingest.read_file(path)
    if "row" not in listed.columns:
        raise ConfigError(
            f"{path} ({key}): no 'row' column; list the rows by their number in the data "
            "file, 0 for the first data row (as loopml data issues -o writes them)"
        )
    numbers = pd.to_numeric(listed["row"], errors="coerce")
    wrong = numbers.isna() | (numbers % 1 != 0) | (numbers < 0)
    if wrong.any():
        line = int(np.flatnonzero(wrong.to_numpy())[0]) + 2
        raise DataValidationError(
            f"{path}: line {line}, column 'row': {listed['row'].iloc[line - 2]!r} is not a row "
            "number (0, 1, …); fix it"
        )
    largest = int(rows.max()) if len(rows) else -1
    beyond = numbers > largest
    if beyond.any():
        line = int(np.flatnonzero(beyond.to_numpy())[0]) + 2
        raise DataValidationError(
            f"{path}: line {line}, column 'row': {int(numbers.iloc[line - 2])} is beyond the "
            f"data, whose rows are 0-{largest}; fix it"
        )
    return listed.assign(row=numbers.astype(int))


def _labels(
    listed: pd.DataFrame, column: str, labels: pd.Series, task: Task, path: str
) -> dict[int, object]:
    """row -> corrected label, typed as ``labels`` (the target) is: one of its classes, or a
    number. Rows with no corrected label are skipped."""
    given = listed[listed[column].notna()]
    if task == "classification":
        classes = {category_key(c): c for c in labels.unique()}
        out: dict[int, object] = {}
        for line, row, value in zip(given.index + 2, given["row"], given[column], strict=True):
            key = category_key(value)
            if key not in classes:
                shown = ", ".join(sorted(classes)[:10])
                raise DataValidationError(
                    f"{path}: line {line}, column '{column}': {value!r} is not a class of the "
                    f"data ({shown}); fix it"
                )
            out[int(row)] = classes[key]
        return out
    numbers = pd.to_numeric(given[column], errors="coerce")
    if numbers.isna().any():
        line = int(given.index[int(np.flatnonzero(numbers.isna().to_numpy())[0])]) + 2
        raise DataValidationError(f"{path}: line {line}, column '{column}': not a number; fix it")
    return {int(r): float(v) for r, v in zip(given["row"], numbers, strict=True)}


def check(
    cfg: ProjectConfig, table: ingest.Table, reporter: Reporter, *, leak_stops: bool = True
) -> Checked:
    """Everything between reading and splitting: the data contract, columns, target, task,
    roles, leakage. ``table`` is the data as read; the result holds it typed."""
    if table.dialect is not None:
        reporter.stage(table.dialect.describe(table.source))
    checks.check_columns_exist(table.frame, cfg.data, cfg.split.time_column)
    fairness.check_columns(cfg.evaluation.sensitive, table.frame.columns, cfg.data.target)
    learned = learn_contract(cfg, table)
    frame = learned.apply(
        table.frame,
        source=table.source,
        fix="declare the column's role in data.columns, or clean the value",
    )
    task = infer_task(frame[cfg.data.target], cfg.data.task)
    frame, warnings = checks.check_target(frame, cfg.data.target, task)
    warnings = learned.warnings() + warnings
    hints = {r.name: hint for r in learned.columns if (hint := r.role_hint())}
    declared = fairness.declared_roles(cfg.data.columns, cfg.evaluation)
    roles = infer_roles(frame, cfg.data.target, declared, hints)
    if cfg.evaluation.sensitive_excluded():
        reporter.stage(
            f"Not features, audited for fairness: {', '.join(cfg.evaluation.sensitive_excluded())}"
            " (evaluation.sensitive_is_feature: false); served rows may hold them, unread"
        )
    if not roles.features:
        raise DataValidationError(
            f"{cfg.data.source}: no feature columns left after removing the target, ids and "
            "ignored columns; declare roles in data.columns"
        )
    reporter.stage(f"Validating {len(frame):,} rows x {frame.shape[1]} columns ({task})")
    checks.check_roles(frame, roles)
    warnings += checks.describe_frame(frame, roles)
    try:
        checks.check_leakage(frame, cfg.data.target, task, roles)
    except DataValidationError as exc:
        if leak_stops:
            raise
        warnings.append(str(exc))
    for message in warnings:
        reporter.warn(message)
    found = learned.with_roles({c: r for r in ALL_ROLES for c in getattr(roles, r)})
    return Checked(frame, task, roles, tuple(warnings), found)


def learn_contract(cfg: ProjectConfig, table: ingest.Table) -> DataContract:
    """The data contract of ``table``, with the kinds and formats declared in ``data``."""
    found = table.dialect
    like = None
    if cfg.data.contract:
        path = Path(cfg.data.contract)
        try:
            like = DataContract.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"data.contract '{path}': not a readable data_contract.json ({exc}); "
                "point it at one a loopml run logged, or remove the key"
            ) from None
    return contract.learn(
        table.frame,
        target=cfg.data.target,
        declared=cfg.data.columns.declared(),
        date_formats=cfg.data.columns.date_formats(),
        decimal=found.decimal if found else ".",
        thousands=found.thousands if found else "",
        dialect=found.as_dict() if found else (like.dialect if like else {}),
        like=like,
    )
