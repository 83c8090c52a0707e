"""The prediction log: every served prediction, and the true labels that arrive later.

Both tables are defined here, once, as SQLAlchemy tables, so any SQLAlchemy URL works (a
SQLite file in WAL mode, so the server appends while monitoring reads; PostgreSQL; …).
The server's writer (``loopml.serving.predlog``) appends to ``loopml_predictions``;
`loopml monitor`, `loopml feedback`, ``POST /feedback`` and ``/dashboard`` read it through
``PredictionLog`` below and write ``loopml_feedback``.

``loopml_predictions`` (one row per request and model that scored it)
    ``request_id``, ``ts`` (UTC arrival time, ISO 8601), ``model_name``,
    ``model_version``, ``role`` (``champion``, ``canary`` or ``shadow``), ``engine``,
    ``endpoint``, ``n_rows``, ``inputs`` (JSON object: column -> list of values),
    ``outputs`` (JSON object: ``predictions``, ``probabilities`` (lists in class order, or
    null), ``abstained``), ``latency_ms``.
``loopml_feedback`` (one row per labelled record)
    ``request_id``, ``row`` (position of the record in its request; primary key
    together), ``label`` (JSON value), ``received_at`` (Unix seconds). A later label for
    the same record replaces the earlier one.

Readers leave shadow rows out (their answers were never returned) and return one record
per row of a request: a DataFrame with columns ``request_id``, ``row``, ``timestamp``
(UTC), ``model_name``, ``model_version``, ``run_id`` (not logged: always empty), one
column per input feature, ``prediction`` (None when the model abstained),
``proba_<class>`` per class (classifiers) and ``latency_ms``; ``labelled`` adds ``label``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from loopml.core.jsonable import plain
from loopml.errors import DataError, first_line

TABLE = "loopml_predictions"
METADATA = sa.MetaData()
PREDICTIONS = sa.Table(
    TABLE,
    METADATA,
    sa.Column("request_id", sa.String(64), index=True),
    sa.Column("ts", sa.String(40), index=True),
    sa.Column("model_name", sa.String(200)),
    sa.Column("model_version", sa.String(40)),
    sa.Column("role", sa.String(20)),
    sa.Column("engine", sa.String(20)),
    sa.Column("endpoint", sa.String(40)),
    sa.Column("n_rows", sa.Integer),
    sa.Column("inputs", sa.Text),
    sa.Column("outputs", sa.Text),
    sa.Column("latency_ms", sa.Float),
)
FEEDBACK = sa.Table(
    "loopml_feedback",  # prefixed like the predictions: the database may be shared
    METADATA,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("row", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
)
_P, _F = PREDICTIONS.c, FEEDBACK.c
_UPSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_CHUNK = 500  # request ids per IN (…) query


def resolve_url(url: str, root: Path) -> str:
    """A relative SQLite path is relative to the project folder ``root``."""
    path = sqlite_file(url)
    if path is None or path.is_absolute():
        return url
    absolute = sa.engine.make_url(url).set(database=str((root / path).resolve()))
    return absolute.render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def open_engine(url: str, **options: Any) -> sa.Engine:
    """An engine over the log's database, SQLite files in WAL mode (their folder created)."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("connect_args", {"timeout": 30})
    engine = sa.create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_wal)
    return engine


def timestamp_text(seconds: float) -> str:
    """Unix seconds as the log's ``ts``: ISO 8601 in UTC (so text order is time order)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _sqlite_wal(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@dataclass(frozen=True)
class Label:
    request_id: str
    value: Any
    row: int = 0


@dataclass(frozen=True)
class FeedbackResult:
    received: int
    matched: int  # labels whose (request_id, row) is in the log
    accepted: int = 0  # records labelled for the first time
    replaced: int = 0  # records whose earlier label was replaced

    @property
    def unmatched(self) -> int:
        return self.received - self.matched


class _Record(NamedTuple):
    request_id: str
    row: int
    ts: str
    model_name: str | None
    model_version: str | None
    inputs: dict[str, Any]
    prediction: Any
    probabilities: dict[str, float] | None
    latency_ms: float | None
    label: Any = None


class PredictionLog:
    """The log at one SQLAlchemy URL. Cheap to create; every call opens its own connection."""

    def __init__(self, url: str):
        self.url = url

    @property
    def where(self) -> str:
        """The log's file, or its URL without the password: for messages."""
        path = sqlite_file(self.url)
        if path is not None:
            return str(path)
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def exists(self) -> bool:
        """Whether the server has created the log (without creating anything itself)."""
        path = sqlite_file(self.url)
        if path is not None and not path.is_file():
            return False
        with self._connect() as conn:
            return sa.inspect(conn).has_table(TABLE)

    def add_feedback(self, labels: Sequence[Label]) -> FeedbackResult:
        """Store true labels (all or none); count how many match a logged prediction."""
        latest = {(lab.request_id, lab.row): lab.value for lab in labels}  # the last one wins
        now = time.time()
        values = [
            {"request_id": request_id, "row": row, "label": _dumps(value), "received_at": now}
            for (request_id, row), value in latest.items()
        ]
        with self._connect(create=True) as conn:
            replaced = _labelled_already(conn, list(latest))
            _upsert(conn, values)
            conn.commit()
            sizes = _request_sizes(conn, sorted({lab.request_id for lab in labels}))
        matched = sum(1 for lab in labels if lab.row < sizes.get(lab.request_id, 0))
        return FeedbackResult(len(labels), matched, len(latest) - replaced, replaced)

    def prune(self, *, older_than: float | None = None, keep_rows: int | None = None) -> int:
        """Delete requests logged more than ``older_than`` ago and all but the newest
        ``keep_rows``, with the labels of exactly those requests, in one transaction.

        Labels whose request is not logged (yet) are kept. Returns the requests deleted.
        """
        if not self.exists():
            return 0
        with self._connect() as conn:
            cutoffs = []
            if older_than is not None:
                cutoffs.append(_P.ts < timestamp_text(time.time() - older_than))
            if keep_rows is not None:
                newest = sa.select(_P.ts).order_by(_P.ts.desc()).offset(keep_rows).limit(1)
                last = conn.execute(newest).scalar()
                if last is not None:
                    cutoffs.append(_P.ts <= last)
            if not cutoffs:
                return 0
            old = sa.or_(*cutoffs)
            FEEDBACK.create(conn, checkfirst=True)
            conn.execute(
                FEEDBACK.delete().where(_F.request_id.in_(sa.select(_P.request_id).where(old)))
            )
            deleted = conn.execute(PREDICTIONS.delete().where(old)).rowcount
            conn.commit()
        return int(deleted)

    def window(
        self,
        *,
        model_name: str | None = None,
        rows: int | None = None,
        max_age: float | None = None,
        classes: Sequence[str] = (),
    ) -> pd.DataFrame:
        """The latest ``rows`` records, or those logged in the last ``max_age`` seconds,
        oldest first.

        ``classes`` names the probability columns (``proba_0``, ``proba_1``, … without).
        """
        query = (
            sa.select(*_REQUEST_COLUMNS)
            .where(*_filters(model_name, max_age))
            .order_by(_P.ts.desc(), _P.request_id)
        )
        records: list[_Record] = []
        with self._reading() as conn:
            result = conn.execution_options(stream_results=True, yield_per=_CHUNK).execute(query)
            for request in result:
                records.extend(_records(request, classes))
                if rows and len(records) >= rows:
                    break
            result.close()
        return _frame(_oldest_first(records[:rows] if rows else records), labelled=False)

    def labelled(
        self,
        *,
        model_name: str | None = None,
        rows: int | None = None,
        max_age: float | None = None,
        classes: Sequence[str] = (),
    ) -> pd.DataFrame:
        """Like ``window``, over records whose label has arrived, with a ``label`` column."""
        query = (
            sa.select(*_REQUEST_COLUMNS, _F.row, _F.label)
            .select_from(PREDICTIONS.join(FEEDBACK, _joined()))
            .where(*_filters(model_name, max_age))
            .order_by(_P.ts.desc(), _P.request_id, _F.row)
        )
        if rows:
            query = query.limit(rows)
        with self._reading() as conn:
            found = conn.execute(query).all()
        records: list[_Record] = []
        start = 0
        while start < len(found):  # one request's labelled rows are consecutive
            end = start
            while end < len(found) and found[end][0] == found[start][0]:
                end += 1
            labels = {row: json.loads(label) for *_, row, label in found[start:end]}
            records.extend(_records(found[start][:-2], classes, labels))
            start = end
        return _frame(_oldest_first(records), labelled=True)

    def counts(self) -> dict[str, int]:
        """Logged records and labels, for the dashboard."""
        if not self.exists():
            return {"predictions": 0, "labels": 0, "labelled": 0}
        served = _P.role != "shadow"
        with self._reading() as conn:
            queries = {
                "predictions": sa.select(sa.func.coalesce(sa.func.sum(_P.n_rows), 0)).where(served),
                "labels": sa.select(sa.func.count()).select_from(FEEDBACK),
                "labelled": sa.select(sa.func.count())
                .select_from(PREDICTIONS.join(FEEDBACK, _joined()))
                .where(served),
            }
            return {name: int(conn.execute(q).scalar_one()) for name, q in queries.items()}

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        """A connection to a log the server has created; one clear error when there is none."""
        path = sqlite_file(self.url)
        if path is not None and not path.is_file():
            raise self._missing()
        with self._connect() as conn:
            if not sa.inspect(conn).has_table(TABLE):
                raise self._missing()
            FEEDBACK.create(conn, checkfirst=True)  # a log no label has reached yet
            conn.commit()
            yield conn

    @contextmanager
    def _connect(self, *, create: bool = False) -> Iterator[sa.Connection]:
        engine = open_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            try:
                conn = engine.connect()
            except sa.exc.OperationalError as exc:
                reason = first_line(exc.orig or exc)
                raise DataError(
                    f"{self.where}: cannot open the prediction log ({reason}); "
                    "check serve.prediction_log.url and that the database is up"
                ) from None
            with conn:
                if create:
                    METADATA.create_all(conn)
                    conn.commit()
                yield conn
        finally:
            engine.dispose()

    def _missing(self) -> DataError:
        return DataError(
            f"{self.where}: no prediction log yet; serve the model with `loopml serve` "
            "(it logs every prediction there) or pass --current FILE"
        )


_REQUEST_COLUMNS = (
    _P.request_id, _P.ts, _P.model_name, _P.model_version, _P.inputs, _P.outputs,
    _P.latency_ms, _P.n_rows,
)  # fmt: skip


def _filters(model_name: str | None, max_age: float | None) -> list[Any]:
    found = [_P.role != "shadow"]
    if model_name:
        found.append(_P.model_name == model_name)
    if max_age:
        found.append(_P.ts >= timestamp_text(time.time() - max_age))
    return found


def _joined() -> Any:
    """A label joins the request's non-shadow row when its row is within the request."""
    return sa.and_(_F.request_id == _P.request_id, _F.row < _P.n_rows)


def _records(
    request: Sequence[Any], classes: Sequence[str], labels: dict[int, Any] | None = None
) -> list[_Record]:
    """A request's rows (only those in ``labels``, with their label, when given)."""
    request_id, ts, name, version, inputs, outputs, latency, n_rows = request
    columns, answer = json.loads(inputs), json.loads(outputs)
    probabilities = answer.get("probabilities")
    abstained = answer.get("abstained") or [False] * n_rows
    out = []
    for i in range(n_rows) if labels is None else sorted(labels):
        proba = None
        if probabilities is not None:
            names = list(classes) or [str(k) for k in range(len(probabilities[i]))]
            proba = dict(zip(names, probabilities[i], strict=False))
        out.append(
            _Record(
                request_id, i, ts, name, version,
                {column: values[i] for column, values in columns.items()},
                None if abstained[i] else answer["predictions"][i],
                proba, latency, None if labels is None else labels[i],
            )
        )  # fmt: skip
    return out


def _oldest_first(records: list[_Record]) -> list[_Record]:
    return sorted(records, key=lambda r: (r.ts, r.request_id, r.row))


def _upsert(conn: sa.Connection, values: list[dict[str, Any]]) -> None:
    """Insert labels, replacing those of the same records."""
    insert = _UPSERTS.get(conn.dialect.name)
    if insert is None:  # other databases: delete, then insert, in the same transaction
        keys = [(v["request_id"], v["row"]) for v in values]
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            conn.execute(FEEDBACK.delete().where(sa.tuple_(_F.request_id, _F.row).in_(chunk)))
        conn.execute(FEEDBACK.insert(), values)
        return
    statement = insert(FEEDBACK)
    changed = {"label": statement.excluded.label, "received_at": statement.excluded.received_at}
    conn.execute(
        statement.on_conflict_do_update(index_elements=[_F.request_id, _F.row], set_=changed),
        values,
    )


def _labelled_already(conn: sa.Connection, keys: list[tuple[str, int]]) -> int:
    """How many of the records ``keys`` (request_id, row) have a label already."""
    found = 0
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        query = sa.select(sa.func.count()).where(sa.tuple_(_F.request_id, _F.row).in_(chunk))
        found += int(conn.execute(query.select_from(FEEDBACK)).scalar_one())
    return found


def _request_sizes(conn: sa.Connection, request_ids: list[str]) -> dict[str, int]:
    """Rows in each logged (non-shadow) request among ``request_ids``."""
    sizes: dict[str, int] = {}
    for start in range(0, len(request_ids), _CHUNK):
        query = sa.select(_P.request_id, _P.n_rows).where(
            _P.role != "shadow", _P.request_id.in_(request_ids[start : start + _CHUNK])
        )
        sizes.update((request_id, n_rows) for request_id, n_rows in conn.execute(query))
    return sizes


def _frame(records: list[_Record], *, labelled: bool) -> pd.DataFrame:
    meta = pd.DataFrame(
        {
            "request_id": pd.Series([r.request_id for r in records], dtype=object),
            "row": pd.Series([r.row for r in records], dtype="int64"),
            "timestamp": pd.to_datetime([r.ts for r in records], utc=True, format="ISO8601"),
            "model_name": pd.Series([r.model_name for r in records], dtype=object),
            "model_version": pd.Series([r.model_version for r in records], dtype=object),
            "run_id": pd.Series([None] * len(records), dtype=object),
        }
    )
    inputs = pd.DataFrame.from_records([r.inputs for r in records], index=meta.index)
    outputs = pd.DataFrame(
        {"prediction": pd.Series([r.prediction for r in records], dtype=object)},
        index=meta.index,
    )
    probabilities = pd.DataFrame.from_records(
        [r.probabilities or {} for r in records], index=meta.index
    ).add_prefix("proba_")
    parts = [meta, inputs, outputs, probabilities]
    parts.append(pd.DataFrame({"latency_ms": [r.latency_ms for r in records]}, index=meta.index))
    if labelled:
        labels = pd.Series([r.label for r in records], dtype=object, index=meta.index)
        parts.append(pd.DataFrame({"label": labels}))
    return pd.concat(parts, axis=1)


def _dumps(value: Any) -> str:
    return json.dumps(plain(value), separators=(",", ":"))
