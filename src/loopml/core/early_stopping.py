"""Boosted trees that stop on a held-out part of the rows they are fitted on.

The catalog's ``lightgbm`` and ``xgboost`` are these subclasses of the libraries' own
scikit-learn estimators, with early stopping off by default: at 5 and 10 trials on
titanic, bike sharing and NYC taxis it was no better than searching ``n_estimators`` and
took 1.2-2.7x the CPU (``benchmarks/bench_boosting.py``). A candidate turns it on with
``early_stopping_rounds`` (e.g. ``{early_stopping_rounds: 50, n_estimators: 2000}``; with
``n_estimators`` fixed, not searched). Then each ``fit`` holds out
``validation_fraction`` of its rows (stratified for classification,
``sklearn.model_selection.train_test_split``), trains up to ``n_estimators`` rounds and
stops once the held-out loss has not improved for ``early_stopping_rounds`` rounds, with
the library's own mechanism (LightGBM's ``early_stopping`` callback on an ``eval_set``,
XGBoost's ``early_stopping_rounds``). The fitted model keeps only the rounds up to the
best one (``best_iteration_``), so ``predict``, the ONNX graph, TreeSHAP and a saved copy
all use the same trees.

The holdout is kept: the model is not refitted on every row with the rounds found.
AutoGluon refits on all rows (``refit_full``) because it bags; here every fit (each CV
fold, then the final fit on the training split) makes its own holdout, so the rounds are
always measured on rows the model did not train on, each fit costs one training, and the
model that is scored on the validation split is exactly the one served. The price is
``validation_fraction`` (10 %) fewer training rows per fit.

scikit-learn's ``GradientBoostingClassifier`` / ``Regressor`` do the same with their own
``n_iter_no_change`` and ``validation_fraction`` (opt-in there too); ``fitted_rounds``
reads the rounds of any of them.
"""

from __future__ import annotations

import inspect
from typing import Any

import lightgbm
import numpy as np
from scipy.sparse import issparse
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_consistent_length

VALIDATION_FRACTION = 0.1
PATIENCE = 50  # rounds without improvement of the held-out loss before stopping
MAX_ROUNDS = 2000
_EVAL_XY = "eval_X" in inspect.signature(lightgbm.LGBMModel.fit).parameters


def holdout(
    y: Any, fraction: float | None, classify: bool, seed: Any
) -> tuple[np.ndarray, np.ndarray] | None:
    """Row positions to train on and to stop on, or None when no holdout can be made.

    Parameters
    ----------
    y : array-like, shape (n_samples,)
        The target.
    fraction : float or None
        Share of the rows held out, in (0, 1); None or 0 makes no holdout.
    classify : bool
        Stratify on ``y`` (every class is then on both sides).
    seed : int, numpy.random.RandomState or None
        ``random_state`` of ``sklearn.model_selection.train_test_split``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray) or None
        Training and held-out positions; None when ``fraction`` is None or 0, when fewer
        than 1 row would be held out or kept, or (classification) when a class has fewer
        than 2 rows: the model then trains on every row for all ``n_estimators`` rounds.
    """
    labels = np.asarray(y)
    rows = len(labels)
    if not fraction or rows < 2:
        return None
    held = int(np.ceil(fraction * rows))
    stratify = None
    if classify:
        _, counts = np.unique(labels, return_counts=True)
        if counts.min() < 2 or held < len(counts) or rows - held < len(counts):
            return None
        stratify = labels
    if held < 1 or rows - held < 1:
        return None
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(np.iinfo(np.int32).max))
    train, valid = train_test_split(
        np.arange(rows), test_size=held, random_state=seed, stratify=stratify
    )
    return np.sort(train), np.sort(valid)


def rows_of(X: Any, positions: np.ndarray) -> Any:
    return X.iloc[positions] if hasattr(X, "iloc") else X[positions]


def checked(estimator: Any, X: Any, y: Any, sample_weight: Any) -> Any:
    """``X`` ready to be split by rows (a sparse matrix as CSR, a DataFrame kept, anything
    else as a numpy array), once its rows, ``y`` and
    ``sample_weight`` are known to agree.

    Parameters
    ----------
    estimator : Any
        Named in the error messages.
    X : array-like or sparse matrix, shape (n_samples, n_features)
    y : array-like, shape (n_samples,)
    sample_weight : array-like, shape (n_samples,), or None

    Returns
    -------
    numpy.ndarray, pandas.DataFrame or scipy.sparse.csr_matrix

    Raises
    ------
    ValueError
        ``y`` is None, ``sample_weight`` is not 1-D or is all zero, or their lengths differ
        from X's rows.
    """
    name = type(estimator).__name__
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None")
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=float)
        if weights.ndim != 1:
            raise ValueError(f"{name}: sample_weight must be 1-D (one weight per row)")
        if not weights.any():
            raise ValueError(f"{name}: every sample_weight is zero; give some rows weight")
    check_consistent_length(X, y, sample_weight)
    if issparse(X):
        return X.tocsr()
    return X if hasattr(X, "iloc") else np.asarray(X)


def split(
    X: Any, y: Any, sample_weight: Any, parts: tuple[np.ndarray, np.ndarray]
) -> tuple[Any, Any, Any, Any, Any, Any]:
    train, valid = parts
    y_array = np.asarray(y)
    weights = None if sample_weight is None else np.asarray(sample_weight)
    return (
        rows_of(X, train),
        y_array[train],
        None if weights is None else weights[train],
        rows_of(X, valid),
        y_array[valid],
        None if weights is None else weights[valid],
    )


class _LightGBMEarlyStopping:
    """What the LightGBM classifier and regressor share: fit with a holdout, keep the best."""

    validation_fraction: float | None
    early_stopping_rounds: int | None
    random_state: Any
    _Booster: Any
    _best_iteration: int

    def _process_params(self, stage: str) -> dict[str, Any]:
        params = super()._process_params(stage)  # type: ignore[misc]
        params.pop("validation_fraction", None)  # loopml's, not LightGBM's
        params.pop("early_stopping_rounds", None)  # given as a callback in fit
        return dict(params)

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> Any:
        """Fit, stopping on a held-out ``validation_fraction`` of the rows.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)
        sample_weight : array-like, shape (n_samples,), optional
            Split with the rows (the held-out part weights the stopping loss).
        **kwargs
            Passed to the LightGBM estimator's ``fit`` (not ``eval_set`` or ``callbacks``).

        Returns
        -------
        self
            With ``best_iteration_``: the rounds the model keeps (``n_estimators`` when no
            holdout was made, see ``holdout``).
        """
        parts = None
        classify = isinstance(self, lightgbm.LGBMClassifier)
        if self.early_stopping_rounds:
            X = checked(self, X, y, sample_weight)
            parts = holdout(y, self.validation_fraction, classify, self.random_state)
        if parts is None:
            super().fit(X, y, sample_weight=sample_weight, **kwargs)  # type: ignore[misc]
            self._best_iteration = int(self._Booster.current_iteration())
            return self
        X_fit, y_fit, w_fit, X_stop, y_stop, w_stop = split(X, y, sample_weight, parts)
        stop = lightgbm.early_stopping(int(self.early_stopping_rounds or 0), verbose=False)
        if not _EVAL_XY:
            held_out: dict[str, Any] = {"eval_set": [(X_stop, y_stop)]}
        else:  # LightGBM 4.6+ deprecates eval_set; its classifier leaves eval_y unencoded
            codes = np.searchsorted(np.unique(y_fit), y_stop) if classify else y_stop
            held_out = {"eval_X": (X_stop,), "eval_y": (codes,)}
        super().fit(  # type: ignore[misc]
            X_fit,
            y_fit,
            sample_weight=w_fit,
            **held_out,
            eval_sample_weight=None if w_stop is None else [w_stop],
            callbacks=[stop],
            **kwargs,
        )
        best = int(self._Booster.best_iteration) or int(self._Booster.current_iteration())
        # Keep only the rounds up to the best: predict, ONNX and TreeSHAP see the same trees.
        self._Booster = lightgbm.Booster(model_str=self._Booster.model_to_string(best))
        self._best_iteration = best
        return self


class EarlyStoppingLGBMClassifier(_LightGBMEarlyStopping, lightgbm.LGBMClassifier):  # type: ignore[misc]
    """``lightgbm.LGBMClassifier`` that stops on a stratified holdout of its training rows.

    Parameters
    ----------
    validation_fraction : float or None, default 0.1
        Share of each fit's rows held out to stop on; None trains every round on every row.
    early_stopping_rounds : int or None, default 50
        Stop when the held-out log loss has not improved for this many rounds; None turns
        early stopping off.
    **kwargs
        ``lightgbm.LGBMClassifier``'s parameters; ``n_estimators`` is the most rounds.

    Attributes
    ----------
    best_iteration_ : int
        Rounds kept (LightGBM's ``best_iteration_``, 1-based), at most ``n_estimators``.
    """

    def __init__(
        self,
        *,
        validation_fraction: float | None = VALIDATION_FRACTION,
        early_stopping_rounds: int | None = PATIENCE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds


class EarlyStoppingLGBMRegressor(_LightGBMEarlyStopping, lightgbm.LGBMRegressor):  # type: ignore[misc]
    """``lightgbm.LGBMRegressor`` that stops on a random holdout of its training rows.

    Parameters
    ----------
    validation_fraction : float or None, default 0.1
        Share of each fit's rows held out to stop on; None trains every round on every row.
    early_stopping_rounds : int or None, default 50
        Stop when the held-out squared error has not improved for this many rounds; None
        turns early stopping off.
    **kwargs
        ``lightgbm.LGBMRegressor``'s parameters; ``n_estimators`` is the most rounds.

    Attributes
    ----------
    best_iteration_ : int
        Rounds kept (LightGBM's ``best_iteration_``, 1-based), at most ``n_estimators``.
    """

    def __init__(
        self,
        *,
        validation_fraction: float | None = VALIDATION_FRACTION,
        early_stopping_rounds: int | None = PATIENCE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds


def fitted_rounds(estimator: Any) -> int | None:
    """The boosting rounds a fitted model uses, when it is a boosted-tree model.

    Parameters
    ----------
    estimator : Any
        A fitted estimator (the last step of a pipeline).

    Returns
    -------
    int or None
        ``best_iteration_`` (loopml's early-stopping LightGBM and XGBoost), ``n_estimators_``
        (scikit-learn's gradient boosting, after ``n_iter_no_change``), else None.
    """
    for name in ("best_iteration_", "n_estimators_"):
        try:
            value = getattr(estimator, name)
        except (AttributeError, ValueError):  # LightGBM raises when not fitted
            continue
        if isinstance(value, int | np.integer) and value > 0:
            return int(value)
    return None
