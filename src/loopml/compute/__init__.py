"""Compute backends behind one interface (``Compute``): where loopml's heavy work runs.

``make`` picks the backend from the configuration: ``LocalCompute`` (this machine) or, for
``compute.backend: ray``, ``RayCompute``; with ``train.distributed`` the training runs on
``RayTrainCompute``. Ray is imported only when a Ray backend does some work.
"""

from __future__ import annotations

from loopml.compute.base import Compute, Resume, Sample
from loopml.compute.local import LocalCompute
from loopml.config import ComputeConfig, TrainConfig


def make(cfg: ComputeConfig, train: TrainConfig | None = None) -> Compute:
    """The backend for ``compute`` (and, for training, ``train``).

    Parameters
    ----------
    cfg : ComputeConfig
        ``compute.backend`` (``local`` or ``ray``), ``compute.address``, ``compute.n_jobs``.
    train : TrainConfig, optional
        The training settings, for the workflows that train or read training data:
        ``train.distributed`` trains on Ray (Ray Data and Ray Train) whatever the backend.

    Returns
    -------
    Compute
        ``RayTrainCompute`` with ``train.distributed``, else ``RayCompute`` for
        ``compute.backend: ray``, else ``LocalCompute``.
    """
    from loopml.compute.ray_backend import RayCompute, RayTrainCompute  # Ray itself stays lazy

    if train is not None and train.distributed:
        return RayTrainCompute(cfg, train)
    if cfg.backend == "ray":
        return RayCompute(cfg)
    return LocalCompute(cfg)


__all__ = ["Compute", "LocalCompute", "Resume", "Sample", "make"]
