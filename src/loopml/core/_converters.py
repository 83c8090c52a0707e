"""skl2onnx converters for what loopml's pipeline holds and skl2onnx lacks or gets wrong.

Registered once per process by ``register_converters`` (skl2onnx keeps a global registry).
See ``loopml.core.compile`` for why each exists; parity is checked on every compile.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from loopml.core.features import (
    _DIGITS,
    CYCLES,
    CalendarEncoder,
    CalendarFeatures,
    CategoryText,
    TextColumn,
)

Converter = Callable[[Any, Any, Any], None]


@functools.cache
def register_converters() -> None:
    """Register loopml's skl2onnx converters, once per process (cached).

    Adds converters for ``TextColumn``, ``CategoryText``, ``CalendarFeatures`` and
    ``CalendarEncoder``; replaces skl2onnx's for ``SimpleImputer``, ``OneHotEncoder``,
    ``OrdinalEncoder`` (infrequent categories, a code for unknown ones) and TF-IDF;
    re-registers scikit-learn's forests and trees (fed float32-rounded values) and
    LightGBM (onnxmltools' converter); adds ``TransformedTargetRegressor`` with
    ``log1p`` (the inner regressor's graph, then expm1) and the bagged estimators (as
    voting ensembles of their fold members). See ``loopml.core.compile``.
    """
    from skl2onnx import update_registered_converter
    from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    for cls in (TextColumn, CategoryText):
        update_registered_converter(cls, f"Loopml{cls.__name__}", _same_shape, _identity)
    update_registered_converter(
        CalendarFeatures, "LoopmlCalendarFeatures", _calendar_shape, _identity
    )
    update_registered_converter(
        CalendarEncoder, "LoopmlCalendarEncoder", _calendar_encoder_shape, _calendar_encoder
    )
    update_registered_converter(
        SimpleImputer, "SklearnSimpleImputer", _imputer_shape, _imputer, overwrite=True
    )
    update_registered_converter(
        OneHotEncoder, "SklearnOneHotEncoder", _one_hot_shape, _one_hot, overwrite=True
    )
    update_registered_converter(
        OrdinalEncoder, "SklearnOrdinalEncoder", _ordinal_shape, _ordinal, overwrite=True
    )
    _register_tfidf(update_registered_converter, TfidfTransformer, TfidfVectorizer)
    _register_trees(update_registered_converter)
    _register_lightgbm(update_registered_converter)
    _register_target_transform(update_registered_converter)
    _register_bagging(update_registered_converter)


def _node(scope: Any, container: Any, op: str, inputs: list[str], **attrs: Any) -> str:
    """Add one node with a fresh output name; return that name."""
    output = scope.get_unique_variable_name(op.lower())
    container.add_node(op, inputs, [output], name=scope.get_unique_operator_name(op), **attrs)
    return output


def _constant(scope: Any, container: Any, proto: int, shape: list[int], values: Any) -> str:
    name = scope.get_unique_variable_name("const")
    container.add_initializer(name, proto, shape, values)
    return name


def _concat_inputs(scope: Any, operator: Any, container: Any) -> str:
    names = [i.full_name for i in operator.inputs]
    return names[0] if len(names) == 1 else _node(scope, container, "Concat", names, axis=1)


def _concat_to_output(
    scope: Any, operator: Any, container: Any, parts: list[str], label: str
) -> None:
    """The operator's output: ``parts`` side by side."""
    container.add_node(
        "Concat",
        parts,
        [operator.outputs[0].full_name],
        axis=1,
        name=scope.get_unique_operator_name(label),
    )


def _same_shape(operator: Any) -> None:
    kind = operator.inputs[0].type
    operator.outputs[0].type = kind.__class__([kind.shape[0], kind.shape[-1]])


def _identity(scope: Any, operator: Any, container: Any) -> None:
    container.add_node(
        "Identity",
        [operator.inputs[0].full_name],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Identity"),
    )


def _calendar_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType

    raw = operator.raw_operator
    width = len(raw.parts) * len(raw.columns_)
    operator.outputs[0].type = DoubleTensorType([operator.inputs[0].get_first_dimension(), width])


def _calendar_encoder_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType

    width = len(operator.raw_operator.get_feature_names_out())
    operator.outputs[0].type = DoubleTensorType([operator.inputs[0].get_first_dimension(), width])


def _calendar_encoder(scope: Any, operator: Any, container: Any) -> None:
    """The time line (MatMul, scale, clip per date) then sine and cosine of periodic parts."""
    from onnx import TensorProto

    raw = operator.raw_operator
    x = _concat_inputs(scope, operator, container)
    weights = raw.weights()
    matrix = _constant(scope, container, TensorProto.DOUBLE, list(weights.shape), weights.ravel())
    dates = weights.shape[1]

    def row(values: Any) -> str:
        flat = np.asarray(values, dtype=np.float64).ravel().tolist()
        return _constant(scope, container, TensorProto.DOUBLE, [1, dates], flat)

    moment = _node(scope, container, "MatMul", [x, matrix])
    centred = _node(scope, container, "Sub", [moment, row(raw.mean_)])
    line = _node(scope, container, "Div", [centred, row(raw.scale_)])
    clipped = _node(
        scope,
        container,
        "Min",
        [_node(scope, container, "Max", [line, row(raw.low_)]), row(raw.high_)],
    )
    parts = [clipped]
    periodic = raw.periodic_columns()
    if periodic:
        index = _constant(scope, container, TensorProto.INT64, [len(periodic)], periodic)
        chosen = _node(scope, container, "Gather", [x, index], axis=1)
        cycles = [CYCLES[raw.parts[i % len(raw.parts)]] for i in periodic]
        starts = _constant(
            scope, container, TensorProto.DOUBLE, [1, len(periodic)], [c[0] for c in cycles]
        )
        rates = [2 * np.pi / c[1] for c in cycles]
        rate = _constant(scope, container, TensorProto.DOUBLE, [1, len(periodic)], rates)
        angle = _node(
            scope, container, "Mul", [_node(scope, container, "Sub", [chosen, starts]), rate]
        )
        sines = _rounded(scope, container, _node(scope, container, "Sin", [angle]))
        cosines = _rounded(scope, container, _node(scope, container, "Cos", [angle]))
        # interleave: sin and cos of each part side by side, as transform writes them
        pairs = _node(scope, container, "Concat", [sines, cosines], axis=1)
        order = [k for i in range(len(periodic)) for k in (i, len(periodic) + i)]
        where = _constant(scope, container, TensorProto.INT64, [len(order)], order)
        parts.append(_node(scope, container, "Gather", [pairs, where], axis=1))
    _concat_to_output(scope, operator, container, parts, "Calendar")


def _rounded(scope: Any, container: Any, values: str) -> str:
    """``np.round(values, _DIGITS)``: numpy multiplies, rounds half to even, divides."""
    from onnx import TensorProto

    factor = _constant(scope, container, TensorProto.DOUBLE, [1], [10.0**_DIGITS])
    scaled = _node(scope, container, "Round", [_node(scope, container, "Mul", [values, factor])])
    return _node(scope, container, "Div", [scaled, factor])


# --- SimpleImputer in double (numbers) or with loopml's missing-category sentinel (strings) ---


def _imputer_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    raw = operator.raw_operator
    indicator = getattr(raw, "indicator_", None)
    width = len(raw.statistics_) + (len(indicator.features_) if indicator is not None else 0)
    strings = isinstance(operator.inputs[0].type, StringTensorType)
    kind = StringTensorType if strings else DoubleTensorType
    operator.outputs[0].type = kind([operator.inputs[0].get_first_dimension(), width])


def _imputer(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto
    from skl2onnx.common.data_types import StringTensorType

    from loopml.core.compile import MISSING_CATEGORY

    raw = operator.raw_operator
    x = _concat_inputs(scope, operator, container)
    width = [1, len(raw.statistics_)]
    if isinstance(operator.inputs[0].type, StringTensorType):
        sentinel = _constant(scope, container, TensorProto.STRING, [1], [MISSING_CATEGORY.encode()])
        missing = _node(scope, container, "Equal", [x, sentinel])
        values = [str(v).encode() for v in raw.statistics_]
        fill = _constant(scope, container, TensorProto.STRING, width, values)
    else:
        missing = _node(scope, container, "IsNaN", [x])
        values = np.asarray(raw.statistics_, dtype=np.float64).tolist()
        fill = _constant(scope, container, TensorProto.DOUBLE, width, values)
    imputed = _node(scope, container, "Where", [missing, fill, x])
    indicator = getattr(raw, "indicator_", None)
    parts = [imputed]
    if indicator is not None:
        index = [int(i) for i in indicator.features_]
        where = _constant(scope, container, TensorProto.INT64, [len(index)], index)
        flags = _node(scope, container, "Gather", [missing, where], axis=1)
        parts.append(_node(scope, container, "Cast", [flags], to=TensorProto.DOUBLE))
    container.add_node(
        "Concat" if len(parts) > 1 else "Identity",
        parts,
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Imputed"),
        **({"axis": 1} if len(parts) > 1 else {}),
    )


# --- OneHotEncoder with infrequent categories grouped into one column ---


def _one_hot_blocks(encoder: Any) -> list[tuple[dict[str, int], int, int]]:
    """Per column: category -> output index, the index of unknown values, the width."""
    blocks = []
    rare_lists = getattr(encoder, "infrequent_categories_", None) or [None] * len(
        encoder.categories_
    )
    for categories, rare in zip(encoder.categories_, rare_lists, strict=True):
        rare_set = set() if rare is None else {str(c) for c in rare}
        frequent = [str(c) for c in categories if str(c) not in rare_set]
        mapping = {c: i for i, c in enumerate(frequent)}
        unknown = len(frequent) if rare_set else -1
        mapping.update({c: unknown for c in rare_set})
        blocks.append((mapping, unknown, len(frequent) + (1 if rare_set else 0)))
    return blocks


def _one_hot_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType

    width = sum(block[2] for block in _one_hot_blocks(operator.raw_operator))
    operator.outputs[0].type = DoubleTensorType([operator.inputs[0].get_first_dimension(), width])


def _one_hot(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto

    encoder = operator.raw_operator
    if encoder.drop is not None or encoder.handle_unknown == "error":
        raise NotImplementedError("OneHotEncoder with drop or handle_unknown='error'")
    x = _concat_inputs(scope, operator, container)
    parts = []
    for i, (mapping, unknown, width) in enumerate(_one_hot_blocks(encoder)):
        where = _constant(scope, container, TensorProto.INT64, [1], [i])
        column = _node(scope, container, "Gather", [x, where], axis=1)
        code = _node(
            scope,
            container,
            "LabelEncoder",
            [column],
            keys_strings=list(mapping),
            values_int64s=list(mapping.values()),
            default_int64=unknown,
            op_domain="ai.onnx.ml",
            op_version=2,
        )
        positions = _constant(scope, container, TensorProto.INT64, [1, width], list(range(width)))
        hit = _node(scope, container, "Equal", [code, positions])
        parts.append(_node(scope, container, "Cast", [hit], to=TensorProto.DOUBLE))
    _concat_to_output(scope, operator, container, parts, "OneHot")


# --- OrdinalEncoder (native categories): one code per column, infrequent ones shared ---


def _ordinal_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType

    width = len(operator.raw_operator.categories_)
    operator.outputs[0].type = DoubleTensorType([operator.inputs[0].get_first_dimension(), width])


def _ordinal(scope: Any, operator: Any, container: Any) -> None:
    """Each column's category -> its code (``LabelEncoder``), an unknown one ->
    ``unknown_value``, as doubles; the codes are those of ``_one_hot_blocks`` (frequent
    categories in order, then the infrequent group), which the parity tests pin."""
    from onnx import TensorProto

    encoder = operator.raw_operator
    unknown_value = encoder.unknown_value
    if encoder.handle_unknown != "use_encoded_value" or not float(unknown_value).is_integer():
        raise NotImplementedError("OrdinalEncoder without an integral unknown_value")
    x = _concat_inputs(scope, operator, container)
    parts = []
    for i, (mapping, _, _) in enumerate(_one_hot_blocks(encoder)):
        where = _constant(scope, container, TensorProto.INT64, [1], [i])
        column = _node(scope, container, "Gather", [x, where], axis=1)
        code = _node(
            scope,
            container,
            "LabelEncoder",
            [column],
            keys_strings=list(mapping),
            values_int64s=list(mapping.values()),
            default_int64=int(unknown_value),
            op_domain="ai.onnx.ml",
            op_version=2,
        )
        parts.append(_node(scope, container, "Cast", [code], to=TensorProto.DOUBLE))
    _concat_to_output(scope, operator, container, parts, "Ordinal")


# --- TF-IDF: scikit-learn's sublinear tf, output in double ---


def _register_tfidf(update: Callable[..., None], transformer: type, vectorizer: type) -> None:
    from skl2onnx.common._registration import get_converter, get_shape_calculator

    update(
        transformer,
        "SklearnTfidfTransformer",
        get_shape_calculator("SklearnTfidfTransformer"),
        _tfidf,
        overwrite=True,
    )
    original = get_converter("SklearnTfidfVectorizer")

    def shape(operator: Any) -> None:
        from skl2onnx.common.data_types import DoubleTensorType

        get_shape_calculator("SklearnTfidfVectorizer")(operator)
        operator.outputs[0].type = DoubleTensorType(operator.outputs[0].type.shape)

    def convert(scope: Any, operator: Any, container: Any) -> None:
        if operator.raw_operator.analyzer == "char_wb":
            _char_wb_tfidf(scope, operator, container)
        else:
            original._fct(scope, operator, container)

    update(
        vectorizer,
        "LoopmlTfidfVectorizer",
        shape,
        convert,
        options=original.get_allowed_options(),
    )


def _tfidf(scope: Any, operator: Any, container: Any) -> None:
    """scikit-learn's TF-IDF weighting in double precision: the counts (exact in float) are
    cast to double first, so the idf weights and the norm are not rounded to float32 (which
    moved values by up to 5e-8, relative); an all-zero row stays zero, as in ``normalize``."""
    raw, counts = operator.raw_operator, operator.inputs[0].full_name
    _tfidf_weighting(scope, container, raw, counts, operator.outputs[0].full_name)


# --- TF-IDF of character n-grams inside words (analyzer="char_wb") ---

WORD_PAD = " "  # pads a row's words: white space, which no word holds
CHAR_PAD = "  "  # pads a word's characters: two characters, which no character token is


@functools.cache
def _word_pattern() -> str:
    """RE2 pattern of one word as Python's ``str.split()`` finds it: a run of characters
    that are not white space by ``str.isspace`` (29 of them: tab to carriage return, the
    separators 0x1c-0x1f, space, next line, no-break space, the em and other spaces, the
    line and paragraph separators, ideographic space...)."""
    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    return "[^" + "".join(f"\\x{{{ord(c):x}}}" for c in spaces) + "]+"


def _char_wb_pool(vocabulary: dict[str, int]) -> dict[str, Any]:
    """The ``TfIdfVectorizer`` op's attributes that count each term of ``vocabulary`` as a
    sequence of characters (one token per code point) at its output index."""
    if not vocabulary:
        raise NotImplementedError("a char_wb vectorizer with an empty vocabulary")
    by_length: dict[int, list[str]] = {}
    for term in vocabulary:
        by_length.setdefault(len(term), []).append(term)
    pool: list[str] = []
    starts: list[int] = []
    indexes: list[int] = []
    for n in range(1, max(by_length) + 1):
        starts.append(len(pool))
        for term in sorted(by_length.get(n, [])):
            pool.extend(term)
            indexes.append(vocabulary[term])
    return {
        "mode": "TF",
        "min_gram_length": min(by_length),
        "max_gram_length": max(by_length),
        "max_skip_count": 0,
        "ngram_counts": starts,
        "ngram_indexes": indexes,
        "pool_strings": pool,
    }


def _char_wb_tfidf(scope: Any, operator: Any, container: Any) -> None:
    """scikit-learn's ``char_wb`` analyzer, then its TF-IDF weighting.

    scikit-learn splits the text with ``str.split()``, pads each word with one space on
    each side and takes the character n-grams inside each padded word (a word shorter than
    n gives itself once). The graph: the words (``Tokenizer`` on the ``str.split``
    pattern, a row's missing words filled with ``WORD_PAD``), each between two spaces
    (``StringConcat``; a filler becomes ""), each cut into characters (``Tokenizer`` in
    character mode, filled with ``CHAR_PAD``), the words of a row laid end to end, and the
    ``TfIdfVectorizer`` op counts every term of the vocabulary in that sequence. That count
    equals scikit-learn's: a term holds a space only at its ends, so it cannot span two
    words, nor match a filler (``CHAR_PAD`` is no single character), and a term of length n
    inside a padded word is one of its n-grams, or the whole word when n is its length (or
    less: a word shorter than the smallest n gives itself). Lower-casing is done before
    the graph (``compile._take_over_lowercasing``).
    """
    from onnx import TensorProto

    raw = operator.raw_operator
    if raw.lowercase or raw.preprocessor is not None or raw.strip_accents is not None:
        raise NotImplementedError("a char_wb vectorizer that changes the text in the graph")
    if raw.binary or raw.input != "content":
        raise NotImplementedError("a char_wb vectorizer with binary counts or file input")
    flat = _node(
        scope,
        container,
        "Reshape",
        [operator.inputs[0].full_name, _constant(scope, container, TensorProto.INT64, [1], [-1])],
    )
    words = _node(
        scope,
        container,
        "Tokenizer",
        [flat],
        tokenexp=_word_pattern(),
        pad_value=WORD_PAD,
        mark=0,
        mincharnum=1,
        op_domain="com.microsoft",
    )
    space = _constant(scope, container, TensorProto.STRING, [], [b" "])
    nothing = _constant(scope, container, TensorProto.STRING, [], [b""])
    is_word = _node(
        scope,
        container,
        "Not",
        [
            _node(
                scope,
                container,
                "Equal",
                [words, _constant(scope, container, TensorProto.STRING, [], [WORD_PAD.encode()])],
            )
        ],
    )
    between = _node(
        scope,
        container,
        "StringConcat",
        [_node(scope, container, "StringConcat", [space, words]), space],
    )
    padded = _node(scope, container, "Where", [is_word, between, nothing])
    characters = _node(
        scope,
        container,
        "Tokenizer",
        [padded],
        separators=[""],
        pad_value=CHAR_PAD,
        mark=0,
        mincharnum=1,
        op_domain="com.microsoft",
    )
    rest = _constant(scope, container, TensorProto.INT64, [1], [-1])
    rows = _node(
        scope, container, "Concat", [_node(scope, container, "Shape", [flat]), rest], axis=0
    )
    sequence = _node(scope, container, "Reshape", [characters, rows])
    counts = _node(
        scope,
        container,
        "TfIdfVectorizer",
        [sequence],
        **_char_wb_pool(raw.vocabulary_),
    )
    _tfidf_weighting(scope, container, raw, counts, operator.outputs[0].full_name)


def _tfidf_weighting(scope: Any, container: Any, raw: Any, counts: str, output: str) -> None:
    """``output`` = ``counts`` (term counts, any numeric type) weighted as ``raw`` (a
    fitted ``TfidfTransformer`` or ``TfidfVectorizer``) weights them, in double."""
    from onnx import TensorProto

    x = _node(scope, container, "Cast", [counts], to=TensorProto.DOUBLE)
    zero = _constant(scope, container, TensorProto.DOUBLE, [], [0.0])
    one = _constant(scope, container, TensorProto.DOUBLE, [], [1.0])
    if raw.sublinear_tf:  # log(tf) + 1 where tf > 0, as scikit-learn computes it: a count
        # of 0 gives log(0) + 1 = -inf, which Max makes 0 (fewer passes than a Where)
        logged = _node(scope, container, "Add", [_node(scope, container, "Log", [x]), one])
        x = _node(scope, container, "Max", [logged, zero])
    if raw.use_idf:
        idf = np.asarray(raw.idf_, dtype=np.float64).tolist()
        weights = _constant(scope, container, TensorProto.DOUBLE, [len(idf)], idf)
        x = _node(scope, container, "Mul", [x, weights])
    if raw.norm is not None:
        axis = _constant(scope, container, TensorProto.INT64, [1], [1])
        if raw.norm == "l2":
            norm = _node(scope, container, "ReduceSumSquare", [x, axis], keepdims=1)
            norm = _node(scope, container, "Sqrt", [norm])
        else:
            norm = _node(scope, container, "ReduceSum", [_node(scope, container, "Abs", [x]), axis])
        empty = _node(scope, container, "Equal", [norm, zero])
        x = _node(
            scope, container, "Div", [x, _node(scope, container, "Where", [empty, one, norm])]
        )
    container.add_node("Identity", [x], [output], name=scope.get_unique_operator_name("Identity"))


# --- Trees: scikit-learn rounds inputs to float32; LightGBM's converter is float-only ---


def _island(inner_alias: str, float_inside: bool) -> Converter:
    """Run the converter ``inner_alias`` on float32-rounded input (as float or as double)."""

    def convert(scope: Any, operator: Any, container: Any) -> None:
        from onnx import TensorProto
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

        source = operator.inputs[0]
        rounded = scope.declare_local_variable("rounded", FloatTensorType(source.type.shape))
        _cast(scope, container, source.full_name, rounded.full_name, TensorProto.FLOAT)
        feed = rounded
        if not float_inside:
            feed = scope.declare_local_variable("rounded", DoubleTensorType(source.type.shape))
            _cast(scope, container, rounded.full_name, feed.full_name, TensorProto.DOUBLE)
        inner = scope.declare_local_operator(inner_alias, operator.raw_operator)
        inner.inputs.append(feed)
        for output in operator.outputs:
            kind = output.type.__class__
            if float_inside and isinstance(output.type, DoubleTensorType):
                kind = FloatTensorType
            inner.outputs.append(scope.declare_local_variable("inner", kind(output.type.shape)))
        for output, produced in zip(operator.outputs, inner.outputs, strict=True):
            if isinstance(output.type, DoubleTensorType) and float_inside:
                _cast(scope, container, produced.full_name, output.full_name, TensorProto.DOUBLE)
            else:
                container.add_node(
                    "Identity",
                    [produced.full_name],
                    [output.full_name],
                    name=scope.get_unique_operator_name("Identity"),
                )

    return convert


def _cast(scope: Any, container: Any, source: str, target: str, to: int) -> None:
    container.add_node(
        "Cast", [source], [target], to=to, name=scope.get_unique_operator_name("Cast")
    )


def _register_trees(update: Callable[..., None]) -> None:
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter, get_shape_calculator
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    for cls in (
        RandomForestClassifier,
        RandomForestRegressor,
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        DecisionTreeClassifier,
        DecisionTreeRegressor,
    ):
        alias = sklearn_operator_name_map[cls]
        update(
            cls,
            f"LoopmlRounded{alias}",
            get_shape_calculator(alias),
            _island(alias, float_inside=False),
            options=get_converter(alias).get_allowed_options(),
        )


def _register_lightgbm(update: Callable[..., None]) -> None:
    """LightGBM's estimators and loopml's early-stopping subclasses (the same booster)."""
    from lightgbm import LGBMClassifier, LGBMRegressor
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    from loopml.core.early_stopping import EarlyStoppingLGBMClassifier, EarlyStoppingLGBMRegressor

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    regressor_options: dict[str, Any] = {"split": None}
    for cls, shape, options in (
        (LGBMClassifier, calculate_linear_classifier_output_shapes, classifier_options),
        (LGBMRegressor, calculate_linear_regressor_output_shapes, regressor_options),
        (
            EarlyStoppingLGBMClassifier,
            calculate_linear_classifier_output_shapes,
            classifier_options,
        ),
        (EarlyStoppingLGBMRegressor, calculate_linear_regressor_output_shapes, regressor_options),
    ):
        alias = f"LightGbm{cls.__name__}"
        update(cls, alias, shape, convert_lightgbm, options=options)
        update(cls, f"Loopml{alias}", shape, _island(alias, float_inside=True), options=options)


# --- k-fold bags: a soft, equally weighted vote of their members ---


def _register_bagging(update: Callable[..., None]) -> None:
    """``BaggedClassifier`` / ``BaggedRegressor`` through skl2onnx's voting converters: a bag
    has the ``estimators_``, ``voting``, ``weights`` and ``flatten_transform`` they read."""
    from skl2onnx.common._registration import get_converter, get_shape_calculator
    from skl2onnx.operator_converters.voting_classifier import convert_voting_classifier
    from skl2onnx.operator_converters.voting_regressor import convert_voting_regressor

    from loopml.core.bagging import BaggedClassifier, BaggedRegressor

    for cls, alias, convert in (
        (BaggedClassifier, "SklearnVotingClassifier", convert_voting_classifier),
        (BaggedRegressor, "SklearnVotingRegressor", convert_voting_regressor),
    ):
        update(
            cls,
            f"Loopml{cls.__name__}",
            get_shape_calculator(alias),
            convert,
            options=get_converter(alias).get_allowed_options(),
        )


# --- TransformedTargetRegressor(log1p / expm1): the regressor's graph, then Exp - 1 ---


def _register_target_transform(update: Callable[..., None]) -> None:
    from skl2onnx.common.shape_calculator import calculate_linear_regressor_output_shapes
    from sklearn.compose import TransformedTargetRegressor

    update(
        TransformedTargetRegressor,
        "LoopmlTransformedTargetRegressor",
        calculate_linear_regressor_output_shapes,
        _target_transform,
    )


def _target_transform(scope: Any, operator: Any, container: Any) -> None:
    """``expm1(regressor(x))`` as ``Exp(y) - 1`` (ONNX has no Expm1 operator; the absolute
    error is within a few ulps of 1, far inside the parity tolerance). Only the log1p /
    expm1 pair loopml makes (``loopml.core.target.wrap``) is converted."""
    from onnx import TensorProto
    from skl2onnx._supported_operators import sklearn_operator_name_map

    from loopml.core.target import is_log1p

    raw = operator.raw_operator
    if not is_log1p(raw):
        raise NotImplementedError("a TransformedTargetRegressor other than log1p / expm1")
    regressor = raw.regressor_
    alias = sklearn_operator_name_map.get(type(regressor))
    if alias is None:
        raise NotImplementedError(f"no ONNX converter for {type(regressor).__name__}")
    output = operator.outputs[0]
    inner = scope.declare_local_operator(alias, regressor)
    inner.inputs.append(operator.inputs[0])
    kind = output.type.__class__
    logged = scope.declare_local_variable("log1p_prediction", kind(output.type.shape))
    inner.outputs.append(logged)
    # a converter may write float32 whatever was declared (scikit-learn's trees): cast first
    proto = TensorProto.DOUBLE if "Double" in type(output.type).__name__ else TensorProto.FLOAT
    cast = _node(scope, container, "Cast", [logged.full_name], to=proto)
    one = _constant(scope, container, proto, [], [1.0])
    exp = _node(scope, container, "Exp", [cast])
    container.add_node(
        "Sub", [exp, one], [output.full_name], name=scope.get_unique_operator_name("Expm1")
    )
