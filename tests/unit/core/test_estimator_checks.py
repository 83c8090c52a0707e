"""scikit-learn's estimator contract on loopml's own estimators and transformers."""

from __future__ import annotations

from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from loopml.core.boosters import BoosterModel
from loopml.core.catboost_model import CatBoostLabelClassifier, CatBoostValueRegressor
from loopml.core.data.contract import ContractReader
from loopml.core.early_stopping import EarlyStoppingLGBMClassifier, EarlyStoppingLGBMRegressor
from loopml.core.features import CalendarEncoder, CalendarFeatures, CategoryText, TextColumn
from loopml.core.rules import RuleClassifier, RuleRegressor

ESTIMATORS: list[Any] = [
    TextColumn(),
    CategoryText(),
    CalendarFeatures(),
    CalendarEncoder(),
    RuleClassifier(when="`0` > 0", then=1, else_=0),
    RuleRegressor(when="`0` > 0", then=1.0, else_=0.0),
    BoosterModel("lightgbm", "classification", rounds=5),
    BoosterModel("lightgbm", "regression", rounds=5),
    CatBoostLabelClassifier(iterations=5),
    CatBoostValueRegressor(iterations=50),  # 5 trees score below the check's R² 0.5
    ContractReader(),
    EarlyStoppingLGBMClassifier(n_estimators=30, early_stopping_rounds=5),
    EarlyStoppingLGBMRegressor(n_estimators=30, early_stopping_rounds=5),
]
try:  # XGBoost is optional
    from loopml.core.xgb import EarlyStoppingXGBClassifier, EarlyStoppingXGBRegressor
except ImportError:
    pass
else:
    ESTIMATORS += [
        EarlyStoppingXGBClassifier(n_estimators=30, early_stopping_rounds=5),
        EarlyStoppingXGBRegressor(n_estimators=30, early_stopping_rounds=5),
    ]


def _key(estimator: Any) -> str:
    task = getattr(estimator, "task", "")
    return f"{type(estimator).__name__}{'-' + task if task else ''}"


# Input validation loopml's steps leave to what comes before them: the ColumnTransformer in
# front of every loopml step (and the data contract in front of that) checks rows, columns
# and values, so these steps do not repeat scikit-learn's check_array on their own.
_VALIDATION = (
    "input validation is the pipeline's: the steps behind loopml's ColumnTransformer do not "
    "repeat check_array (NaN/inf, sparse, complex, empty, 1-D, feature-count checks)"
)
REASONS = {
    name: _VALIDATION
    for name in (
        "check_complex_data",
        "check_dtype_object",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
        "check_estimator_sparse_tag",
        "check_estimators_empty_data_messages",
        "check_estimators_nan_inf",
        "check_estimators_unfitted",
        "check_transformers_unfitted",
        "check_fit1d",
        "check_fit2d_predict1d",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_supervised_y_2d",
        "check_supervised_y_no_nan",
        "check_classifiers_regression_target",
    )
}
_RULE = (
    "a rule is an expression over named columns whose then/else must be classes of the "
    "target; scikit-learn's generic data (numbered columns, arbitrary labels) does not fit it"
)
_CONTRACT = (
    "reads a DataFrame by the contract's column names and hands a DataFrame on; it has "
    "no fixed feature count of its own"
)
_HOLDOUT = (
    "early stopping holds out a share of the rows: a row repeated (or removed) changes which "
    "rows are held out, so weight 2 is not the same fit as the row twice"
)
_WEIGHT_EQUIVALENCE = (
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
)
_XGB_OBJECTIVE = (
    "XGBoost's own XGBClassifier.fit sets objective (multi:softprob for more than two "
    "classes); loopml's subclass inherits it"
)
_OVERWRITE = ("check_estimators_overwrite_params", "check_dont_overwrite_parameters")
_ONE_TARGET = (
    "XGBoost's tags declare multi-output targets; loopml's boosters learn one target (the "
    "holdout stratifies on it, XGBLabelClassifier encodes it)"
)
_MULTILABEL = (
    "check_classifiers_multilabel_representation_invariance",
    "check_classifiers_multilabel_output_format_predict",
    "check_classifiers_multilabel_output_format_predict_proba",
    "check_classifiers_multilabel_output_format_decision_function",
)
_OBJECT_OUT = "outputs category strings (object dtype) for the imputer after it, not numbers"
OWN: dict[str, dict[str, str]] = {
    "TextColumn": {
        name: "outputs the 1-D array of strings TfidfVectorizer expects, not a 2-D matrix"
        for name in (
            "check_estimators_pickle",
            "check_fit_idempotent",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_pipeline_consistency",
            "check_transformer_data_not_an_array",
            "check_transformer_general",
            "check_transformer_preserve_dtypes",
        )
    },
    "CategoryText": {
        name: _OBJECT_OUT
        for name in (
            "check_estimators_pickle",
            "check_fit_idempotent",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_pipeline_consistency",
            "check_transformer_data_not_an_array",
            "check_transformer_general",
            "check_transformer_preserve_dtypes",
        )
    },
    "CalendarFeatures": {
        name: "takes a DataFrame of date columns (it reads X.columns): not a numeric array"
        for name in (
            "check_dict_unchanged",
            "check_dont_overwrite_parameters",
            "check_estimators_dtypes",
            "check_estimators_fit_returns_self",
            "check_estimators_overwrite_params",
            "check_estimators_pickle",
            "check_f_contiguous_array_estimator",
            "check_fit2d_1feature",
            "check_fit2d_1sample",
            "check_fit_check_is_fitted",
            "check_fit_idempotent",
            "check_fit_score_takes_y",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_pipeline_consistency",
            "check_positive_only_tag_during_fit",
            "check_readonly_memmap_input",
            "check_transformer_data_not_an_array",
            "check_transformer_general",
            "check_transformer_preserve_dtypes",
        )
    },
    "CalendarEncoder": {
        name: "takes CalendarFeatures' output: columns in groups of len(parts) per date "
        "column, so an arbitrary feature count has no meaning"
        for name in (
            "check_dict_unchanged",
            "check_dont_overwrite_parameters",
            "check_estimators_fit_returns_self",
            "check_estimators_overwrite_params",
            "check_estimators_pickle",
            "check_f_contiguous_array_estimator",
            "check_fit2d_1feature",
            "check_fit_check_is_fitted",
            "check_fit_idempotent",
            "check_fit_score_takes_y",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_pipeline_consistency",
            "check_positive_only_tag_during_fit",
            "check_readonly_memmap_input",
            "check_transformer_data_not_an_array",
            "check_transformer_general",
            "check_transformer_preserve_dtypes",
        )
    },
    "RuleClassifier": {
        name: _RULE
        for name in (
            "check_classifier_data_not_an_array",
            "check_classifiers_classes",
            "check_classifiers_one_label",
            "check_classifiers_train",
            "check_estimators_dtypes",
            "check_fit2d_1feature",
            "check_fit2d_1sample",
            "check_requires_y_none",
        )
    },
    "RuleRegressor": {
        name: _RULE for name in ("check_regressor_data_not_an_array", "check_regressors_train")
    },
    "BoosterModel-classification": {
        "check_dict_unchanged": "predict caches the booster parsed from its model text",
    },
    "BoosterModel-regression": {
        "check_dict_unchanged": "predict caches the booster parsed from its model text",
    },
    "EarlyStoppingLGBMClassifier": {name: _HOLDOUT for name in _WEIGHT_EQUIVALENCE},
    "EarlyStoppingLGBMRegressor": {name: _HOLDOUT for name in _WEIGHT_EQUIVALENCE},
    "EarlyStoppingXGBClassifier": {
        **{name: _HOLDOUT for name in _WEIGHT_EQUIVALENCE},
        **{name: _XGB_OBJECTIVE for name in _OVERWRITE},
        **{name: _ONE_TARGET for name in _MULTILABEL},
    },
    "EarlyStoppingXGBRegressor": {
        **{name: _HOLDOUT for name in _WEIGHT_EQUIVALENCE},
        "check_regressor_multioutput": _ONE_TARGET,
    },
    "CatBoostLabelClassifier": {
        "check_dict_unchanged": "predict caches the CatBoost model loaded from its bytes",
    },
    "CatBoostValueRegressor": {
        "check_dict_unchanged": "predict caches the CatBoost model loaded from its bytes",
        "check_fit2d_1sample": "CatBoost refuses one row in its own words: 'All features "
        "are either constant or ignored' (CatBoostError)",
    },
    "ContractReader": {
        name: _CONTRACT
        for name in (
            "check_transformer_data_not_an_array",
            "check_transformer_general",
            "check_transformer_preserve_dtypes",
        )
    },
}
# The generic checks each estimator is known to fail, beyond its own (OWN) above.
GENERIC: dict[str, tuple[str, ...]] = {
    "TextColumn": (
        "check_complex_data",
        "check_dtype_object",
        "check_estimator_sparse_tag",
        "check_estimators_empty_data_messages",
        "check_estimators_nan_inf",
        "check_fit1d",
        "check_fit2d_predict1d",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_transformers_unfitted",
    ),
    "CategoryText": (
        "check_complex_data",
        "check_dtype_object",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
        "check_estimators_empty_data_messages",
        "check_estimators_nan_inf",
        "check_fit1d",
        "check_fit2d_predict1d",
        "check_n_features_in_after_fitting",
        "check_transformers_unfitted",
    ),
    "CalendarFeatures": (
        "check_complex_data",
        "check_dtype_object",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
        "check_estimator_sparse_tag",
        "check_estimators_empty_data_messages",
        "check_estimators_nan_inf",
        "check_fit1d",
        "check_fit2d_predict1d",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
    ),
    "CalendarEncoder": (
        "check_complex_data",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
        "check_estimator_sparse_tag",
        "check_estimators_empty_data_messages",
        "check_estimators_nan_inf",
        "check_fit1d",
        "check_fit2d_predict1d",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
    ),
    "RuleClassifier": (
        "check_classifiers_regression_target",
        "check_complex_data",
        "check_dtype_object",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
        "check_estimators_empty_data_messages",
        "check_estimators_nan_inf",
        "check_estimators_unfitted",
        "check_fit1d",
        "check_fit2d_predict1d",
        "check_n_features_in_after_fitting",
        "check_supervised_y_2d",
        "check_supervised_y_no_nan",
    ),
    "RuleRegressor": (
        "check_complex_data",
        "check_dtype_object",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
        "check_estimators_empty_data_messages",
        "check_estimators_nan_inf",
        "check_estimators_unfitted",
        "check_fit1d",
        "check_fit2d_predict1d",
        "check_n_features_in_after_fitting",
        "check_supervised_y_2d",
        "check_supervised_y_no_nan",
    ),
    "BoosterModel-classification": (
        "check_complex_data",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
        "check_estimator_sparse_tag",
        "check_estimators_empty_data_messages",
        "check_estimators_nan_inf",
        "check_estimators_unfitted",
        "check_fit2d_predict1d",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
    ),
    "BoosterModel-regression": (
        "check_complex_data",
        "check_estimator_sparse_tag",
        "check_estimators_empty_data_messages",
        "check_estimators_nan_inf",
        "check_estimators_unfitted",
        "check_fit2d_predict1d",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
    ),
    "EarlyStoppingLGBMClassifier": (),
    "EarlyStoppingLGBMRegressor": (),
    "EarlyStoppingXGBClassifier": (),
    "EarlyStoppingXGBRegressor": (),
    "CatBoostLabelClassifier": (),
    "CatBoostValueRegressor": (),
    "ContractReader": (
        "check_complex_data",
        "check_dtype_object",
        "check_estimator_sparse_tag",
        "check_estimators_empty_data_messages",
        "check_estimators_nan_inf",
        "check_fit1d",
        "check_fit2d_predict1d",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_transformers_unfitted",
    ),
}


def expected_failures(estimator: Any) -> dict[str, str]:
    """Each check the estimator is known to fail, with why it does not apply."""
    key = _key(estimator)
    return {**{name: REASONS[name] for name in GENERIC[key]}, **OWN[key]}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_contract(estimator: Any, check: Any) -> None:
    check(estimator)
