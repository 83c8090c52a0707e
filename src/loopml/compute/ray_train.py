"""Data-parallel LightGBM and XGBoost on Ray Train, with checkpoints that a rerun resumes from.

Each worker trains on its shard of the (already preprocessed) training Dataset: LightGBM
with ``tree_learner: data_parallel`` over the network Ray Train sets up, XGBoost through
its collective. Every ``checkpoint_every`` rounds the model is saved under
``train.storage/<name>``; a run with the same name (same data, same settings) continues
from the latest checkpoint instead of starting again. Ray is imported here only.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.config import TrainConfig
from loopml.core.boosters import Library
from loopml.errors import TrainingError

LABEL = "__label__"
RESUMED = "loopml_resumed_from_round"


@dataclass(frozen=True)
class BoosterJob:
    library: Library
    params: dict[str, Any]  # the library's own parameters (BoosterModel.training_params)
    rounds: int
    name: str  # the checkpoint folder: same data and settings give the same name


@dataclass(frozen=True)
class TrainedBooster:
    model: str  # LightGBM model string or XGBoost JSON
    rounds: int
    resumed_from: int  # 0 when training started from scratch


def train_booster(job: BoosterJob, train: Any, cfg: TrainConfig) -> TrainedBooster:
    """Train ``job`` on Ray Dataset ``train`` (features, ``LABEL``) on ``cfg.n_jobs`` workers."""
    import ray.train

    trainer_cls = _trainer(job.library)
    trainer = trainer_cls(
        _train_loop,
        train_loop_config={"job": job, "every": cfg.checkpoint_every},
        scaling_config=ray.train.ScalingConfig(
            num_workers=cfg.n_jobs, resources_per_worker={"CPU": cfg.cpus_per_job}
        ),
        run_config=ray.train.RunConfig(name=job.name, storage_path=cfg.storage),
        datasets={"train": train},
    )
    try:
        result = trainer.fit()
    except Exception as exc:
        reason = str(exc).strip().splitlines()
        raise TrainingError(
            f"distributed {job.library} training '{job.name}' failed "
            f"({reason[-1] if reason else type(exc).__name__}); rerun to resume from "
            f"the last checkpoint in {cfg.storage}"
        ) from exc
    if result.checkpoint is None:
        raise TrainingError(f"distributed {job.library} training '{job.name}' saved no model")
    model = _model_text(job.library, result.checkpoint)
    resumed = int(result.metrics.get(RESUMED, 0))
    return TrainedBooster(model, job.rounds, resumed)


def forget(cfg: TrainConfig, name: str) -> None:
    """Remove a finished training's checkpoints, so that a forced rerun starts afresh."""
    folder = Path(cfg.storage) / name
    if "://" not in cfg.storage and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)


def _trainer(library: Library) -> Any:
    if library == "lightgbm":
        from ray.train.lightgbm import LightGBMTrainer

        return LightGBMTrainer
    from ray.train.xgboost import XGBoostTrainer

    return XGBoostTrainer


def _train_loop(config: dict[str, Any]) -> None:
    """Runs in each Ray Train worker: its shard, the latest checkpoint, the remaining rounds."""
    import ray.train

    job: BoosterJob = config["job"]
    shard = ray.train.get_dataset_shard("train").materialize().to_pandas()
    features = shard.drop(columns=LABEL).to_numpy(dtype="float64")
    label = shard[LABEL].to_numpy(dtype="float64")
    checkpoint = ray.train.get_checkpoint()
    if job.library == "lightgbm":
        _train_lightgbm(job, features, label, checkpoint, config["every"])
    else:
        _train_xgboost(job, features, label, checkpoint, config["every"])


def _train_lightgbm(job: BoosterJob, X: Any, y: Any, checkpoint: Any, every: int) -> None:
    import lightgbm
    from ray.train.lightgbm import RayTrainReportCallback, get_network_params

    start = RayTrainReportCallback.get_model(checkpoint) if checkpoint else None
    done = start.current_iteration() if start else 0
    callback = _checkpoints_only(RayTrainReportCallback, done)
    params = {**job.params, "tree_learner": "data_parallel", "pre_partition": True}
    lightgbm.train(
        {**params, **get_network_params()},
        lightgbm.Dataset(X, y, free_raw_data=False),
        num_boost_round=max(job.rounds - done, 0),
        init_model=start,
        callbacks=[callback(frequency=every)],
    )


def _train_xgboost(job: BoosterJob, X: Any, y: Any, checkpoint: Any, every: int) -> None:
    import xgboost
    from ray.train.xgboost import RayTrainReportCallback

    start = RayTrainReportCallback.get_model(checkpoint) if checkpoint else None
    done = start.num_boosted_rounds() if start else 0
    callback = _checkpoints_only(RayTrainReportCallback, done)
    xgboost.train(
        job.params,
        xgboost.DMatrix(X, y),
        num_boost_round=max(job.rounds - done, 0),
        xgb_model=start,
        callbacks=[callback(frequency=every)],
    )


def _checkpoints_only(report_callback: Any, done: int) -> Any:
    """Ray's report callback, reporting at checkpoints only, each tagged with ``done``.

    A report per round is a barrier across workers, so rounds between checkpoints report
    nothing. Every checkpoint carries the round training resumed from, for the driver to
    tell; it is added where the checkpoint is saved, because XGBoost's end-of-training
    checkpoint skips Ray's ``results_postprocessing_fn`` when there are no eval sets.
    """

    class CheckpointsOnly(report_callback):
        def _report_metrics(self, report_dict: dict[str, Any]) -> None:
            pass

        def _save_and_report_checkpoint(self, report_dict: dict[str, Any], model: Any) -> None:
            super()._save_and_report_checkpoint({**report_dict, RESUMED: done}, model)

    return CheckpointsOnly


def _model_text(library: Library, checkpoint: Any) -> str:
    if library == "lightgbm":
        from ray.train.lightgbm import RayTrainReportCallback as LightGBMReport

        return str(LightGBMReport.get_model(checkpoint).model_to_string())
    from ray.train.xgboost import RayTrainReportCallback as XGBoostReport

    return bytes(XGBoostReport.get_model(checkpoint).save_raw("json")).decode()
