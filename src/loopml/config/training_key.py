"""Training-cache policy: which settings change what training produces, and their hash.

``loopml train`` tags each run with :func:`training_key`; a run with the same key on the
same data fingerprint is reused instead of trained again, and the Optuna studies of a
search are stored under it. So a setting belongs here when it changes the fitted model
(data, split, models, metric, tuning, imbalance, calibration, threshold, refit rows) and
not when it only changes speed or where things go (``n_jobs``, tracking, serving).

Keys renamed in loopml.yaml are hashed under the name they had when first hashed, so a
rename does not make every earlier run and study look out of date.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.config.project import ProjectConfig

#: Renamed keys (path in the settings -> the name they are hashed under).
_HASHED_AS: dict[tuple[str, ...], str] = {("tuning", "budget", "timeout"): "seconds"}


def training_key(cfg: ProjectConfig) -> str:
    """Hash of every setting that changes what training produces.

    Parameters
    ----------
    cfg : ProjectConfig
        The validated project configuration.

    Returns
    -------
    str
        16 hex digits: the first 64 bits of the SHA-256 of :func:`training_settings`.
    """
    blob = json.dumps(training_settings(cfg), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def training_settings(cfg: ProjectConfig) -> dict[str, Any]:
    """Every setting that changes what training produces (:func:`training_key` hashes it).

    Parameters
    ----------
    cfg : ProjectConfig
        The validated project configuration.

    Returns
    -------
    dict
        Nested JSON-ready settings: data (without its source), split, models, metric,
        tuning (without n_jobs), imbalance, evaluation.{calibration, threshold}, and when
        they apply the columns kept out of the features, distributed training and the
        refit rows.
    """
    relevant = cfg.model_dump(
        include={"data", "split", "models", "metric", "tuning", "imbalance"}, mode="json"
    )
    relevant["evaluation"] = cfg.evaluation.model_dump(
        include={"calibration", "threshold"}, mode="json"
    )
    if cfg.evaluation.sensitive_excluded():  # only then do they change the features
        relevant["evaluation"]["not_features"] = cfg.evaluation.sensitive_excluded()
    relevant["data"].pop("source", None)  # the data fingerprint covers the content
    variants = relevant["data"].pop("variants", {})  # only the one trained on counts
    relevant["data"]["variant"] = variants.get(cfg.data.variant or "")
    relevant["tuning"].pop("n_jobs", None)  # how fast, not what: results do not depend on it
    if cfg.tuning.budget.time_limit is None:  # keys made before the setting existed stay
        relevant["tuning"]["budget"].pop("time_limit", None)
    if not cfg.tuning.budget.successive_halving:  # the same: only when it is on
        relevant["tuning"]["budget"].pop("successive_halving", None)
    if cfg.models.bagging.folds == 0:  # likewise: off, as before bagging existed
        relevant["models"].pop("bagging", None)
    if cfg.train.distributed:
        relevant["train"] = {"distributed": True, "sample_rows": cfg.train.sample_rows}
    if cfg.refit_rows() != "train":
        relevant["refit"] = cfg.refit_rows()
    for path, old in _HASHED_AS.items():
        *parents, new = path
        node = relevant
        for key in parents:
            node = node[key]
        node[old] = node.pop(new)
    return relevant
