"""Storage of 考核 and 考勤: every query the assessment package and its pages run on rule versions, events and their
evidence, leave, the 考核领导小组, closed years, objections and corrections (tables in ``storage/schema.py``).

Events are never deleted: a proposal that no longer holds is ``withdrawn``, a dismissed one ``dismissed``; a closed
year changes only through ``assessment_corrections`` rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from sync_server.storage.auditlog import append_entry
from sync_server.storage.schema import (
    assessment_corrections,
    assessment_events,
    assessment_evidence,
    assessment_leave,
    assessment_objections,
    assessment_panel,
    assessment_rule_versions,
    assessment_years,
    records,
    utc_iso,
)

OPEN_STATES = ("proposed", "confirming")
COUNTING = "confirmed"


# ---------------------------------------------------------------- the audit log


def audit(conn: Connection, now: datetime, actor: str, action: str, target: str | None, detail: dict) -> None:
    """Append one entry to the hash-chained audit log."""
    append_entry(conn, now, actor, action, target, detail)


# ---------------------------------------------------------------- rule versions


def latest_rules_row(conn: Connection):
    q = select(assessment_rule_versions).order_by(assessment_rule_versions.c.id.desc()).limit(1)
    return conn.execute(q).first()


def add_rules_row(conn: Connection, version: str, content: str, digest: str, source: str, now: datetime) -> None:
    conn.execute(
        assessment_rule_versions.insert().values(
            version=version, content=content, digest=digest, source=source, imported_at=utc_iso(now)
        )
    )


# ---------------------------------------------------------------- terminal records for attendance


ATTENDANCE_KINDS = ("sign_in", "sign_out", "pause", "resume")


def clerk_records(conn: Connection, lo: str, hi: str) -> list:
    """Every terminal record with a clerk between two UTC instants, in the order they happened."""
    q = (
        select(records.c.device_id, records.c.seq, records.c.kind, records.c.clerk_no, records.c.occurred_at)
        .where(records.c.occurred_at >= lo, records.c.occurred_at < hi, records.c.clerk_no.is_not(None))
        .where(records.c.source == "device")
        .order_by(records.c.occurred_at, records.c.device_id, records.c.seq)
    )
    return conn.execute(q).all()


def unfilled_gaps(conn: Connection, lo: str, hi: str) -> list[tuple[str, str, str | None]]:
    """Sequence gaps whose missing record has not arrived: (device, time of the record after the gap, time of the
    last record before it or None) for gaps flagged on records of the period."""
    from sqlalchemy import and_

    from sync_server.storage.schema import integrity_flags

    after = records.alias("after_gap")
    q = (
        select(integrity_flags.c.device_id, integrity_flags.c.seq, after.c.occurred_at)
        .join(after, and_(after.c.id == integrity_flags.c.record_id))
        .where(integrity_flags.c.kind == "gap", after.c.occurred_at >= lo, after.c.occurred_at < hi)
    )
    out = []
    for device, seq, at in conn.execute(q).all():
        present = select(records.c.id).where(records.c.device_id == device, records.c.seq == seq - 1).limit(1)
        if conn.execute(present).first() is not None:
            continue  # 已补齐
        before = (
            select(records.c.occurred_at)
            .where(records.c.device_id == device, records.c.seq < seq)
            .order_by(records.c.seq.desc())
            .limit(1)
        )
        out.append((device, at, conn.execute(before).scalar()))
    return out


# ---------------------------------------------------------------- events


def insert_event(conn: Connection, **values) -> int:
    values.setdefault("detail", "{}")
    return conn.execute(assessment_events.insert().values(**values)).inserted_primary_key[0]


def event(conn: Connection, event_id: int, lock: bool = False):
    q = select(assessment_events).where(assessment_events.c.id == event_id)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).first()


def set_event(conn: Connection, event_id: int, **values) -> None:
    conn.execute(update(assessment_events).where(assessment_events.c.id == event_id).values(**values))


def events_by_keys(conn: Connection, prefix: str) -> dict[str, object]:
    """Events whose source key starts with ``prefix`` (the proposals of one source), by key."""
    q = select(assessment_events).where(assessment_events.c.source_key.like(prefix + "%"))
    return {row.source_key: row for row in conn.execute(q).all()}


def events_between(conn: Connection, first: str, last: str, clerk_no: str | None = None, states=None) -> list:
    q = select(assessment_events).where(assessment_events.c.day >= first, assessment_events.c.day <= last)
    if clerk_no is not None:
        q = q.where(assessment_events.c.clerk_no == clerk_no)
    if states is not None:
        q = q.where(assessment_events.c.state.in_(list(states)))
    return conn.execute(q.order_by(assessment_events.c.day, assessment_events.c.id)).all()


def open_events(conn: Connection, limit: int = 500) -> list:
    q = (
        select(assessment_events)
        .where(assessment_events.c.state.in_(OPEN_STATES))
        .order_by(assessment_events.c.day.desc(), assessment_events.c.id.desc())
        .limit(limit)
    )
    return conn.execute(q).all()


def add_evidence(conn: Connection, event_id: int, files, by: str, now: datetime) -> None:
    for f in files:
        conn.execute(
            assessment_evidence.insert().values(
                event_id=event_id,
                filename=f.filename,
                content_type=f.content_type,
                size=f.size,
                sha256=f.sha256,
                content=f.content,
                uploaded_by=by,
                uploaded_at=utc_iso(now),
            )
        )


def evidence_list(conn: Connection, event_ids: list[int]) -> dict[int, list]:
    if not event_ids:
        return {}
    cols = [c for c in assessment_evidence.c if c.name != "content"]
    rows = conn.execute(select(*cols).where(assessment_evidence.c.event_id.in_(event_ids))).all()
    out: dict[int, list] = {}
    for row in rows:
        out.setdefault(row.event_id, []).append(row)
    return out


def evidence_file(conn: Connection, evidence_id: int):
    return conn.execute(select(assessment_evidence).where(assessment_evidence.c.id == evidence_id)).first()


# ---------------------------------------------------------------- leave, panel


def add_leave(conn: Connection, **values) -> int:
    return conn.execute(assessment_leave.insert().values(**values)).inserted_primary_key[0]


def leave_between(conn: Connection, first: str, last: str) -> list:
    q = select(assessment_leave).where(assessment_leave.c.first_day <= last, assessment_leave.c.last_day >= first)
    return conn.execute(q.order_by(assessment_leave.c.first_day, assessment_leave.c.id)).all()


def panel_members(conn: Connection) -> list[str]:
    return [r.username for r in conn.execute(select(assessment_panel).order_by(assessment_panel.c.username))]


def add_panel_member(conn: Connection, username: str, by: str, now: datetime) -> None:
    conn.execute(assessment_panel.insert().values(username=username, added_by=by, added_at=utc_iso(now)))


def user_role(conn: Connection, username: str) -> str | None:
    from sync_server.storage.schema import users

    q = select(users.c.role).where(users.c.username == username, users.c.disabled_at.is_(None))
    return conn.execute(q).scalar()


# ---------------------------------------------------------------- closed years, objections, corrections


def closed_year(conn: Connection, year: int):
    return conn.execute(select(assessment_years).where(assessment_years.c.year == year)).first()


def closed_years(conn: Connection) -> list:
    return conn.execute(select(assessment_years).order_by(assessment_years.c.year.desc())).all()


def close_year_row(conn: Connection, year: int, content: str, content_hash: str, by: str, now: datetime) -> None:
    conn.execute(
        assessment_years.insert().values(
            year=year, content=content, content_hash=content_hash, closed_by=by, closed_at=utc_iso(now)
        )
    )


def add_objection(conn: Connection, **values) -> int:
    return conn.execute(assessment_objections.insert().values(**values)).inserted_primary_key[0]


def objection(conn: Connection, objection_id: int, lock: bool = False):
    q = select(assessment_objections).where(assessment_objections.c.id == objection_id)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).first()


def objections(conn: Connection, year: int | None = None, clerk_no: str | None = None) -> list:
    q = select(assessment_objections)
    if year is not None:
        q = q.where(assessment_objections.c.year == year)
    if clerk_no is not None:
        q = q.where(assessment_objections.c.clerk_no == clerk_no)
    return conn.execute(q.order_by(assessment_objections.c.id.desc())).all()


def set_objection(conn: Connection, objection_id: int, **values) -> None:
    conn.execute(update(assessment_objections).where(assessment_objections.c.id == objection_id).values(**values))


def add_correction(conn: Connection, **values) -> int:
    return conn.execute(assessment_corrections.insert().values(**values)).inserted_primary_key[0]


def corrections(conn: Connection, year: int) -> list:
    q = select(assessment_corrections).where(assessment_corrections.c.year == year)
    return conn.execute(q.order_by(assessment_corrections.c.id)).all()


# ---------------------------------------------------------------- 差评工单 behind proposals


def bad_cases_with_reasons(conn: Connection, first: str, last: str) -> list:
    """Handling records of ratings that arrived in [first, last] with a clerk, with the rating's reason codes."""
    from sync_server.storage.schema import bad_cases

    q = (
        select(bad_cases, records.c.reasons)
        .join(records, records.c.id == bad_cases.c.record_id)
        .where(bad_cases.c.arrival_day >= first, bad_cases.c.arrival_day <= last, bad_cases.c.clerk_no.is_not(None))
        .order_by(bad_cases.c.id)
    )
    return conn.execute(q).all()


def bad_case_state(conn: Connection, case_id: int) -> str | None:
    """The state of one handling record (None when there is none)."""
    from sync_server.storage.schema import bad_cases

    return conn.execute(select(bad_cases.c.state).where(bad_cases.c.id == case_id)).scalar()
