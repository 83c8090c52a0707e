"""CatBoost as a scikit-learn estimator that saves as bytes and takes category codes.

``catboost.CatBoostClassifier`` keeps its trees in a C++ object and reports only the
parameters set on it (``get_params``), so loopml wraps it: every parameter loopml tunes is
an ``__init__`` argument (a misspelt one is refused when the config is read), the fitted
model is kept as CatBoost's own binary format (``model_``, bytes: saved and loaded by
skops without trusting any CatBoost type), labels are any values (encoded 0..n-1 for
CatBoost, decoded on predict), and the columns in ``cat_features`` (category codes from
``build_preprocessor(roles, "native")``) reach CatBoost as categories.

Imported only when the catalog's ``catboost`` is used (CatBoost is optional).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

# Why CatBoost is not compiled to ONNX; ``core.compile`` says it to the user.
NATIVE_ONLY = (
    "not compiled: CatBoost's ONNX export (save_model format='onnx') takes no categorical "
    "features, which loopml gives CatBoost natively; the native engine serves it"
)


class _CatBoost(BaseEstimator):
    """What the classifier and the regressor share: parameters, data and the saved model."""

    native_only = NATIVE_ONLY

    def __init__(
        self,
        iterations: int = 300,
        learning_rate: float = 0.08,
        depth: int = 6,
        l2_leaf_reg: float = 3.0,
        random_strength: float = 1.0,
        border_count: int = 254,
        one_hot_max_size: int | None = None,
        cat_features: list[int] | None = None,
        random_state: int = 0,
        thread_count: int = 1,
    ):
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.random_strength = random_strength
        self.border_count = border_count
        self.one_hot_max_size = one_hot_max_size
        self.cat_features = cat_features
        self.random_state = random_state
        self.thread_count = thread_count

    def _library_params(self) -> dict[str, Any]:
        params = {
            k: v
            for k, v in self.get_params(deep=False).items()
            if k not in ("cat_features", "random_state", "class_weight") and v is not None
        }
        # no files (catboost_info/), no output: loopml says what happens
        return {
            **params,
            "random_seed": self.random_state,
            "allow_writing_files": False,
            "logging_level": "Silent",
        }

    def _pool(self, X: Any, y: Any = None) -> Any:
        """X as CatBoost reads it: the ``cat_features`` columns as integer categories."""
        import catboost

        values = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        positions = list(self.cat_features or [])
        if not positions:
            return catboost.Pool(values, label=y)
        frame = pd.DataFrame(values)
        for position in positions:  # codes are integral; -1 is an unseen category
            frame[position] = np.rint(frame[position].to_numpy()).astype(np.int64)
        return catboost.Pool(frame, label=y, cat_features=positions)

    def _checked(self, X: Any, y: Any = None, fitting: bool = False) -> Any:
        """scikit-learn's input checks (NaN allowed: CatBoost reads it as missing)."""
        if fitting:
            return validate_data(self, X, y, accept_sparse="csr", ensure_all_finite="allow-nan")
        check_is_fitted(self, "model_")
        return validate_data(
            self, X, reset=False, accept_sparse="csr", ensure_all_finite="allow-nan"
        )

    def _fit_model(self, model: Any, X: Any, y: Any) -> None:
        model.fit(self._pool(X, y))
        self.model_ = bytes(model._serialize_model())  # what CatBoost's own pickling saves

    def _model(self) -> Any:
        """The fitted CatBoost model, loaded once from ``model_`` (not saved itself)."""
        check_is_fitted(self, "model_")
        cached = self.__dict__.get("_loaded")
        if cached is None:
            import catboost

            cached = catboost.CatBoost().load_model(blob=self.model_)
            self.__dict__["_loaded"] = cached
        return cached

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # densified for CatBoost
        tags.input_tags.allow_nan = True  # CatBoost reads NaN as missing
        return tags

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_loaded", None)
        return state


class CatBoostLabelClassifier(ClassifierMixin, _CatBoost):
    """CatBoost classification for any class labels (predictions are the original labels).

    Parameters
    ----------
    iterations : int, default 300
        Boosting rounds (trees).
    learning_rate : float, default 0.08
    depth : int, default 6
        Depth of each (symmetric) tree.
    l2_leaf_reg : float, default 3.0
        L2 regularization of leaf values.
    random_strength : float, default 1.0
        Noise added to split scores.
    border_count : int, default 254
        Bins per numeric feature.
    one_hot_max_size : int or None, default None
        Categories with at most this many values are one-hot encoded inside CatBoost;
        None keeps CatBoost's default.
    cat_features : list of int or None, default None
        Input columns holding category codes (set by ``models.build_pipeline``).
    random_state : int, default 0
    thread_count : int, default 1
        CatBoost's threads; loopml runs models in parallel itself (``n_jobs``).
    class_weight : "balanced", dict or None, default None
        "balanced": CatBoost's ``auto_class_weights="Balanced"``; a dict: class -> weight
        (1 for a class it leaves out), as CatBoost's ``class_weights``.

    Notes
    -----
    CatBoost: Prokhorenkova et al., "CatBoost: unbiased boosting with categorical
    features", NeurIPS 2018.
    """

    def __init__(
        self,
        iterations: int = 300,
        learning_rate: float = 0.08,
        depth: int = 6,
        l2_leaf_reg: float = 3.0,
        random_strength: float = 1.0,
        border_count: int = 254,
        one_hot_max_size: int | None = None,
        cat_features: list[int] | None = None,
        random_state: int = 0,
        thread_count: int = 1,
        class_weight: str | dict[Any, float] | None = None,
    ):
        super().__init__(
            iterations,
            learning_rate,
            depth,
            l2_leaf_reg,
            random_strength,
            border_count,
            one_hot_max_size,
            cat_features,
            random_state,
            thread_count,
        )
        self.class_weight = class_weight

    def fit(self, X: Any, y: Any) -> CatBoostLabelClassifier:
        """Fit on labels encoded as their position in ``classes_`` (sorted).

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
            Numbers; the ``cat_features`` columns hold integral category codes.
        y : array-like, shape (n_samples,)
            Any class labels (at least two).

        Returns
        -------
        CatBoostLabelClassifier
            ``self``, with ``classes_`` and ``model_`` (CatBoost's binary model, bytes).

        Raises
        ------
        ValueError
            Fewer than two classes in ``y``.
        """
        import catboost

        X, y = self._checked(X, y, fitting=True)
        check_classification_targets(y)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"CatBoost needs two classes or more; y has {len(self.classes_)} class"
            )
        params = self._library_params()
        params["loss_function"] = "Logloss" if len(self.classes_) == 2 else "MultiClass"
        if self.class_weight == "balanced":
            params["auto_class_weights"] = "Balanced"
        elif isinstance(self.class_weight, dict):
            weights = self.class_weight
            params["class_weights"] = [float(weights.get(c, 1.0)) for c in self.classes_]
        self.__dict__.pop("_loaded", None)
        self._fit_model(catboost.CatBoostClassifier(**params), X, codes)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of float64, shape (n_samples, n_classes)
        """
        pool = self._pool(self._checked(X))
        raw = np.asarray(self._model().predict(pool, prediction_type="Probability"))
        return raw.reshape(len(raw), -1).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class, as one of the original labels.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray, shape (n_samples,)
        """
        best = np.argmax(self.predict_proba(X), axis=1)
        return np.asarray(self.classes_[best])


class CatBoostValueRegressor(RegressorMixin, _CatBoost):
    """CatBoost regression (RMSE loss).

    Parameters
    ----------
    iterations, learning_rate, depth, l2_leaf_reg, random_strength, border_count,
    one_hot_max_size, cat_features, random_state, thread_count
        As ``CatBoostLabelClassifier``.
    """

    def fit(self, X: Any, y: Any) -> CatBoostValueRegressor:
        """Fit on numeric targets.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
            Numbers; the ``cat_features`` columns hold integral category codes.
        y : array-like of float, shape (n_samples,)

        Returns
        -------
        CatBoostValueRegressor
            ``self``, with ``model_`` (CatBoost's binary model, bytes).
        """
        import catboost

        X, y = self._checked(X, y, fitting=True)
        params = {**self._library_params(), "loss_function": "RMSE"}
        self.__dict__.pop("_loaded", None)
        self._fit_model(catboost.CatBoostRegressor(**params), X, np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of float64, shape (n_samples,)
        """
        pool = self._pool(self._checked(X))
        return np.asarray(self._model().predict(pool), dtype=np.float64).reshape(-1)
