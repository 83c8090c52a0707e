"""`loopml rollback`: move `champion` back to an earlier version that passed the gate.

No re-evaluation: the version passed the gate when it was promoted (its
``loopml.gate.decision`` tag says so) and the rollback is a human's decision, recorded
on the version with who, when, why and from which version. A running ``loopml serve``
follows the alias by hot reload.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

import pandas as pd

from loopml.config import ProjectConfig
from loopml.errors import ConfigError, ModelNotFoundError, TrackingError
from loopml.tracking import registry
from loopml.tracking.store import CHAMPION, Tracker
from loopml.workflows.promote import DECISION_TAG

ROLLBACK_TAGS = ("reason", "by", "at", "from")


@dataclass(frozen=True)
class RollbackResult:
    version: str
    previous: str


def rollback(cfg: ProjectConfig, version: str | None, reason: str) -> RollbackResult:
    """Point `champion` at ``version`` (default: the newest earlier version that passed)."""
    if not reason.strip():
        raise ConfigError("--reason is empty; say why the champion is rolled back")
    tracker = Tracker.from_config(cfg)
    current = tracker.alias_version(CHAMPION)
    if current is None:
        raise ModelNotFoundError(
            f"model '{cfg.model_name}' has no champion to roll back; see `loopml runs`"
        )
    passed = _passed_versions(tracker)
    target = _target(cfg.model_name, version, current, passed)
    tags = {
        "loopml.rollback.reason": reason.strip(),
        "loopml.rollback.by": getpass.getuser(),
        "loopml.rollback.at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "loopml.rollback.from": current,
    }
    registry.tag_version(tracker, target, tags)
    try:
        registry.set_alias(tracker, CHAMPION, target)
    except Exception as exc:
        for key in tags:
            tracker.client.delete_model_version_tag(cfg.model_name, target, key)
        raise TrackingError(
            f"moving champion to v{target} failed ({exc}); champion is still v{current}"
        ) from exc
    return RollbackResult(target, current)


def _passed_versions(tracker: Tracker) -> dict[str, bool]:
    """Every version of the model and whether the gate passed it when it was checked."""
    found = tracker.client.search_model_versions(f"name = '{tracker.model_name}'")
    return {str(v.version): v.tags.get(DECISION_TAG) == "passed" for v in found}


def _target(name: str, wanted: str | None, current: str, passed: dict[str, bool]) -> str:
    earlier = sorted((int(v) for v in passed if int(v) < int(current)), reverse=True)
    if wanted is None:
        for number in earlier:
            if passed[str(number)]:
                return str(number)
        raise ModelNotFoundError(
            f"no version of '{name}' before the champion v{current} passed the gate; "
            "nothing to roll back to (see `loopml runs`)"
        )
    wanted = wanted.strip().removeprefix("v")
    if wanted not in passed:
        raise ModelNotFoundError(
            f"'{wanted}' is not a version of model '{name}'; see `loopml runs`"
        )
    if int(wanted) >= int(current):
        raise ConfigError(
            f"v{wanted} is not earlier than the champion v{current}; "
            f"roll back to one of {', '.join(map(str, earlier)) or 'none'}, "
            "or use `loopml promote` to move forward"
        )
    if not passed[wanted]:
        raise ConfigError(
            f"v{wanted} did not pass the gate when it was checked ({DECISION_TAG} is not "
            f"'passed'); roll back only to a version that did, or `loopml promote {wanted}`"
        )
    return wanted
