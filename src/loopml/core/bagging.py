"""k-fold bagging of one configuration: AutoGluon's "bagged" models, as one more candidate.

The configuration is fitted once per cross-validation fold, on that fold's training rows,
and the k fitted copies answer together: the mean of their class probabilities for a
classifier, the mean of their predictions for a regressor (AutoGluon, Erickson et al.,
"AutoGluon-Tabular: Robust and Accurate AutoML for Structured Data", 2020, section 3.3:
"k-fold bagging"). Each copy has held out one fold, so the copies' predictions on their
own held-out folds are an out-of-fold score of the bag, computed without another fit.

The fitted model keeps its copies in ``estimators_`` and says it votes ``soft`` with equal
weights, the attributes skl2onnx's ``VotingClassifier`` / ``VotingRegressor`` converters
read, so it compiles to ONNX as a voting ensemble of k pipelines does
(``loopml.core._converters``). Its types live in ``loopml.core``, which the skops
allow-list already trusts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.model_selection import check_cv
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils.validation import _num_samples, check_is_fitted, column_or_1d

Folds = list[tuple[np.ndarray, np.ndarray]]


class _Bagged(BaseEstimator):
    """What both bagged estimators share: fitting one clone per fold's training rows."""

    _tree: Any = None  # the default estimator's class
    # Read by skl2onnx's voting converters: equal weights, one probability tensor.
    weights = None
    voting = "soft"
    flatten_transform = False

    def __init__(self, estimator: Any = None, cv: Any = 5, n_jobs: int | None = None):
        self.estimator = estimator
        self.cv = cv
        self.n_jobs = n_jobs

    def folds(self, X: Any, y: Any) -> Folds:
        """The ``(train_positions, held_out_positions)`` pairs ``fit`` uses on ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        list of (numpy.ndarray, numpy.ndarray)
            One pair per member, in ``estimators_`` order (the same on every call when
            ``cv`` is an integer or a splitter with a fixed ``random_state``).
        """
        splitter = check_cv(self.cv, y, classifier=isinstance(self, ClassifierMixin))
        return [(train, held) for train, held in splitter.split(X, y)]

    def __sklearn_tags__(self) -> Any:
        """Its estimator's input tags: the bag takes what each member takes."""
        tags = super().__sklearn_tags__()
        inner = get_tags(self._base()).input_tags
        tags.input_tags.sparse = inner.sparse
        tags.input_tags.allow_nan = inner.allow_nan
        return tags

    def _base(self) -> Any:
        return self.estimator if self.estimator is not None else self._default()

    def _fit_members(self, X: Any, y: Any) -> None:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        base = self._base()
        X, y = _indexable(X), y if isinstance(y, pd.Series) else column_or_1d(y, warn=True)

        def one(train: np.ndarray) -> Any:
            return clone(base).fit(_safe_indexing(X, train), _safe_indexing(y, train))

        folds = self.folds(X, y)
        self.estimators_ = list(
            Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(one)(train) for train, _ in folds
            )
        )
        first = self.estimators_[0]
        for attribute in ("n_features_in_", "feature_names_in_"):
            if hasattr(first, attribute):
                setattr(self, attribute, getattr(first, attribute))

    def _default(self) -> Any:
        return self._tree(random_state=0)

    def fit(self, X: Any, y: Any) -> Any:
        """Fit one clone of ``estimator`` per fold of ``cv`` on that fold's training rows.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Without ``y``; for a classifier whose estimator gives no class probabilities.
        """
        self._fit_members(X, y)
        return self

    @property
    def named_estimators_(self) -> dict[str, Any]:
        """The members by name (``fold_0``, ``fold_1``, ...), as voting ensembles have them."""
        return {f"fold_{i}": member for i, member in enumerate(self.estimators_)}

    @property
    def native_only(self) -> str | None:
        """Why the bag has no ONNX form: its members' reason (e.g. CatBoost), else None."""
        for member in getattr(self, "estimators_", []):
            final = member.steps[-1][1] if hasattr(member, "steps") else member
            reason = getattr(final, "native_only", None)
            if isinstance(reason, str):
                return reason
        return None


class BaggedClassifier(ClassifierMixin, _Bagged):
    """k copies of one classifier, each fitted on one fold's training rows; their class
    probabilities averaged.

    Parameters
    ----------
    estimator : estimator or pipeline, default DecisionTreeClassifier()
        Unfitted; cloned once per fold. It must give ``predict_proba``.
    cv : int, cross-validation generator or iterable, default 5
        As scikit-learn's ``check_cv``: an integer is ``StratifiedKFold(cv)``; loopml
        passes the splitter its search used, so the members are fitted on the same folds.
    n_jobs : int or None, default None
        Members fitted at once, in threads (joblib).

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, one per fold, in fold order.
    classes_ : numpy.ndarray of shape (n_classes,)
    member_columns_ : list of numpy.ndarray
        Per member, the positions of its ``classes_`` among the bag's (a member that saw
        fewer classes fills fewer columns).
    """

    _tree = DecisionTreeClassifier

    def _fit_members(self, X: Any, y: Any) -> None:
        if not hasattr(self._base(), "predict_proba"):
            raise ValueError(
                "bagging averages class probabilities, and "
                f"{type(self._base()).__name__} gives none"
            )
        super()._fit_members(X, y)
        self.classes_ = np.unique(np.asarray(y))
        # where each member's classes sit among the bag's, found once here, not per request
        self.member_columns_ = [
            np.searchsorted(self.classes_, np.asarray(member.classes_))
            for member in self.estimators_
        ]

    def predict_proba(self, X: Any) -> np.ndarray:
        """The members' class probabilities, averaged.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            Columns in ``classes_`` order (a member that saw fewer classes gives 0 to the
            others).
        """
        check_is_fitted(self, "estimators_")
        total = np.zeros((_num_samples(X), len(self.classes_)))
        for member, columns in zip(self.estimators_, self.member_columns_, strict=True):
            total[:, columns] += member.predict_proba(X)
        return total / len(self.estimators_)

    def predict(self, X: Any) -> np.ndarray:
        """The class with the highest averaged probability.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(proba, axis=1)]


class BaggedRegressor(RegressorMixin, _Bagged):
    """k copies of one regressor, each fitted on one fold's training rows; their
    predictions averaged.

    The regressor counterpart of ``BaggedClassifier``: the same parameters (``estimator``
    defaults to ``DecisionTreeRegressor()``, and an integer ``cv`` is ``KFold(cv)``) and the
    same ``estimators_``.
    """

    _tree = DecisionTreeRegressor

    def predict(self, X: Any) -> np.ndarray:
        """The members' predictions, averaged.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimators_")
        return np.mean([np.asarray(m.predict(X), dtype=float).ravel() for m in self.estimators_], 0)


def _indexable(X: Any) -> Any:
    """``X`` in a form whose rows can be taken by position: frames and arrays as they are,
    sparse matrices as CSR, anything else (lists, array-likes) as an array."""
    if isinstance(X, pd.DataFrame | np.ndarray):
        return X
    if hasattr(X, "tocsr"):
        return X.tocsr()
    return np.asarray(X)


def bag(estimator: Any, task: str, splitter: Any, n_jobs: int | None = None) -> Any:
    """An unfitted bagged ``estimator``, fitted on ``splitter``'s folds, as a pipeline.

    Parameters
    ----------
    estimator : estimator or pipeline
        The configuration to bag (a whole loopml pipeline: preprocessing and model).
    task : {"classification", "regression"}
    splitter : cross-validation generator
        E.g. ``StratifiedKFold(5, shuffle=True, random_state=seed)``, the search's.
    n_jobs : int or None
        Members fitted at once.

    Returns
    -------
    sklearn.pipeline.Pipeline
        One step, ``model``: a ``BaggedClassifier`` or ``BaggedRegressor``.
    """
    from sklearn.pipeline import Pipeline

    cls = BaggedClassifier if task == "classification" else BaggedRegressor
    return Pipeline([("model", cls(estimator, cv=splitter, n_jobs=n_jobs))])
