"""The preprocessing pipeline built from column roles, and its place in the model pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score

from loopml.core.data.roles import ColumnRoles
from loopml.core.features import CalendarEncoder, CalendarFeatures, CategoryText, build_preprocessor
from loopml.core.models import build_pipeline

ROLES = ColumnRoles(
    numeric=("age", "fare"),
    categorical=("port",),
    text=("note",),
    datetime=("booked",),
)


def dense(matrix: object) -> np.ndarray:
    return np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=float)


def mixed_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ages = rng.normal(35, 10, n)
    ages[::7] = np.nan
    ports = np.array(["S", "C", "Q", "S"] * (n // 4), dtype=object)
    ports[::9] = None
    notes = np.array(["window seat please", "late booking", "window seat", "no note"] * (n // 4))
    notes = notes.astype(object)
    notes[::11] = np.nan
    return pd.DataFrame(
        {
            "age": ages,
            "fare": rng.uniform(5, 80, n),
            "port": ports,
            "note": notes,
            "booked": pd.date_range("2023-01-01", periods=n, freq="37h").strftime("%Y-%m-%d %H:%M"),
            "survived": np.tile([0, 1], n // 2),
        }
    )


def test_preprocessor_handles_every_role_with_missing_values() -> None:
    frame = mixed_frame()
    pre = build_preprocessor(ROLES).fit(frame)
    out = dense(pre.transform(frame))

    assert out.shape[0] == len(frame)
    assert np.isfinite(out).all()
    branches = [name for name, _, _ in pre.transformers_ if name != "remainder"]
    assert branches == ["numeric", "categorical", "text_note", "chars_note", "datetime"]
    # numeric: 2 scaled + 1 missing indicator (only age has NaN); datetime: 5 calendar parts
    numeric = pre.named_transformers_["numeric"]
    assert numeric.transform(frame[["age", "fare"]]).shape[1] == 3


def test_unseen_and_missing_values_at_transform_time_do_not_raise() -> None:
    pre = build_preprocessor(ROLES).fit(mixed_frame())
    new = pd.DataFrame(
        {
            "age": [np.nan, 30.0],
            "fare": [10.0, np.nan],
            "port": ["Atlantis", None],
            "note": [np.nan, "completely new words"],
            "booked": [None, "2030-12-31 23:00"],
        }
    )
    out = dense(pre.transform(new))

    assert out.shape[0] == 2
    assert np.isfinite(out).all()


def test_unseen_category_encodes_like_no_known_category() -> None:
    train = pd.DataFrame({"port": ["S", "C", "Q"] * 10})
    pre = build_preprocessor(ColumnRoles(categorical=("port",))).fit(train)
    out = dense(pre.transform(pd.DataFrame({"port": ["S", "Atlantis"]})))

    assert out[0].sum() == 1
    assert out[1].sum() == 0


def test_integer_category_matches_its_float_form() -> None:
    train = pd.DataFrame({"pclass": [1.0, 2.0, 3.0, np.nan] * 6})
    pre = build_preprocessor(ColumnRoles(categorical=("pclass",))).fit(train)

    as_float = dense(pre.transform(pd.DataFrame({"pclass": [1.0, 2.0]})))
    as_int = dense(pre.transform(pd.DataFrame({"pclass": [1, 2]})))
    np.testing.assert_array_equal(as_int, as_float)


def test_category_text_keeps_missing_values_missing() -> None:
    out = CategoryText().fit_transform(pd.DataFrame({"c": ["a", None, np.nan, 3, True]}))

    assert out[0, 0] == "a"
    assert pd.isna(out[1, 0]) and pd.isna(out[2, 0])
    assert out[3, 0] == "3"
    assert out[4, 0] == "True"


def test_calendar_features_produce_year_month_day_weekday_hour() -> None:
    frame = pd.DataFrame({"booked": ["2024-02-29 13:45", None]})
    cal = CalendarFeatures().fit(frame)
    out = cal.transform(frame)

    assert list(cal.get_feature_names_out()) == [
        "booked_year",
        "booked_month",
        "booked_day",
        "booked_dayofweek",
        "booked_hour",
    ]
    np.testing.assert_array_equal(out[0], [2024, 2, 29, 3, 13])
    assert np.isnan(out[1]).all()


def test_calendar_features_accept_datetime_dtype() -> None:
    frame = pd.DataFrame({"at": pd.to_datetime(["2021-12-31 23:00", "2022-01-01 00:00"])})
    out = CalendarFeatures(parts=("year", "hour")).fit_transform(frame)

    np.testing.assert_array_equal(out, [[2021, 23], [2022, 0]])


def test_no_roles_gives_no_branches() -> None:
    assert build_preprocessor(ColumnRoles()).transformers == []


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_clones_and_cross_validates() -> None:
    frame = mixed_frame(80)
    pipeline = build_pipeline(ROLES, LogisticRegression(max_iter=100))
    copy = clone(pipeline)

    features = frame[list(ROLES.features)]
    scores = cross_val_score(copy, features, frame["survived"], cv=3)
    assert len(scores) == 3
    assert np.all((scores >= 0) & (scores <= 1))
    assert not hasattr(pipeline, "classes_")  # clone left the original unfitted


def test_pipeline_learns_a_signal_from_a_categorical_column() -> None:
    frame = pd.DataFrame({"port": ["S", "C"] * 30, "y": ["died", "lived"] * 30})
    pipeline = build_pipeline(ColumnRoles(categorical=("port",)), LogisticRegression())
    pipeline.fit(frame[["port"]], frame["y"])

    assert list(pipeline.predict(pd.DataFrame({"port": ["C", "S"]}))) == ["lived", "died"]


def _trips(starts: pd.DatetimeIndex, minutes: np.ndarray) -> pd.DataFrame:
    ends = starts + pd.to_timedelta(minutes, unit="min")
    return pd.DataFrame(
        {
            "pickup": starts.strftime("%Y-%m-%d %H:%M"),
            "dropoff": ends.strftime("%Y-%m-%d %H:%M"),
            "fare": 3.0 + 0.5 * minutes,
        }
    )


def test_a_trip_across_the_end_of_the_month_stays_in_the_fares_seen_in_training() -> None:
    """Issue 18: ridge on calendar parts read as numbers predicted a fare of -736 for a taxi
    trip from March 31st to April 1st: the day jumps 31 -> 1, the month is constant in
    training. Dates must reach a linear model bounded and without that jump."""
    rng = np.random.default_rng(0)
    starts = pd.Timestamp("2019-03-01") + pd.to_timedelta(rng.uniform(0, 29, 300), unit="D")
    minutes = rng.uniform(5, 90, 300)
    train = _trips(pd.DatetimeIndex(starts).floor("min"), minutes)
    roles = ColumnRoles(datetime=("pickup", "dropoff"))
    model = build_pipeline(roles, Ridge(alpha=1e-3)).fit(
        train[["pickup", "dropoff"]], train["fare"]
    )
    month_end = _trips(pd.DatetimeIndex(["2019-03-31 23:40"]), np.array([50.0]))
    predicted = model.predict(month_end[["pickup", "dropoff"]])[0]
    assert train["fare"].min() <= predicted <= train["fare"].max(), predicted
    # the dates still explain the fare (to the hour: the duration is dropoff - pickup)
    assert model.score(train[["pickup", "dropoff"]], train["fare"]) > 0.3


def test_calendar_encoder_clips_the_time_line_and_keeps_cycles_bounded() -> None:
    parts = CalendarFeatures().fit_transform(
        pd.DataFrame({"d": ["2020-01-01 00:00", "2020-06-30 23:00", "2020-12-31 12:00"]})
    )
    encoder = CalendarEncoder().fit(parts)
    later = CalendarFeatures().fit_transform(pd.DataFrame({"d": ["2031-07-04 08:00"]}))
    line, *cycles = encoder.transform(later)[0]
    assert line == pytest.approx(encoder.transform(parts)[:, 0].max())  # the last training date
    assert all(-1.0 <= value <= 1.0 for value in cycles)
    names = encoder.get_feature_names_out(["d_year", "d_month", "d_day", "d_dayofweek", "d_hour"])
    assert list(names) == [
        "d_time",
        "d_dayofweek_sin",
        "d_dayofweek_cos",
        "d_hour_sin",
        "d_hour_cos",
    ]


def test_vocabularies_become_plain_ints_and_transform_the_same() -> None:
    import skops.io
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from loopml.core.features import compact_vocabularies

    texts = ["alpha beta gamma", "alpha beta eps", "eta theta alpha", "beta gamma eta"]
    model = make_pipeline(TfidfVectorizer(max_features=4), LogisticRegression())
    model.fit(texts, [0, 1, 0, 1])
    before = model.predict_proba(texts)
    vocabulary = model[0].vocabulary_
    assert any(isinstance(i, np.integer) for i in vocabulary.values())  # max_features does it
    assert compact_vocabularies(model) == 1
    assert all(type(i) is int for i in model[0].vocabulary_.values())
    assert model[0].vocabulary_ == {t: int(i) for t, i in vocabulary.items()}
    assert np.array_equal(model.predict_proba(texts), before)
    assert compact_vocabularies(model) == 0  # nothing left to change
    loaded = skops.io.loads(
        skops.io.dumps(model), trusted=skops.io.get_untrusted_types(data=skops.io.dumps(model))
    )
    assert np.array_equal(loaded.predict_proba(texts), before)
