"""Storage of cases and their ratings: what a case holds (its row and every rating with its role), the writes that
settling makes, and the reads of the QR page and of default ratings.

Settling reads a batch's cases in one pass (``load_cases``) after locking them (``lock_cases``), so the state it
works from cannot change under it: PostgreSQL takes one advisory lock per case, in sorted order; SQLite's writer
already holds the database lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from sqlalchemy import Connection, Row, and_, bindparam, case, func, literal_column, select, text, true

from sync_server.db import Store
from sync_server.storage.bulk import driver_select_one, execute_many, positional_sql, select_in
from sync_server.storage.schema import cases, config_versions, devices, rating_exclusions, ratings, records

CASE_FIELDS = ("window", "device_id", "matter_code", "clerk_no", "prompted_at")
_case_fields = itemgetter(*CASE_FIELDS)  # a case row's values in ``CASE_FIELDS`` order
CHUNK = 500


class StoredRating(NamedTuple):
    """One rating of a case as stored: the record's facts, whether an exclusion applies, and its settled role
    (None until it is settled). Fields in the order ``_RATINGS_OF_CASES`` selects them."""

    record_id: str
    case_no: str
    level: int
    channel: int | None
    rated_at: str
    received_at: str
    window: str | None
    clerk_no: str | None
    matter_code: str | None
    detail: str | None
    excluded: bool
    role: str | None
    assess_number: int | None
    prompted_at: str | None = None  # when the prompt of a kiosk rating came up: its prompt was live until the rating
    source: str | None = None  # device | qr | default


class CaseState(NamedTuple):
    """A case as stored: its row (None when no record told about it yet) and its ratings. A NamedTuple, not a
    frozen dataclass: settling makes two per case of a batch (before and after), and a frozen dataclass's
    ``__init__`` costs several times as much."""

    case_no: str
    row: dict | None = None
    ratings: tuple[StoredRating, ...] = ()


@dataclass(frozen=True)
class Settlement:
    """What one settling pass changed: every touched case before and after, and the cases that got new ratings.
    The after-settlement hooks (rollups, 差评工单) work from it in the same transaction."""

    before: dict[str, CaseState]
    after: dict[str, CaseState]
    rated_case_nos: frozenset[str]


def lock_cases(conn: Connection, case_nos: Iterable[str]) -> None:
    """Hold these cases until the transaction ends (PostgreSQL; SQLite's write transaction holds the database)."""
    wanted = sorted({c for c in case_nos if c})
    if conn.dialect.name == "postgresql" and wanted:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(c)) FROM unnest(CAST(:cs AS text[])) AS c ORDER BY c"),
            {"cs": wanted},
        )


def load_cases(conn: Connection, case_nos: Iterable[str]) -> dict[str, CaseState]:
    """Every wanted case with its row and its ratings (level given), two queries per 500 cases."""
    wanted = sorted({c for c in case_nos if c})
    rows: dict[str, dict] = {}
    found: dict[str, list[StoredRating]] = {}  # only the cases with ratings: a batch's cases are mostly new
    for chunk in _chunks(wanted):
        for r in select_in(conn, "cases.load_cases.rows", _case_rows_query, chunk):
            rows[r[0]] = dict(zip(CASE_FIELDS, r[1:], strict=True))
        query = lambda: _ratings_of_cases_query(conn.dialect.name)  # noqa: E731 - built once per dialect
        for r in select_in(conn, "cases.load_cases.ratings", query, chunk):
            found.setdefault(r[1], []).append(_stored_rating(r))
    return {c: CaseState(c, rows.get(c), tuple(found.get(c, ()))) for c in wanted}


_EXCLUDED_AT = StoredRating._fields.index("excluded")


def _stored_rating(row) -> StoredRating:
    """A rating as ``_RATINGS_OF_CASES`` selects it, ``excluded`` made a bool (SQLite gives 0 or 1): one tuple built
    per row, not two (``_make`` then ``_replace``), as settling reads every rating of a batch's cases."""
    return StoredRating._make((*row[:_EXCLUDED_AT], bool(row[_EXCLUDED_AT]), *row[_EXCLUDED_AT + 1 :]))


def _case_rows_query():  # built once per dialect by ``select_in``
    return select(cases.c.case_no, *(cases.c[k] for k in CASE_FIELDS)).where(
        cases.c.case_no.in_(bindparam("case_nos", expanding=True))
    )


def _ratings_of_cases_query(dialect: str):
    """The ratings of the cases ``case_nos``. SQLite, which has no statistics here (no ANALYZE), would read them
    through ix_records_kind_time (kind = 'rating'), that is every stored rating for every batch; ``+kind`` (SQLite's
    way to keep a term off an index) leaves it ix_records_case, so settling a batch costs the same at any history."""
    if dialect != "sqlite":
        return _RATINGS_OF_CASES.where(records.c.kind == "rating")
    return _RATINGS_OF_CASES.where(literal_column("+records.kind") == "rating")


def window_mismatched():
    """SQL on ``records``: the record is flagged ``window_mismatch`` (its terminal is enrolled at one window, the
    record claims another)."""
    return records.c.flags.contains("window_mismatch")


def enrolled_window():
    """SQL on ``records``: the window the record's terminal is enrolled at (NULL for a record of no terminal)."""
    return select(devices.c.window).where(devices.c.id == records.c.device_id).scalar_subquery()


def true_window():
    """SQL on ``records`` alone (no join): the window a rating counts for, as ``counted_window`` without the case:
    the claimed window, unless the record is flagged ``window_mismatch``, then the window its terminal is enrolled
    at. For the ratings list, its filters and scope, and the provincial upload."""
    # a function's ")" last: SQLite reads "... window END AS x" as the start of a WINDOW clause
    return func.coalesce(case((window_mismatched(), enrolled_window())), records.c.window)


def counted_window():
    """SQL (the query joins ``cases``): the window a rating counts for. A record flagged ``window_mismatch`` (its
    terminal is enrolled at one window, the record claims another) counts for the window its terminal is enrolled
    at (as its case, which ingest sets so), never the claimed one."""
    matches = ~window_mismatched()
    enrolled = enrolled_window()
    # ends with ")": SQLite reads "window END AS x" as the start of a WINDOW clause
    return case((matches, records.c.window), else_=func.coalesce(enrolled, cases.c.window, records.c.window))


_EXCLUDED = (
    select(rating_exclusions.c.record_id)
    .where(rating_exclusions.c.record_id == records.c.id, rating_exclusions.c.lifted_at.is_(None))
    .exists()
)
_RATINGS_OF_CASES = (
    select(
        records.c.id,
        records.c.case_no,
        records.c.level,
        records.c.channel,
        records.c.occurred_at,
        records.c.received_at,
        counted_window().label("counted_window"),
        records.c.clerk_no,
        records.c.matter_code,
        records.c.detail,
        _EXCLUDED.label("excluded"),
        ratings.c.role,
        ratings.c.assess_number,
        records.c.prompted_at,
        records.c.source,
    )
    .select_from(
        records.outerjoin(ratings, ratings.c.record_id == records.c.id).outerjoin(
            cases, cases.c.case_no == records.c.case_no
        )
    )
    .where(
        records.c.case_no.in_(bindparam("case_nos", expanding=True)),
        records.c.level.is_not(None),
    )
)


def save_case_rows(store: Store, conn: Connection, rows: list[tuple[str, dict]]) -> None:
    """Insert or complete case rows, (case number, row with every ``CASE_FIELDS``) pairs: a field already set is
    kept. In case-number order (two writers on PostgreSQL take the rows in the same order)."""
    if not rows:
        return

    def build():
        stmt = store.insert(cases)
        keep = {c: func.coalesce(cases.c[c], stmt.excluded[c]) for c in CASE_FIELDS}
        return stmt.on_conflict_do_update(index_elements=["case_no"], set_=keep)

    sql = positional_sql(conn, "cases.save_case_rows", build, ("case_no", *CASE_FIELDS))
    execute_many(conn, sql, [(c, *_case_fields(row)) for c, row in sorted(rows, key=_first)])


ROLE_COLUMNS = ("record_id", "case_no", "level", "channel", "rated_at", "role", "assess_number")
# a settled rating's values in ``ROLE_COLUMNS`` order, picked in one C call per rating
_role_values = itemgetter(*(StoredRating._fields.index(c) for c in ROLE_COLUMNS))


def save_roles(store: Store, conn: Connection, settled: list[StoredRating]) -> None:
    """Insert or update the role and assessNumber of settled ratings."""
    if not settled:
        return

    def build():
        stmt = store.insert(ratings)
        update = {"role": stmt.excluded.role, "assess_number": stmt.excluded.assess_number}
        return stmt.on_conflict_do_update(index_elements=["record_id"], set_=update)

    sql = positional_sql(conn, "cases.save_roles", build, ROLE_COLUMNS)
    execute_many(conn, sql, list(map(_role_values, settled)))


def case_is_rated(conn: Connection, case_no: str) -> bool:
    return conn.execute(select(ratings.c.record_id).where(ratings.c.case_no == case_no).limit(1)).first() is not None


def cases_due_default(conn: Connection, prompted_by: str) -> list[Row]:
    """Prompted cases of a known terminal with no rating, prompted at or before ``prompted_by``."""
    return conn.execute(
        select(cases)
        .outerjoin(ratings, ratings.c.case_no == cases.c.case_no)
        .where(and_(ratings.c.record_id.is_(None), cases.c.prompted_at <= prompted_by, cases.c.device_id.is_not(None)))
        .order_by(cases.c.case_no)
    ).all()


_QR_COLUMNS = (
    devices.c.secret_hex,
    devices.c.window.label("device_window"),
    devices.c.revoked_at,
    cases.c.window.label("case_window"),
    cases.c.matter_code,
    cases.c.clerk_no,
    cases.c.prompted_at,
    select(ratings.c.record_id).where(ratings.c.case_no == bindparam("case_no")).exists().label("rated"),
)
_DEVICE_AND_CASE = devices.outerjoin(cases, cases.c.case_no == bindparam("case_no"))
_QR_LOOKUP = (
    select(*_QR_COLUMNS).select_from(_DEVICE_AND_CASE).where(devices.c.id == bindparam("device_id"))
)  # built once: the phone's form is checked against it again when it is submitted


def device_and_case(conn: Connection, device_id: str, case_no: str) -> Row | None:
    """The device's secret, window and revocation, the case as the terminal's prompt told it (or NULLs) and
    whether the case is rated, in one row; None for an unknown device."""
    return conn.execute(_QR_LOOKUP, {"device_id": device_id, "case_no": case_no}).first()


class PageLookup(NamedTuple):
    """``device_and_case`` and the configuration in force, as the QR page reads them in one statement."""

    secret_hex: str
    device_window: str | None
    revoked_at: str | None
    case_window: str | None
    matter_code: str | None
    clerk_no: str | None
    prompted_at: str | None
    rated: bool
    config_id: int | None  # None before the first configuration is imported
    config_version: str | None
    config_imported_at: str | None


def _qr_page_query():
    latest = (
        select(config_versions.c.id, config_versions.c.version, config_versions.c.imported_at)
        .order_by(config_versions.c.id.desc())
        .limit(1)
        .subquery("latest_config")
    )
    return (
        select(*_QR_COLUMNS, latest.c.id, latest.c.version, latest.c.imported_at)
        .select_from(_DEVICE_AND_CASE.outerjoin(latest, true()))
        .where(devices.c.id == bindparam("device_id"))
    )


def qr_page_lookup(store: Store, device_id: str, case_no: str) -> PageLookup | None:
    """What the QR page shows and checks, in ONE statement on a driver connection (no transaction, compiled once):
    the server's busiest read, a whole queue of phones scanning at once. None for an unknown device."""
    row = driver_select_one(store, "cases.qr_page", _qr_page_query, device_id=device_id, case_no=case_no)
    return None if row is None else PageLookup(*row[:7], bool(row[7]), *row[8:])


def _first(pair: tuple) -> str:
    return pair[0]


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def any_rating(conn: Connection) -> bool:
    """Is any rating stored at all?"""
    return conn.execute(select(ratings.c.record_id).limit(1)).first() is not None
