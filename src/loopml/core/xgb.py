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
        encoder = LabelEncoder().fit(y)
        self.__dict__.pop("label_encoder_", None)  # XGBoost checks classes_ against 0..n-1
        super().fit(X, encoder.transform(y), **kwargs)
        self.label_encoder_ = encoder
        return self

    @property
    def classes_(self) -> np.ndarray:
        encoder = self.__dict__.get("label_encoder_")
        if encoder is None:
            return np.asarray(xgboost.XGBClassifier.classes_.fget(self))  # type: ignore[attr-defined]
        return np.asarray(encoder.classes_)

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        encoded = np.asarray(super().predict(X, **kwargs)).astype(int)
        return np.asarray(self.label_encoder_.inverse_transform(encoded))
