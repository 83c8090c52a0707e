"""evaluation: slices, calibration, thresholds, fairness and the reports of `loopml evaluate`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from loopml.config._base import _Strict


class ThresholdConfig(_Strict):
    """Below a confidence, abstain or give a fallback label; applied wherever the model scores."""

    min_confidence: float | None = Field(
        None, gt=0, lt=1, description="Predictions less confident than this are not given."
    )
    target_precision: float | None = Field(
        None, gt=0, le=1, description="Choose the lowest confidence reaching this precision."
    )
    fallback_label: str | int | float | bool | None = Field(
        None, description="Label given below the threshold; empty means abstain."
    )

    @model_validator(mode="after")
    def _one_rule(self) -> ThresholdConfig:
        if (self.min_confidence is None) == (self.target_precision is None):
            raise ValueError("set exactly one of min_confidence or target_precision")
        return self


class EvaluationConfig(_Strict):
    slices: dict[str, str] = Field(
        default_factory=dict, description="Named pandas query expressions, e.g. 'age >= 65'."
    )
    calibration: Literal["none", "sigmoid", "isotonic", "auto"] = Field(
        "none", description="Fitted on the validation split; auto keeps it if log loss improves."
    )
    threshold: ThresholdConfig | None = None
    min_slice_rows: int = Field(20, ge=1, description="Smaller automatic slices are skipped.")
    weak_slice_margin: float | None = Field(
        None,
        ge=0,
        description="A slice worse than all rows by more than this is weak: accuracy points "
        "for classifiers (default 0.05), a share of the MAE for regression (default 0.25).",
    )
    worst_errors: int = Field(20, ge=0, description="Most confident mistakes listed.")
    importance_rows: int = Field(2000, ge=50, description="Rows for permutation importance.")
    learning_curve: Literal["auto"] | bool = Field(
        "auto", description="auto: only when the training split has at most 20,000 rows."
    )
    reports: str = Field("reports", description="Folder of the HTML reports.")
    sensitive: list[str] = Field(
        default_factory=list,
        description="Columns audited for group fairness on the test rows (Fairlearn): per-group "
        "selection rate, TPR, FPR and accuracy, demographic-parity and equalized-odds "
        "differences; gate.max can bound the differences.",
    )
    sensitive_is_feature: bool = Field(
        True,
        description="false: the sensitive columns are not model features (still audited); "
        "the served model neither needs nor reads them.",
    )
    pos_label: str | int | float | bool | None = Field(
        None,
        description="Fairness: the favourable class whose selection rate, TPR and FPR are "
        "compared (one-vs-rest); default the second of the sorted classes of a binary target.",
    )

    def sensitive_excluded(self) -> list[str]:
        """The sensitive columns kept out of the features (``sensitive_is_feature: false``)."""
        return [] if self.sensitive_is_feature else list(self.sensitive)
