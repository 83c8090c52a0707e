"""Per-row attributions to the input columns, with the base value they start from.

For each row, ``base_value + sum(contributions) == output`` (within 1e-6; XGBoost
computes in float32, so there within float32 rounding of its margin), where ``output`` is
the model's own output in the stated ``space``:

- ``log_odds``: a binary classifier's raw margin (LightGBM, XGBoost, gradient boosting,
  logistic regression) for the positive class (``classes[1]``);
- ``margin``: a multiclass booster's or logistic regression's raw score (the softmax
  input) for the explained class (the one it ranks first);
- ``probability``: a class probability (random forest and extra trees, whose outputs are
  averaged leaf frequencies; every model explained by the permutation explainer);
- ``decision_function``: another linear classifier's signed distance;
- ``value``: a regression prediction; ``raw_score`` for a booster whose objective has a
  link (poisson, gamma, tweedie: the log of the prediction); ``log1p_value`` for a model
  fitted on log1p of the target (``target_transform: log1p``): the log1p of the
  prediction, whose expm1 is the served value.

How, by the final estimator of the pipeline (``explainer_method`` names it):

- LightGBM and XGBoost: the library's own TreeSHAP (``pred_contrib`` / ``pred_contribs``;
  Lundberg et al., "From local explanations to global understanding with explainable AI
  for trees", Nature Machine Intelligence, 2020). Exact; needs no background.
- scikit-learn forests, extra trees, decision trees, gradient boosting (binary or
  regression): ``shap.TreeExplainer`` with ``feature_perturbation="interventional"`` on
  the background sample (the path-dependent variant lost up to 3e-4 of additivity on
  the 60-deep trees of extra trees on titanic). Exact for that background. Where SHAP's
  interventional values do not add up (off by a constant on random-forest regressors,
  shap 0.51), the path-dependent variant (``feature_perturbation="tree_path_dependent"``,
  the training rows' cover as background) is used for that block instead.
- scikit-learn linear models: ``shap.LinearExplainer`` on the background (independent
  features: coefficient × (value − background mean)). Exact.
- anything else (SVM, k-NN, naive Bayes, ensembles, bags, the baseline, any model the pipeline
  does not expose): ``shap.PermutationExplainer`` over the *input columns* on the
  background sample, ``PERMUTATIONS`` antithetic orderings per row, seeded per row so a
  row's explanation does not depend on the rows beside it. Labelled approximate: the
  sum is exact, each column's share is an estimate. The first call in a process waits
  for SHAP's numba kernels to compile (seconds).

The exact methods work on the preprocessed features; each feature's contribution is
summed back to the input column it came from (``features.feature_sources``): one-hot
categories, missing-value indicators, TF-IDF terms and calendar parts. A text column also
gets its top words: the terms present in the row with the largest absolute contribution
(its total also counts absent terms, which tree and linear models weigh too).

Wrappers: a calibrated model is explained through the pipeline it calibrates (its margin
*before* calibration, stated in ``note``) when that pipeline has an exact method, else
the calibrated probability is explained by permutation. A confidence threshold is
applied after the probabilities and so does not change them (``note`` says so). A target
transform (``sklearn.compose.TransformedTargetRegressor`` with log1p, made by
``loopml.core.target``) is explained through the regressor it wraps, on the scale that
regressor learned (``log1p_value``; ``note`` says so), where that regressor has an exact
method: the attributions of a log-scale output add up exactly, while attributions of
``expm1`` of a sum would not. Otherwise the permutation method explains the served
prediction, on the original scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from loopml.config import Task
from loopml.core.boosters import BoosterModel, as_dense
from loopml.core.features import feature_sources, text_terms
from loopml.core.target import is_log1p
from loopml.errors import NotExplainableError

PERMUTATIONS = 10
TOP_WORDS = 5
BACKGROUND_ROWS = 100
_BLOCK_VALUES = 4_000_000  # rows per block × features × outputs: bounds memory (~32 MB)
_TREE_BLOCK_ROWS = 50  # rows per interventional TreeSHAP call (~0.2 s: 100 trees, 100 rows)
_LINKED_OBJECTIVES = (  # a log link: the booster's raw score is the log of the prediction
    *("poisson", "gamma", "tweedie", "cross_entropy"),
    *("count:poisson", "reg:gamma", "reg:tweedie"),
)
_TREES = (
    RandomForestClassifier,
    RandomForestRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    GradientBoostingRegressor,
)


@dataclass(frozen=True)
class Explanations:
    """Attributions of ``rows`` rows to ``columns``.

    ``contributions`` has shape (rows, columns); ``base_values`` and ``outputs`` shape
    (rows,); ``base_values + contributions.sum(axis=1) == outputs``. ``classes`` gives,
    for a classifier, the class each row's output is for. ``words`` maps a text column
    to one {term: contribution} per row.

    Parameters
    ----------
    columns : tuple of str
        The model's input columns.
    contributions : numpy.ndarray of float64, shape (n_rows, n_columns)
        In the units of ``space``.
    base_values, outputs : numpy.ndarray, shape (n_rows,)
    space : str
        "log_odds", "margin", "probability", "decision_function", "value", "raw_score" or
        "log1p_value" (see the module docstring).
    method : str
        ``Explainer.method``.
    exact : bool
        False for the permutation explainer (its contributions are estimates).
    note : str
        What is explained, in one sentence.
    classes : list or None, default None
    words : dict of str to list of dict, default {}
        Text column to, per row, its ``TOP_WORDS`` present terms of largest |contribution|.
    """

    columns: tuple[str, ...]
    contributions: np.ndarray
    base_values: np.ndarray
    outputs: np.ndarray
    space: str
    method: str
    exact: bool
    note: str
    classes: list[Any] | None = None
    words: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.outputs)

    def about(self) -> dict[str, Any]:
        """What is explained and how: one object for a whole response or file.

        Returns
        -------
        dict of str to Any
            ``method``, ``exact``, ``space`` and ``note``.
        """
        return {"method": self.method, "exact": self.exact, "space": self.space, "note": self.note}

    def ranked(self, row: int, top_k: int | None = None) -> list[tuple[str, float]]:
        """(column, contribution) of one row, largest absolute contribution first.

        Parameters
        ----------
        row : int
            0-based row position.
        top_k : int or None, default None
            Keep only the ``top_k`` largest; None (or 0) keeps every column.

        Returns
        -------
        list of (str, float)
        """
        values = self.contributions[row]
        order = np.argsort(-np.abs(values), kind="stable")[: top_k or None]
        return [(self.columns[i], float(values[i])) for i in order]

    def records(self, top_k: int | None = None) -> list[dict[str, Any]]:
        """One JSON-ready object per row: base_value, output, space, (class), contributions
        (all columns, or the ``top_k`` largest by absolute value, largest first), words.

        Parameters
        ----------
        top_k : int or None, default None

        Returns
        -------
        list of dict, length n_rows
        """
        out = []
        for row in range(len(self)):
            record: dict[str, Any] = {
                "base_value": float(self.base_values[row]),
                "output": float(self.outputs[row]),
                "space": self.space,
            }
            if self.classes is not None:
                record["class"] = _plain(self.classes[row])
            record["contributions"] = dict(self.ranked(row, top_k))
            if self.words:
                record["words"] = {c: w[row] for c, w in self.words.items()}
            out.append(record)
        return out

    def frame(self, top_k: int | None = None) -> pd.DataFrame:
        """Columns for a scored file: base_value, explained_output (and explained_class), then
        ``contribution_<column>`` for every column, or ``top<i>_column`` and
        ``top<i>_contribution`` for the ``top_k`` largest; ``words_<column>`` for text.

        Parameters
        ----------
        top_k : int or None, default None

        Returns
        -------
        pandas.DataFrame, shape (n_rows, n_out)
            With a default RangeIndex.
        """
        data: dict[str, Any] = {}
        if self.classes is not None:
            data["explained_class"] = [_plain(c) for c in self.classes]
        data["base_value"] = self.base_values
        data["explained_output"] = self.outputs
        if top_k is None:
            for i, column in enumerate(self.columns):
                data[f"contribution_{column}"] = self.contributions[:, i]
        else:
            ranked = [self.ranked(row, top_k) for row in range(len(self))]
            for i in range(min(top_k, len(self.columns))):
                data[f"top{i + 1}_column"] = [r[i][0] for r in ranked]
                data[f"top{i + 1}_contribution"] = [r[i][1] for r in ranked]
        for column, per_row in self.words.items():
            data[f"words_{column}"] = [
                "; ".join(f"{t} {v:+.4g}" for t, v in words.items()) for words in per_row
            ]
        return pd.DataFrame(data)


@dataclass
class _Raw:
    """Values (rows, features, outputs); base and output (rows, outputs)."""

    values: np.ndarray
    base: np.ndarray
    output: np.ndarray


class Explainer:
    """Prepared once per model (method chosen, feature-to-column map built); ``explain``
    per call. Raises ``NotExplainableError`` when the model has no explainer here.

    Parameters
    ----------
    pipeline : Any
        A fitted loopml pipeline, possibly wrapped in ``CalibratedClassifierCV``.
    task : {"classification", "regression"}
    columns : list of str
        The model's input columns, in order.
    background : pandas.DataFrame or None, default None
        Training rows (see ``background_sample``) that the tree, linear and permutation
        methods measure against; without it only LightGBM and XGBoost are explained.
    threshold_note : str, default ""
        Appended to ``note`` (a confidence threshold applies after the probabilities).

    Raises
    ------
    loopml.errors.NotExplainableError
        The model needs the permutation method but gives class labels only, or has no
        background sample.
    """

    def __init__(
        self,
        pipeline: Any,
        task: Task,
        columns: list[str],
        background: pd.DataFrame | None = None,
        threshold_note: str = "",
    ):
        self.task, self.columns = task, list(columns)
        self.background = None if background is None else background[self.columns]
        self._shap: Any = None  # the SHAP explainer, made on first use
        inner, calibration = uncalibrated(pipeline)
        exact = _exact_parts(inner, task, self.background is not None)
        if exact is not None:
            self.kind, self.preprocess, self.estimator = exact
            self.model = inner
            features = self.preprocess.named_steps["features"]
            self._sources = _source_matrix(feature_sources(features), self.columns)
            self._terms = {c: t for c, t in text_terms(features).items() if c in self.columns}
            self.note_suffix = calibration
        else:
            self.kind, self.model, self.estimator = "permutation", pipeline, _final(pipeline)
            self.preprocess, self.note_suffix = None, ""
            self._terms = {}
            _check_permutable(pipeline, task, self.background, self.estimator)
        self.threshold_note = threshold_note
        self.space = _space(self.kind, self.model, self.estimator, task)
        if self.preprocess is not None and is_log1p(inner.steps[-1][1]):
            self.space = "log1p_value" if self.space == "value" else self.space
            self.note_suffix += (
                " (fitted on log1p of the target: the served prediction is expm1 of this output)"
            )

    @property
    def method(self) -> str:
        """The explanation method, in words (e.g. "LightGBM pred_contrib (TreeSHAP)")."""
        return {
            "lightgbm": "LightGBM pred_contrib (TreeSHAP)",
            "xgboost": "XGBoost pred_contribs (TreeSHAP)",
            "tree": "shap.TreeExplainer (interventional, on the background sample)",
            "linear": "shap.LinearExplainer (on the background sample)",
            "permutation": f"shap.PermutationExplainer ({PERMUTATIONS} antithetic orderings "
            "per row over the input columns, on the background sample)",
        }[self.kind]

    @property
    def exact(self) -> bool:
        """Whether contributions are exact (every method but permutation)."""
        return self.kind != "permutation"

    def note(self, classes: list[Any] | None) -> str:
        """One sentence on what is explained: the output space, the class, the estimator, and
        whether the values are approximate.

        Parameters
        ----------
        classes : list or None
            The class each row's output is for (None for regression).

        Returns
        -------
        str
        """
        what = {
            "log_odds": "log-odds",
            "value": "prediction",
            "raw_score": "raw score",
            "log1p_value": "log1p of the prediction",
        }
        target = what.get(self.space, self.space.replace("_", " "))
        shown = sorted({str(c) for c in classes}) if classes is not None else []
        of = f" of class {shown[0]!r}" if len(shown) == 1 else " of the class explained"
        text = f"{target}{of if classes is not None else ''} from the "
        text += f"{type(self.estimator).__name__}{self.note_suffix}"
        if not self.exact:
            text += "; approximate: the contributions sum exactly, each is an estimate"
        return text + self.threshold_note

    def explain(self, features: pd.DataFrame) -> Explanations:
        """Attributions of every row of ``features`` (the model's columns, read by the data
        contract). Memory is bounded by blocks of rows, not by ``len(features)``.

        Parameters
        ----------
        features : pandas.DataFrame, shape (n_rows, n_columns)
            Holds at least ``columns``.

        Returns
        -------
        Explanations
            Contributions of shape (n_rows, len(columns)).

        Raises
        ------
        KeyError
            A column of ``columns`` is missing from ``features``.
        """
        frame = features[self.columns]
        if self.preprocess is None:
            return self._explained(self._permutation(frame), None)
        return self.explain_encoded(self.preprocess.transform(frame))

    def explain_encoded(self, encoded: Any) -> Explanations:
        """Attributions of rows already preprocessed: ``encoded`` is what ``preprocess``
        gives for them, shape (rows, features), dense or sparse (the serving feature graph
        computes it without scikit-learn).

        Parameters
        ----------
        encoded : numpy.ndarray or scipy.sparse matrix, shape (n_rows, n_features_out)

        Returns
        -------
        Explanations
            Contributions summed back to the input columns, shape (n_rows, len(columns)).

        Raises
        ------
        ValueError
            For the permutation method, which works on the input columns, or for another
            number of features.
        """
        if self.preprocess is None:
            raise ValueError("the permutation explainer takes input columns, not features")
        if encoded.shape[1] != self._sources.shape[0]:
            raise ValueError(
                f"{encoded.shape[1]} features given; the preprocessing makes "
                f"{self._sources.shape[0]}"
            )
        return self._explained(self._exact(encoded), encoded)

    def _explained(self, raw: _Raw, encoded: Any) -> Explanations:
        values, base, output, classes = self._pick(raw)
        contributions = values if self.preprocess is None else values @ self._sources
        words = self._words(values, encoded) if encoded is not None else {}
        return Explanations(
            tuple(self.columns),
            np.asarray(contributions, dtype=np.float64),
            base,
            output,
            self.space,
            self.method,
            self.exact,
            self.note(classes),
            classes,
            words,
        )

    # --- exact methods, on the preprocessed features ---

    def _exact(self, encoded: Any) -> _Raw:
        n_features = encoded.shape[1]
        step = max(1, _BLOCK_VALUES // max(1, n_features * self._outputs()))
        if self.kind == "tree":  # SHAP's C++ TreeSHAP prints a progress bar past 10 s a call
            step = min(step, _TREE_BLOCK_ROWS)
        parts = [self._exact_block(encoded[i : i + step]) for i in range(0, encoded.shape[0], step)]
        if not parts:
            empty = np.empty((0, n_features, 1))
            return _Raw(empty, np.empty((0, 1)), np.empty((0, 1)))
        return _Raw(*(np.concatenate([getattr(p, k) for p in parts]) for k in _Raw.__annotations__))

    def _outputs(self) -> int:
        return max(
            1, len(getattr(self.estimator, "classes_", ())) if self.task != "regression" else 1
        )

    def _exact_block(self, encoded: Any) -> _Raw:
        if self.kind == "lightgbm":
            return _lightgbm(self.estimator, as_dense(encoded))
        if self.kind == "xgboost":
            return _xgboost(self.estimator, self._as_xgboost_saw(encoded))
        explainer = self._shap_explainer()
        if self.kind == "tree":
            dense = _as_sklearn_tree_input(encoded)
            output = self._native_output(dense)
            raw = _from_shap(
                explainer.shap_values(dense, check_additivity=False),
                explainer.expected_value,
                output,
            )
            if _adds_up(raw):
                return raw
            import shap  # interventional SHAP was off by a constant on random-forest regressors

            path = self.__dict__.setdefault("_path_shap", shap.TreeExplainer(self.estimator))
            values = path.shap_values(dense, check_additivity=False)
            return _from_shap(values, path.expected_value, output)
        values = explainer.shap_values(encoded)
        return _from_shap(values, explainer.expected_value, self._native_output(encoded))

    def _as_xgboost_saw(self, encoded: Any) -> Any:
        """The features in the form XGBoost was fitted on. XGBoost reads an absent cell of
        a sparse matrix as *missing* but a dense 0 as the value 0, so a model fitted on
        scikit-learn's sparse output (``ColumnTransformer.sparse_output_``, fixed at fit)
        must be explained on sparse rows: densified, its margins moved by up to 6.9 on
        titanic. The distributed booster (``BoosterModel``) was fitted on dense rows."""
        if isinstance(self.estimator, BoosterModel):
            return as_dense(encoded)
        assert self.preprocess is not None
        features = self.preprocess.named_steps["features"]
        if sp.issparse(encoded) or getattr(features, "sparse_output_", False):
            return sp.csr_matrix(encoded)  # the serving graph's dense rows, stacked alike
        return as_dense(encoded)

    def _native_output(self, encoded: Any) -> np.ndarray:
        model = self.estimator
        if self.task == "regression":
            return np.asarray(model.predict(encoded), dtype=np.float64)
        if self.space == "probability":
            return np.asarray(model.predict_proba(encoded), dtype=np.float64)
        return np.asarray(model.decision_function(encoded), dtype=np.float64)

    def _shap_explainer(self) -> Any:
        if self._shap is None:
            import shap

            assert self.preprocess is not None and self.background is not None
            encoded = self.preprocess.transform(self.background)
            if self.kind == "tree":
                self._shap = shap.TreeExplainer(
                    self.estimator,
                    _as_sklearn_tree_input(encoded),
                    feature_perturbation="interventional",
                )
            else:
                self._shap = shap.LinearExplainer(self.estimator, shap.maskers.Independent(encoded))
        return self._shap

    def _words(self, values: np.ndarray, encoded: Any) -> dict[str, list[dict[str, float]]]:
        found: dict[str, list[dict[str, float]]] = {}
        matrix = sp.csr_matrix(encoded)
        for column, (piece, terms) in self._terms.items():
            block = matrix[:, piece]
            per_row = []
            for row in range(block.shape[0]):
                present = block.indices[block.indptr[row] : block.indptr[row + 1]]
                scores = values[row, piece.start + present]
                order = np.argsort(-np.abs(scores), kind="stable")[:TOP_WORDS]
                per_row.append(
                    {str(terms[present[i]]): float(scores[i]) for i in order if scores[i] != 0}
                )
            found[column] = per_row
        return found

    # --- the model-agnostic method, on the input columns ---

    def _permutation(self, frame: pd.DataFrame) -> _Raw:
        import shap

        assert self.background is not None
        pool = pd.concat([self.background, frame], ignore_index=True)
        arrays = [pool[c].array for c in self.columns]  # take() keeps each column's dtype
        n_background, width = len(self.background), len(self.columns)
        output = self._model_output

        def model_on_codes(codes: np.ndarray) -> np.ndarray:
            picks = np.asarray(codes).astype(np.int64)
            pairs = zip(self.columns, arrays, strict=True)
            return output(pd.DataFrame({c: a.take(picks[:, j]) for j, (c, a) in enumerate(pairs)}))

        codes = np.tile(np.arange(n_background, dtype=np.float64)[:, None], (1, width))
        masker = shap.maskers.Independent(codes, max_samples=n_background)
        explainer = shap.PermutationExplainer(model_on_codes, masker)
        parts = []
        state = np.random.get_state()  # SHAP draws orderings from NumPy's global generator
        try:
            for row in range(len(frame)):
                np.random.seed(0)  # the same orderings for every row, however rows are batched
                target = np.full((1, width), float(n_background + row))
                parts.append(
                    explainer(target, max_evals=PERMUTATIONS * (2 * width + 1), silent=True)
                )
        finally:
            np.random.set_state(state)
        return self._stack_permutation(parts, frame)

    def _stack_permutation(self, parts: list[Any], frame: pd.DataFrame) -> _Raw:
        outputs = self._model_output(frame)
        if not parts:
            k = outputs.shape[1] if outputs.ndim == 2 else 1
            return _Raw(np.empty((0, len(self.columns), k)), np.empty((0, k)), np.empty((0, k)))
        values = np.concatenate([np.asarray(p.values, dtype=np.float64) for p in parts])
        base = np.concatenate(
            [np.asarray(p.base_values, dtype=np.float64).reshape(1, -1) for p in parts]
        )
        return _from_shap(values, base, outputs)

    def _model_output(self, frame: pd.DataFrame) -> np.ndarray:
        if self.space == "probability":
            return np.asarray(self.model.predict_proba(frame), dtype=np.float64)
        if self.space == "decision_function":
            return np.asarray(self.model.decision_function(frame), dtype=np.float64)
        return np.asarray(self.model.predict(frame), dtype=np.float64)

    # --- one output per row ---

    def _pick(self, raw: _Raw) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any] | None]:
        rows = raw.values.shape[0]
        if self.task == "regression":
            return raw.values[:, :, 0], raw.base[:, 0], raw.output[:, 0], None
        labels = list(getattr(self.model, "classes_", getattr(self.estimator, "classes_", [])))
        if raw.values.shape[2] == 1:  # one margin: the positive class's
            which = np.zeros(rows, dtype=int)
            chosen = [labels[1] if len(labels) > 1 else None] * rows
        else:
            multi = raw.values.shape[2] > 2
            which = raw.output.argmax(axis=1) if multi else np.ones(rows, dtype=int)
            chosen = [labels[i] for i in which]
        index = np.arange(rows)
        return raw.values[index, :, which], raw.base[index, which], raw.output[index, which], chosen


def explain_rows(
    pipeline: Any,
    features: pd.DataFrame,
    *,
    task: Task,
    background: pd.DataFrame | None = None,
    columns: list[str] | None = None,
) -> Explanations:
    """Attributions of each row of ``features`` (shape (rows, columns), read by the data
    contract) for a fitted loopml pipeline; ``background`` is the stored sample of training
    rows the tree, linear and permutation methods need. See the module docstring for the
    methods and spaces.

    Parameters
    ----------
    pipeline : Any
        A fitted loopml pipeline.
    features : pandas.DataFrame, shape (n_rows, n_columns)
    task : {"classification", "regression"}
    background : pandas.DataFrame or None, optional
    columns : list of str, optional
        The model's input columns; default every column of ``features``.

    Returns
    -------
    Explanations

    Raises
    ------
    loopml.errors.NotExplainableError
        Naming the model kind and the fix (see ``Explainer``).
    """
    names = columns or [str(c) for c in features.columns]
    return Explainer(pipeline, task, names, background).explain(features)


def background_sample(
    features: pd.DataFrame, rows: int = BACKGROUND_ROWS, seed: int = 0
) -> pd.DataFrame:
    """Up to ``rows`` training rows, drawn without replacement with ``seed``: the background
    the tree, linear and permutation explainers measure contributions against.

    Parameters
    ----------
    features : pandas.DataFrame, shape (n_rows, n_columns)
    rows : int, default BACKGROUND_ROWS (100)
    seed : int, default 0
        ``random_state`` of ``DataFrame.sample``.

    Returns
    -------
    pandas.DataFrame, shape (min(n_rows, rows), n_columns)
        With a fresh RangeIndex; every row when there are at most ``rows``.
    """
    if len(features) <= rows:
        return features.reset_index(drop=True)
    return features.sample(rows, random_state=seed).reset_index(drop=True)


# --- choosing the method ---


def uncalibrated(pipeline: Any) -> tuple[Any, str]:
    """The pipeline a calibrated model calibrates, and a note saying so.

    Parameters
    ----------
    pipeline : Any
        A fitted model; only a fitted ``sklearn.calibration.CalibratedClassifierCV`` is
        unwrapped (its first calibrated classifier's estimator, out of ``FrozenEstimator``).

    Returns
    -------
    inner : Any
        The calibrated pipeline, or ``pipeline`` itself.
    note : str
        ", before <method> calibration ..." or "".
    """
    if isinstance(pipeline, CalibratedClassifierCV) and hasattr(
        pipeline, "calibrated_classifiers_"
    ):
        inner = pipeline.calibrated_classifiers_[0].estimator
        inner = getattr(inner, "estimator", inner)  # inside sklearn's FrozenEstimator
        return inner, (
            f", before {pipeline.method} calibration (the served probabilities are "
            "calibrated from it)"
        )
    return pipeline, ""


def _exact_parts(
    pipeline: Any, task: Task, has_background: bool
) -> tuple[str, Pipeline, Any] | None:
    """(kind, preprocessing, estimator) when an exact method fits, else None."""
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) < 2:
        return None
    preprocess = Pipeline(pipeline.steps[:-1])
    if not isinstance(preprocess.named_steps.get("features"), ColumnTransformer):
        return None
    estimator = pipeline.steps[-1][1]
    if is_log1p(estimator):  # explained on the log1p scale it was fitted on
        estimator = estimator.regressor_
    kind = _exact_kind(estimator, task, has_background)
    return None if kind is None else (kind, preprocess, estimator)


def _exact_kind(estimator: Any, task: Task, has_background: bool) -> str | None:
    module = type(estimator).__module__
    if isinstance(estimator, BoosterModel):
        return estimator.library
    lightgbm_model = any(c.__module__.startswith("lightgbm") for c in type(estimator).__mro__)
    if lightgbm_model and hasattr(estimator, "booster_"):  # loopml's subclasses too
        return "lightgbm"
    if hasattr(estimator, "get_booster"):
        return "xgboost"
    if not has_background:
        return None
    binary_boosting = (
        isinstance(estimator, GradientBoostingClassifier) and len(estimator.classes_) == 2
    )
    if isinstance(estimator, _TREES) or binary_boosting:
        return "tree"
    if module.startswith("sklearn.linear_model") and hasattr(estimator, "coef_"):
        return "linear"
    return None


def _final(pipeline: Any) -> Any:
    inner, _ = uncalibrated(pipeline)
    return inner.steps[-1][1] if isinstance(inner, Pipeline) else inner


def _check_permutable(pipeline: Any, task: Task, background: Any, estimator: Any) -> None:
    kind = type(estimator).__name__
    if task == "classification" and not (
        hasattr(pipeline, "predict_proba") or hasattr(pipeline, "decision_function")
    ):
        raise NotExplainableError(
            f"model kind {kind} gives class labels only (no probabilities or scores to "
            "attribute), so it cannot be explained; train a model with probabilities "
            "(soft voting, or a catalog model such as lightgbm) to explain it"
        )
    if background is None:
        raise NotExplainableError(
            f"model kind {kind} is explained against a background sample of training rows, "
            "and this model has none (it was registered before loopml stored one); retrain "
            "it with `loopml run`, or use lightgbm or xgboost, which need no background"
        )


def _space(kind: str, model: Any, estimator: Any, task: Task) -> str:
    if task == "regression":
        objective = str(_objective(estimator))
        return "raw_score" if objective.startswith(_LINKED_OBJECTIVES) else "value"
    if kind == "permutation":
        return "probability" if hasattr(model, "predict_proba") else "decision_function"
    if kind == "tree" and not isinstance(estimator, GradientBoostingClassifier):
        return "probability"
    if kind == "linear" and not isinstance(estimator, LogisticRegression):
        return "decision_function"
    return "log_odds" if len(getattr(estimator, "classes_", ())) == 2 else "margin"


def _objective(estimator: Any) -> Any:
    if isinstance(estimator, BoosterModel):
        return (estimator.params or {}).get("objective", "")
    return getattr(estimator, "objective_", None) or getattr(estimator, "objective", "") or ""


def _source_matrix(sources: list[str], columns: list[str]) -> sp.csr_matrix:
    """(features, columns) 0/1 matrix: feature i came from column j."""
    index = {c: j for j, c in enumerate(columns)}
    cols = np.array([index[s] for s in sources], dtype=np.int64)
    ones = np.ones(len(sources))
    return sp.csr_matrix(
        (ones, (np.arange(len(sources)), cols)), shape=(len(sources), len(columns))
    )


# --- the libraries' own TreeSHAP ---


def _lightgbm(estimator: Any, dense: np.ndarray) -> _Raw:
    booster = estimator.booster() if isinstance(estimator, BoosterModel) else estimator.booster_
    rows, width = dense.shape
    contrib = np.asarray(booster.predict(dense, pred_contrib=True), dtype=np.float64)
    raw = np.asarray(booster.predict(dense, raw_score=True), dtype=np.float64)
    split = contrib.reshape(rows, -1, width + 1)
    return _Raw(split[:, :, :width].transpose(0, 2, 1), split[:, :, width], raw.reshape(rows, -1))


def _xgboost(estimator: Any, dense: Any) -> _Raw:
    import xgboost

    booster = (
        estimator.booster() if isinstance(estimator, BoosterModel) else estimator.get_booster()
    )
    rows, width = dense.shape
    matrix = xgboost.DMatrix(dense)  # a CSR matrix: absent cells are missing, as in fit
    contrib = np.asarray(booster.predict(matrix, pred_contribs=True), dtype=np.float64)
    margin = np.asarray(booster.predict(matrix, output_margin=True), dtype=np.float64)
    split = contrib.reshape(rows, -1, width + 1)
    return _Raw(
        split[:, :, :width].transpose(0, 2, 1), split[:, :, width], margin.reshape(rows, -1)
    )


def _from_shap(values: Any, base: Any, output: np.ndarray) -> _Raw:
    """SHAP's (rows, features) or (rows, features, outputs) values in one shape."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2:
        array = array[:, :, None]
    rows, outputs = array.shape[0], array.shape[2]
    base_array = np.broadcast_to(
        np.asarray(base, dtype=np.float64).reshape(-1, outputs), (rows, outputs)
    )
    return _Raw(array, np.array(base_array), output.reshape(rows, -1))


def _adds_up(raw: _Raw) -> bool:
    total = raw.base + raw.values.sum(axis=1)
    return bool(np.all(np.abs(total - raw.output) <= 1e-6 * np.maximum(1.0, np.abs(raw.output))))


def _as_sklearn_tree_input(encoded: Any) -> np.ndarray:
    """Dense values rounded to float32, as scikit-learn's trees compare them: SHAP compares
    float64 values with the thresholds, and a value a float32 rounding away from one took
    the other branch (3e-4 of additivity lost on titanic's random forest)."""
    return as_dense(encoded).astype(np.float32).astype(np.float64)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
