"""Load, check and split the project's data: the first stages of every training."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from loopml.config import ProjectConfig, Task
from loopml.core.data import checks, contract, ingest, split
from loopml.core.data.contract import DataContract
from loopml.core.data.roles import ALL_ROLES, ColumnRoles, infer_roles, infer_task
from loopml.core.evaluation import fairness
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
    return Prepared(
        found.frame,
        cfg.data.target,
        found.task,
        found.roles,
        splits,
        ingest.fingerprint(found.frame),
        found.warnings + splits.notes,
        found.contract,
    )


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
