"""XGBoost for any class labels: XGBClassifier itself accepts only 0..n-1.

Imported only when the catalog's ``xgboost`` is used (XGBoost is optional).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xgboost
from sklearn.preprocessing import LabelEncoder


class XGBLabelClassifier(xgboost.XGBClassifier):
    """``XGBClassifier`` that encodes labels in ``fit`` and decodes predictions."""

    def fit(self, X: Any, y: Any, **kwargs: Any) -> XGBLabelClassifier:
        """Fit on labels encoded as 0..n-1 (``sklearn.preprocessing.LabelEncoder``).

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)
            Any class labels.
        **kwargs
            Passed to ``XGBClassifier.fit``.

        Returns
        -------
        XGBLabelClassifier
            ``self``.
        """
        encoder = LabelEncoder().fit(y)
        self.__dict__.pop("label_encoder_", None)  # XGBoost checks classes_ against 0..n-1
        super().fit(X, encoder.transform(y), **kwargs)
        self.label_encoder_ = encoder
        return self

    @property
    def classes_(self) -> np.ndarray:
        """The original class labels (XGBoost's 0..n-1 before the first ``fit`` here)."""
        encoder = self.__dict__.get("label_encoder_")
        if encoder is None:
            return np.asarray(xgboost.XGBClassifier.classes_.fget(self))  # type: ignore[attr-defined]
        return np.asarray(encoder.classes_)

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        """Predicted labels, decoded back to the original classes.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
        **kwargs
            Passed to ``XGBClassifier.predict``.

        Returns
        -------
        numpy.ndarray, shape (n_samples,)
        """
        encoded = np.asarray(super().predict(X, **kwargs)).astype(int)
        return np.asarray(self.label_encoder_.inverse_transform(encoded))


class _XGBoostEarlyStopping:
    """What the XGBoost classifier and regressor share: fit with a holdout, keep the best."""

    validation_fraction: float | None
    early_stopping_rounds: int | None
    random_state: Any
    _Booster: Any

    def _wrapper_params(self) -> set[str]:
        return {*super()._wrapper_params(), "validation_fraction"}  # type: ignore[misc]

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> Any:
        """Fit, stopping on a held-out ``validation_fraction`` of the rows.

        XGBoost's own ``early_stopping_rounds`` watches the held-out rows
        (``loopml.core.early_stopping.holdout``: stratified for classification); the
        booster then keeps only the rounds up to the best one.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)
        sample_weight : array-like, shape (n_samples,), optional
            Split with the rows.
        **kwargs
            Passed to the XGBoost estimator's ``fit`` (not ``eval_set``).

        Returns
        -------
        self
            With ``best_iteration_``: the rounds the booster keeps (``n_estimators`` when no
            holdout was made).
        """
        from loopml.core.early_stopping import checked, holdout, split

        parts = None
        classify = isinstance(self, xgboost.XGBClassifier)
        if self.early_stopping_rounds:
            X = checked(self, X, y, sample_weight)
            parts = holdout(y, self.validation_fraction, classify, self.random_state)
        if parts is None:
            patience, self.early_stopping_rounds = self.early_stopping_rounds, None
            try:  # XGBoost refuses early_stopping_rounds without an eval_set
                super().fit(X, y, sample_weight=sample_weight, **kwargs)  # type: ignore[misc]
            finally:
                self.early_stopping_rounds = patience
            self.best_iteration_ = int(self._Booster.num_boosted_rounds())
            return self
        X_fit, y_fit, w_fit, X_stop, y_stop, w_stop = split(X, y, sample_weight, parts)
        if classify:  # fit encodes its labels as 0..n-1 (every class is in X_fit); so here
            y_stop = np.searchsorted(np.unique(y_fit), y_stop)
        super().fit(  # type: ignore[misc]
            X_fit,
            y_fit,
            sample_weight=w_fit,
            eval_set=[(X_stop, y_stop)],
            sample_weight_eval_set=None if w_stop is None else [w_stop],
            verbose=False,
            **kwargs,
        )
        best = int(self._Booster.best_iteration) + 1  # XGBoost counts from 0
        # Keep only the rounds up to the best: predict, TreeSHAP and a saved copy agree.
        self._Booster = self._Booster[:best]
        self.best_iteration_ = best
        return self


class EarlyStoppingXGBClassifier(_XGBoostEarlyStopping, XGBLabelClassifier):
    """``XGBLabelClassifier`` that stops on a stratified holdout of its training rows.

    Parameters
    ----------
    validation_fraction : float or None, default 0.1
        Share of each fit's rows held out to stop on; None trains every round on every row.
    **kwargs
        ``xgboost.XGBClassifier``'s parameters: ``n_estimators`` is the most rounds,
        ``early_stopping_rounds`` (loopml's catalog: 50) the patience; None turns early
        stopping off.

    Attributes
    ----------
    best_iteration_ : int
        Rounds the booster keeps (1-based), at most ``n_estimators``.
    """

    def __init__(self, *, validation_fraction: float | None = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validation_fraction = validation_fraction


class EarlyStoppingXGBRegressor(_XGBoostEarlyStopping, xgboost.XGBRegressor):
    """``xgboost.XGBRegressor`` that stops on a random holdout of its training rows.

    Parameters
    ----------
    validation_fraction : float or None, default 0.1
        Share of each fit's rows held out to stop on; None trains every round on every row.
    **kwargs
        ``xgboost.XGBRegressor``'s parameters: ``n_estimators`` is the most rounds,
        ``early_stopping_rounds`` (loopml's catalog: 50) the patience; None turns early
        stopping off.

    Attributes
    ----------
    best_iteration_ : int
        Rounds the booster keeps (1-based), at most ``n_estimators``.
    """

    def __init__(self, *, validation_fraction: float | None = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validation_fraction = validation_fraction
