"""差评 handling records (差评工单, table ``bad_cases``) with their history (``case_events``), appeals and
extensions: the reads and writes. The rules (which step may follow which, what a step needs) stay in
``sync_server.workflow``; this module only stores what they decided."""

from __future__ import annotations

from sqlalchemy import Connection, Row, and_, bindparam, func, select, update

from sync_server.storage.bulk import select_in
from sync_server.storage.rollups import counted_window
from sync_server.storage.schema import (
    appeal_evidence,
    appeals,
    bad_cases,
    case_events,
    case_extensions,
    cases,
    ratings,
    records,
    users,
)


def count_cases(conn: Connection) -> int:
    """How many handling records were ever opened."""
    return conn.execute(select(func.count()).select_from(bad_cases)).scalar_one()


def cases_in_state(conn: Connection, state: str) -> list[Row]:
    return conn.execute(select(bad_cases).where(bad_cases.c.state == state)).all()


def counts_by_state(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(bad_cases.c.state, func.count()).group_by(bad_cases.c.state)).all())


def evidence_file(conn: Connection, evidence_id: int) -> Row | None:
    """One evidence file of an appeal, with its content."""
    return conn.execute(select(appeal_evidence).where(appeal_evidence.c.id == evidence_id)).first()


# ---------------------------------------------------------------- opened and withdrawn while ratings settle


def counting_bad_without_case(conn: Connection, case_nos: set[str]) -> list[Row]:
    """Counting ratings of level 1–2 of these cases that have no handling record yet: every record column plus the
    case's clerk (``case_clerk``) and the window the rating counts for (``counted_window``). Compiled once
    (``select_in``): it runs for every ingest batch with a bad rating."""
    return select_in(conn, "handling.counting_bad_without_case", _counting_bad_query, list(case_nos))


def _counting_bad_query():  # built once per dialect by ``select_in``
    return (
        select(records, cases.c.clerk_no.label("case_clerk"), counted_window().label("counted_window"))
        .select_from(
            records.join(ratings, ratings.c.record_id == records.c.id)
            .outerjoin(cases, cases.c.case_no == records.c.case_no)
            .outerjoin(bad_cases, bad_cases.c.record_id == records.c.id)
        )
        .where(
            ratings.c.case_no.in_(bindparam("case_nos", expanding=True)),
            ratings.c.role == "counting",
            ratings.c.level <= 2,
        )
        .where(bad_cases.c.id.is_(None))
    )


def insert_cases(store, conn: Connection, rows: list[dict]) -> dict[str, int]:
    """Insert handling records, one per rating (another transaction's record of the same rating wins); returns the
    new records' ids by rating id."""
    stmt = store.insert(bad_cases).on_conflict_do_nothing(index_elements=["record_id"])
    return {r.record_id: r.id for r in conn.execute(stmt.returning(bad_cases.c.id, bad_cases.c.record_id), rows)}


def insert_events(conn: Connection, events: list[dict]) -> None:
    """Append steps to the records' histories."""
    if events:
        conn.execute(case_events.insert(), events)


def unfinished_of_displaced(conn: Connection, case_nos: set[str], finished_states: list[str]) -> list[Row]:
    """Unfinished handling records of these cases whose rating no longer counts, oldest first."""
    query = (
        select(bad_cases.c.id, bad_cases.c.case_no, bad_cases.c.record_id, bad_cases.c.state, bad_cases.c.opened_at)
        .select_from(bad_cases.join(ratings, ratings.c.record_id == bad_cases.c.record_id))
        .where(ratings.c.case_no.in_(case_nos), ratings.c.role != "counting")  # by the ratings' case index
        .where(bad_cases.c.state.not_in(finished_states))
        .order_by(bad_cases.c.id)
    )
    return conn.execute(query).all()


def counting_rating(conn: Connection, case_no: str) -> Row | None:
    """(id, received_at) of the case's counting rating."""
    return conn.execute(
        select(records.c.id, records.c.received_at)
        .select_from(records.join(ratings, ratings.c.record_id == records.c.id))
        .where(ratings.c.case_no == case_no, ratings.c.role == "counting")
    ).first()


# ---------------------------------------------------------------- one record


def update_case(conn: Connection, case_id: int, **values) -> None:
    conn.execute(update(bad_cases).where(bad_cases.c.id == case_id).values(**values))


def case_by_id(conn: Connection, case_id: int, lock: bool = False) -> Row | None:
    """One handling record (locked for the transaction's end with ``lock`` on PostgreSQL)."""
    query = select(bad_cases).where(bad_cases.c.id == case_id)
    return conn.execute(query.with_for_update() if lock else query).first()


def appeal_of(conn: Connection, case_id: int) -> Row | None:
    return conn.execute(select(appeals).where(appeals.c.case_id == case_id)).first()


def history(conn: Connection, case_id: int) -> list[Row]:
    """The record's steps, in order."""
    return conn.execute(select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id)).all()


def evidence_list(conn: Connection, appeal_id: int) -> list[Row]:
    """An appeal's evidence files without their content, in upload order."""
    cols = [c for c in appeal_evidence.c if c.name != "content"]
    query = select(*cols).where(appeal_evidence.c.appeal_id == appeal_id).order_by(appeal_evidence.c.id)
    return conn.execute(query).all()


def insert_appeal(conn: Connection, values: dict) -> int:
    return conn.execute(appeals.insert().values(**values)).inserted_primary_key[0]


def insert_evidence(conn: Connection, values: dict) -> None:
    conn.execute(appeal_evidence.insert().values(**values))


def update_appeal(conn: Connection, appeal_id: int, **values) -> None:
    conn.execute(update(appeals).where(appeals.c.id == appeal_id).values(**values))


def active_administrators(conn: Connection, limit: int = 2) -> list[str]:
    """User names of up to ``limit`` enabled hall administrators."""
    query = select(users.c.username).where(users.c.role == "admin", users.c.disabled_at.is_(None)).limit(limit)
    return [row.username for row in conn.execute(query)]


def pending_extension(conn: Connection, case_id: int) -> Row | None:
    """The record's 延期 request waiting for a decision, or None."""
    query = select(case_extensions).where(case_extensions.c.case_id == case_id, case_extensions.c.status == "pending")
    return conn.execute(query).first()


def extensions_of(conn: Connection, case_id: int) -> list[Row]:
    query = select(case_extensions).where(case_extensions.c.case_id == case_id).order_by(case_extensions.c.id)
    return conn.execute(query).all()


def insert_extension(conn: Connection, values: dict) -> None:
    conn.execute(case_extensions.insert().values(**values))


def update_extension(conn: Connection, extension_id: int, **values) -> None:
    conn.execute(update(case_extensions).where(case_extensions.c.id == extension_id).values(**values))


# ---------------------------------------------------------------- lists


def open_case_rows(
    conn: Connection,
    scope=None,
    states: list[str] | tuple[str, ...] | None = None,
    arrived: tuple[str, str] | None = None,
    department: str | None = None,
    limit: int | None = None,
    where: list | None = None,
    newest_first: bool = True,
) -> list[Row]:
    """Handling records in the scope (newest first), optionally of some states, arrived between two China dates
    (inclusive), of one department, meeting further ``where`` conditions, at most ``limit`` of them. Every filter
    runs in SQL: a province gathers hundreds of thousands of records a year."""
    where = list(where or [])
    if scope is not None and scope.restricted:
        where.append(scope.window_condition(bad_cases.c.window))
    if states:
        where.append(bad_cases.c.state.in_(list(states)))
    if arrived:
        where.append(bad_cases.c.arrival_day.between(*arrived))
    if department:
        where.append(bad_cases.c.department == department)
    query = select(bad_cases, appeals.c.return_state, appeals.c.status.label("appeal_status")).select_from(
        bad_cases.outerjoin(appeals, appeals.c.case_id == bad_cases.c.id)
    )
    query = query.where(and_(True, *where))
    if newest_first:  # without an order the database may pick the state or arrival index over a scan by id
        query = query.order_by(bad_cases.c.id.desc())
    return conn.execute(query.limit(limit) if limit else query).all()
