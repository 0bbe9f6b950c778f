"""Storage of the closed cases the case system reports: store a checked batch once per case number, and read
them back for the reconciliation."""

from __future__ import annotations

import json

from sqlalchemy import Connection, or_, select, update

from sync_server.db import Store
from sync_server.storage.schema import closed_case_conflicts, closed_cases

CHUNK = 500  # case numbers per IN (…) query
CONFLICT = "conflict"


def _stored(conn: Connection, case_nos: list[str]) -> dict:
    found = {}
    for i in range(0, len(case_nos), CHUNK):
        query = select(closed_cases).where(closed_cases.c.case_no.in_(case_nos[i : i + CHUNK]))
        found.update({r.case_no: r for r in conn.execute(query)})
    return found


def _completes(row, case) -> bool:
    """An open case reported again with its closing time and otherwise the same content."""
    content = case.content()
    same = all(content[k] == getattr(row, k) for k in ("matter_code", "window", "clerk_no", "accepted_at"))
    return same and row.closed_at is None and case.closed_at is not None and row.promised_days == case.promised_days


def store_cases(
    store: Store, conn: Connection, cases: list, departments: dict, source: str, now_iso: str
) -> list[tuple[str, str]]:
    """Store each case once (inside the caller's write transaction); returns (case number, status) per case:
    stored | duplicate | closed | conflict."""
    stored = _stored(conn, list(dict.fromkeys(c.case_no for c in cases)))
    results, new_rows, conflicts = [], {}, []
    for case in cases:
        digest = case.content_hash()
        row = stored.get(case.case_no)
        if row is None and case.case_no in new_rows:
            status = "duplicate" if new_rows[case.case_no]["content_hash"] == digest else CONFLICT
        elif row is None:
            new_rows[case.case_no] = _row(case, departments.get(case.case_no), digest, source, now_iso)
            status = "stored"
        elif row.content_hash == digest:
            status = "duplicate"
        elif _completes(row, case):
            _close(conn, row, case, digest, now_iso)
            status = "closed"
        else:
            status = CONFLICT
        if status == CONFLICT:
            conflicts.append((case, digest))
        results.append((case.case_no, status))
    if new_rows:
        conn.execute(
            store.insert(closed_cases).on_conflict_do_nothing(index_elements=["case_no"]), list(new_rows.values())
        )
        conflicts += _lost_races(conn, new_rows, cases, results)
    _keep_conflicts(conn, conflicts, source, now_iso)
    return results


def _row(case, department: str | None, digest: str, source: str, now_iso: str) -> dict:
    content = case.content()
    return {
        **content,
        "department": department,
        "content_hash": digest,
        "source": source,
        "received_at": now_iso,
        "closed_reported_at": now_iso if case.closed_at else None,
        "flags": "",
    }


def _close(conn: Connection, row, case, digest: str, now_iso: str) -> None:
    conn.execute(
        update(closed_cases)
        .where(closed_cases.c.case_no == row.case_no, closed_cases.c.closed_at.is_(None))
        .values(closed_at=case.content()["closed_at"], content_hash=digest, closed_reported_at=now_iso)
    )


def _lost_races(conn: Connection, new_rows: dict, cases: list, results: list) -> list:
    """Cases another transaction stored first (PostgreSQL, two requests at once): other content is a conflict."""
    now_stored = _stored(conn, list(new_rows))
    lost = []
    for i, (case_no, status) in enumerate(results):
        if status != "stored" or now_stored[case_no].content_hash == new_rows[case_no]["content_hash"]:
            continue
        results[i] = (case_no, CONFLICT)
        lost.append(next((c, c.content_hash()) for c in cases if c.case_no == case_no))
    return lost


def _keep_conflicts(conn: Connection, conflicts: list, source: str, now_iso: str) -> None:
    if not conflicts:
        return
    conn.execute(
        closed_case_conflicts.insert(),
        [
            {
                "case_no": case.case_no,
                "content": json.dumps(case.content(), ensure_ascii=False, sort_keys=True),
                "content_hash": digest,
                "source": source,
                "received_at": now_iso,
            }
            for case, digest in conflicts
        ],
    )
    flagged = list({case.case_no for case, _ in conflicts})
    conn.execute(update(closed_cases).where(closed_cases.c.case_no.in_(flagged)).values(flags=CONFLICT))


def count_cases(conn: Connection) -> int:
    from sqlalchemy import func

    return conn.execute(select(func.count()).select_from(closed_cases)).scalar_one()


def conflicts_of(conn: Connection, case_no: str) -> list:
    query = select(closed_case_conflicts).where(closed_case_conflicts.c.case_no == case_no)
    return conn.execute(query.order_by(closed_case_conflicts.c.id)).all()


# ---------------------------------------------------------------- reading for the reconciliation


def _citizen_rated(case_no_column):
    """A counting rating a citizen gave (a 系统默认评价 is not one)."""
    from sqlalchemy import exists

    from haochaping.levels import CHANNEL_DEFAULT
    from sync_server.storage.schema import ratings

    return exists().where(
        ratings.c.case_no == case_no_column,
        ratings.c.role == "counting",
        or_(ratings.c.channel.is_(None), ratings.c.channel != CHANNEL_DEFAULT),
    )


def closed_between(conn: Connection, start: str, end: str, window_condition=None) -> list:
    """Cases closed in [start, end) with their first prompt (time and window) and whether a citizen rated them."""
    from sync_server.storage.schema import cases

    query = (
        select(
            closed_cases,
            cases.c.prompted_at,
            cases.c.window.label("prompted_window"),
            _citizen_rated(closed_cases.c.case_no).label("rated"),
        )
        .select_from(closed_cases.outerjoin(cases, cases.c.case_no == closed_cases.c.case_no))
        .where(closed_cases.c.closed_at >= start, closed_cases.c.closed_at < end)
        .order_by(closed_cases.c.closed_at)
    )
    if window_condition is not None:
        query = query.where(window_condition)
    return conn.execute(query).all()


def still_open(conn: Connection, window_condition=None) -> list:
    """Cases the case system reported accepted and not yet closed."""
    query = select(closed_cases).where(closed_cases.c.closed_at.is_(None)).order_by(closed_cases.c.accepted_at)
    if window_condition is not None:
        query = query.where(window_condition)
    return conn.execute(query).all()


def coverage_start(conn: Connection) -> str | None:
    """The earliest closing the case system reported: prompts before it cannot be checked against it."""
    from sqlalchemy import func

    return conn.execute(select(func.min(closed_cases.c.closed_at))).scalar()


def unreported_prompts(conn: Connection, since: str, before: str, window_condition=None, limit: int = 500) -> list:
    """Cases prompted at a kiosk in [since, before) whose number the case system never reported (办件系统无此件)."""
    from sync_server.storage.schema import cases

    query = (
        select(cases, _citizen_rated(cases.c.case_no).label("rated"))
        .where(cases.c.prompted_at >= since, cases.c.prompted_at < before)
        .where(~select(closed_cases.c.case_no).where(closed_cases.c.case_no == cases.c.case_no).exists())
        .order_by(cases.c.prompted_at.desc())
        .limit(limit)
    )
    if window_condition is not None:
        query = query.where(window_condition)
    return conn.execute(query).all()


def connected(conn: Connection) -> bool:
    """A case system is registered (and not revoked), or has reported cases."""
    from sync_server.storage.schema import case_systems

    registered = select(case_systems.c.id).where(case_systems.c.revoked_at.is_(None)).limit(1)
    return (
        conn.execute(registered).first() is not None
        or conn.execute(select(closed_cases.c.case_no).limit(1)).first() is not None
    )
