"""Reading loopml.yaml: load once at the edge, pass sub-configs down.

``load_config`` reads the file, applies ``--set a.b=value`` overrides, validates
with pydantic and resolves relative paths against the file's folder. Every problem
becomes one line that names the key, e.g. ``loopml.yaml: data.tagret: unknown key;
did you mean 'target'?``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from loopml.config._base import RENAMED_TWICE, other_names
from loopml.config.project import ProjectConfig
from loopml.errors import ConfigError


def load_config(path: Path, overrides: list[str] | None = None) -> ProjectConfig:
    """Read, override, validate and resolve a loopml.yaml."""
    raw = _read_yaml(path)
    for item in overrides or []:
        _apply_override(raw, item)
    try:
        cfg = ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        given = _given_keys(overrides or [])
        raise ConfigError("\n".join(_describe(path.name, exc, given))) from None
    return _resolved(cfg, path.resolve().parent)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such file; run `loopml init` to create one or pass --config PATH"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{path.name}:{where}: invalid YAML ({problem}); fix the syntax"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: expected a mapping of keys, got {type(raw).__name__}")
    return raw


_OVERRIDE = re.compile(r"^([A-Za-z_][\w-]*(?:\.[\w-]+)*)=(.*)$", re.DOTALL)


def _apply_override(raw: dict[str, Any], item: str) -> None:
    match = _OVERRIDE.match(item)
    if not match:
        raise ConfigError(f"--set '{item}': expected KEY.PATH=VALUE, e.g. --set split.seed=7")
    keys, text = match.group(1).split("."), match.group(2)
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        value = text
    node = raw
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set '{item}': '{key}' holds a value, not a section of keys")
        node = child
    for other in other_names(".".join(keys[:-1]), keys[-1]):
        node.pop(other, None)  # the same setting under its old or new name: --set wins
    node[keys[-1]] = value


def _given_keys(overrides: list[str]) -> set[tuple[str, ...]]:
    """The keys set on the command line, under every name they have (a renamed key's error
    names its current name)."""
    given: set[tuple[str, ...]] = set()
    for match in filter(None, map(_OVERRIDE.match, overrides)):
        keys = tuple(match.group(1).split("."))
        given.add(keys)
        given |= {(*keys[:-1], other) for other in other_names(".".join(keys[:-1]), keys[-1])}
    return given


def _describe(
    filename: str, exc: ValidationError, given: set[tuple[str, ...]] | None = None
) -> list[str]:
    """One line per problem; a misspelt required key is one problem, not two. A problem
    at (or under) a key set on the command line (``--set``, or a flag such as
    ``--time-limit``: keys ``given``) names the command line, not the file."""
    errors = exc.errors()
    given = given or set()
    typos = {
        (*err["loc"][:-1], suggestion)
        for err in errors
        if err["type"] == "extra_forbidden" and (suggestion := _closest(err["loc"]))
    }
    lines = []
    for err in errors:
        loc = ".".join(str(part) for part in err["loc"])
        parts = tuple(str(part) for part in err["loc"])
        where = "command line" if any(parts[: len(key)] == key for key in given) else filename
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: {loc}: unknown key{_suggest(err['loc'])}")
        elif err["type"] == "missing" and tuple(err["loc"]) not in typos:
            lines.append(f"{where}: {loc}: required key is missing")
        elif err["type"] == RENAMED_TWICE:
            lines.append(f"{where}: {err['msg']}")
        elif err["type"] != "missing":
            msg = err["msg"].removeprefix("Value error, ")
            if not loc:  # a rule across sections: its message names the keys
                lines.append(f"{where}: {msg}")
            else:
                lines.append(f"{where}: {loc}: {msg} (got {err.get('input')!r})")
    return lines


def _suggest(loc: tuple[Any, ...]) -> str:
    close = _closest(loc)
    if close:
        return f"; did you mean '{close}'?"
    model = _section(loc)
    return f"; known keys: {', '.join(model.model_fields)}" if model else ""


def _closest(loc: tuple[Any, ...]) -> str | None:
    model = _section(loc)
    if model is None:
        return None
    names = {name: name for name in model.model_fields}  # a key -> the name to suggest
    names |= {old: renamed.new for old, renamed in getattr(model, "_renamed", {}).items()}
    close = difflib.get_close_matches(str(loc[-1]), list(names), n=1)
    return names[close[0]] if close else None


def _section(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model holding the key at ``loc``, or None inside free-form values."""
    model: type[BaseModel] = ProjectConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _resolved(cfg: ProjectConfig, root: Path) -> ProjectConfig:
    cfg._root = root
    data = cfg.data
    if not data.is_sql() and "://" not in data.source:
        data.source = str((root / data.source).resolve())
    else:
        data.source = _absolute_sqlite(data.source, root)
    cfg.tracking.uri = _absolute_sqlite(cfg.tracking.uri, root)
    for variant in data.variants.values():  # files named relative to loopml.yaml
        for key in ("exclude_rows", "relabel"):
            path = getattr(variant, key)
            if path is not None:
                setattr(variant, key, str((root / path).resolve()))
    if "://" not in cfg.train.storage:
        cfg.train.storage = str((root / cfg.train.storage).resolve())
    if "://" not in cfg.tracking.artifacts:
        cfg.tracking.artifacts = str((root / cfg.tracking.artifacts).resolve())
    return cfg


def _absolute_sqlite(uri: str, root: Path) -> str:
    """`sqlite:///rel.db` is relative to the cwd in SQLAlchemy; make it relative to root."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and ":memory:" not in uri:
        return prefix + str((root / uri[len(prefix) :]).resolve())
    return uri
