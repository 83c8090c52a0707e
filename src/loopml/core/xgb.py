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
