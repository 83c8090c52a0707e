"""LightGBM and XGBoost boosters as one scikit-learn estimator, trainable here or elsewhere.

``BoosterModel.fit`` trains on this machine. Data-parallel training (Ray Train, in
``loopml.compute.ray_train``) uses the same ``training_params`` and hands the result back
through ``adopt``, so a booster trained on a cluster is scored, logged and served exactly
like one trained locally. The model is kept as text (LightGBM's model string, XGBoost's
JSON), which saves and loads with the pipeline without trusting any extra type.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if

from loopml.config import Task
from loopml.errors import ConfigError

Library = Literal["lightgbm", "xgboost"]
LIBRARIES: tuple[Library, ...] = ("lightgbm", "xgboost")
ROUNDS_PARAM = "n_estimators"


class BoosterModel(BaseEstimator):
    """A gradient-boosted model from LightGBM or XGBoost, on numeric feature matrices.

    Parameters
    ----------
    library : {"lightgbm", "xgboost"}, default "lightgbm"
    task : {"classification", "regression"}, default "classification"
    params : dict of str to Any or None, default None
        The library's own parameters; they override the defaults of ``training_params``.
    rounds : int, default 300
        Boosting rounds.
    seed : int, default 42
    """

    def __init__(
        self,
        library: Library = "lightgbm",
        task: Task = "classification",
        params: dict[str, Any] | None = None,
        rounds: int = 300,
        seed: int = 42,
    ):
        self.library = library
        self.task = task
        self.params = params
        self.rounds = rounds
        self.seed = seed

    def training_params(self, n_classes: int) -> dict[str, Any]:
        """The library's own parameters: objective for the task, seed, then the user's.

        Parameters
        ----------
        n_classes : int
            Number of classes (more than 2 selects the multiclass objective).

        Returns
        -------
        dict of str to Any
            LightGBM: objective binary / multiclass / regression, ``num_threads`` 1;
            XGBoost: binary:logistic / multi:softprob / reg:squarederror, ``nthread`` 1;
            ``num_class`` for multiclass; ``params`` last.

        Raises
        ------
        loopml.errors.ConfigError
            ``library`` is neither lightgbm nor xgboost.
        """
        if self.library not in LIBRARIES:
            raise ConfigError(f"booster library '{self.library}': use lightgbm or xgboost")
        multi = self.task == "classification" and n_classes > 2
        base: dict[str, Any]
        if self.library == "lightgbm":
            objective = "multiclass" if multi else {"regression": "regression"}.get(self.task)
            base = {"objective": objective or "binary", "seed": self.seed, "verbosity": -1}
            base["num_threads"] = 1
        else:
            objective = (
                "multi:softprob" if multi else {"regression": "reg:squarederror"}.get(self.task)
            )
            base = {"objective": objective or "binary:logistic", "seed": self.seed, "nthread": 1}
        if multi:
            base["num_class"] = n_classes
        return {**base, **(self.params or {})}

    def encode_labels(self, y: Any) -> np.ndarray:
        """Class labels as 0..k-1 (classification) or floats (regression); sets ``classes_``.

        Parameters
        ----------
        y : array-like, shape (n_samples,)

        Returns
        -------
        numpy.ndarray of float, shape (n_samples,)
        """
        if self.task == "regression":
            return np.asarray(y, dtype=float)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        return codes.astype(float)

    def fit(self, X: Any, y: Any) -> BoosterModel:
        """Train on this machine (the same parameters data-parallel training uses).

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
            Densified to float64.
        y : array-like, shape (n_samples,)

        Returns
        -------
        BoosterModel
            ``self``, with ``model_`` (the model as text) and, for classification, ``classes_``.

        Raises
        ------
        loopml.errors.ConfigError
            An unknown ``library``.
        """
        label = self.encode_labels(y)
        n_classes = len(getattr(self, "classes_", ()))
        params = self.training_params(n_classes)
        train = _train_lightgbm if self.library == "lightgbm" else _train_xgboost
        model = train(params, as_dense(X), label, self.rounds)
        return self.adopt(model, getattr(self, "classes_", None))

    def adopt(self, model: str, classes: Any = None) -> BoosterModel:
        """Take a model trained elsewhere (its text form) as this estimator's fitted state.

        Parameters
        ----------
        model : str
            LightGBM's model string or XGBoost's JSON.
        classes : array-like, optional
            The class labels, in the model's 0..k-1 order.

        Returns
        -------
        BoosterModel
            ``self``.
        """
        self.model_ = model
        if classes is not None:
            self.classes_ = np.asarray(classes)
        self.__dict__.pop("_booster", None)
        return self

    def _classifies(self) -> bool:
        if self.task != "classification":
            raise AttributeError("a regression booster has no predict_proba")
        return True

    @available_if(_classifies)  # hasattr(regressor, "predict_proba") is False, as in sklearn
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (a binary model's single output becomes two columns).

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_classes)
            In ``classes_`` order, in [0, 1].

        Raises
        ------
        AttributeError
            For a regression booster.
        """
        raw = np.asarray(self._raw_predict(X))
        return np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw

    def predict(self, X: Any) -> np.ndarray:
        """Values (regression) or the most probable class (classification).

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray, shape (n_samples,)
        """
        if self.task == "regression":
            return np.asarray(self._raw_predict(X))
        return np.asarray(self.classes_)[self.predict_proba(X).argmax(axis=1)]

    def _raw_predict(self, X: Any) -> Any:
        booster = self.booster()
        if self.library == "lightgbm":
            return booster.predict(as_dense(X))
        import xgboost

        return booster.predict(xgboost.DMatrix(as_dense(X)))

    def booster(self) -> Any:
        """The library's own fitted booster (``lightgbm.Booster`` or ``xgboost.Booster``).

        Rebuilt from ``model_`` on first use and kept (not pickled).

        Returns
        -------
        lightgbm.Booster or xgboost.Booster

        Raises
        ------
        AttributeError
            The model is not fitted (no ``model_``).
        """
        return self.__dict__.get("_booster") or self._load_booster()

    def _load_booster(self) -> Any:
        load = _load_lightgbm if self.library == "lightgbm" else _load_xgboost
        booster = self.__dict__["_booster"] = load(self.model_)
        return booster

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_booster", None)  # rebuilt from model_ on first use
        return state


def as_dense(X: Any) -> np.ndarray:
    """Boosters here take a dense float matrix (a sparse TF-IDF block is expanded).

    Parameters
    ----------
    X : array-like or sparse matrix, shape (n_samples, n_features)

    Returns
    -------
    numpy.ndarray of float64, shape (n_samples, n_features)
    """
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)


def _train_lightgbm(params: dict[str, Any], X: np.ndarray, y: np.ndarray, rounds: int) -> str:
    import lightgbm

    return str(lightgbm.train(params, lightgbm.Dataset(X, y), rounds).model_to_string())


def _train_xgboost(params: dict[str, Any], X: np.ndarray, y: np.ndarray, rounds: int) -> str:
    import xgboost

    booster = xgboost.train(params, xgboost.DMatrix(X, y), rounds)
    return bytes(booster.save_raw("json")).decode()


def _load_lightgbm(model: str) -> Any:
    import lightgbm

    return lightgbm.Booster(model_str=model)


def _load_xgboost(model: str) -> Any:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(model.encode()))
    return booster
