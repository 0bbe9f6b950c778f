"""Reads behind the console's integrity review (完整性): the integrity flags and conflicting copies of a period, the
terminal ratings a burst, quick-rating or 刷好评 check looks at, and bad taps left without a reason.

``scope`` is any object with ``window_condition(column)`` (the console's ``Scope``).
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, select

from sync_server.storage.schema import integrity_flags, record_conflicts, records

MAX_FLAGS = 1000


def flags_between(conn: Connection, start: str, end: str, limit: int = MAX_FLAGS) -> list[Row]:
    """The integrity flags raised in [start, end), newest first (at most ``limit``)."""
    return conn.execute(
        select(integrity_flags)
        .where(integrity_flags.c.flagged_at >= start, integrity_flags.c.flagged_at < end)
        .order_by(integrity_flags.c.id.desc())
        .limit(limit)
    ).all()


def conflicts_since(conn: Connection, start: str) -> list[Row]:
    """Conflicting copies received since ``start``."""
    return conn.execute(select(record_conflicts).where(record_conflicts.c.received_at >= start)).all()


def _terminal_ratings(scope, start: str, end: str) -> list:
    where = [
        records.c.kind == "rating",
        records.c.source == "device",
        records.c.occurred_at >= start,
        records.c.occurred_at < end,
    ]
    in_scope = scope.window_condition(records.c.window)
    if in_scope is not None:
        where.append(in_scope)
    return where


def terminal_ratings(conn: Connection, scope, start: str, end: str) -> list[Row]:
    """Ratings made at a terminal in [start, end) within the scope, by device and time: id, device_id, window,
    occurred_at, level, prompted_at, clerk_no, detail (in this order)."""
    cols = (
        records.c.id,
        records.c.device_id,
        records.c.window,
        records.c.occurred_at,
        records.c.level,
        records.c.prompted_at,
        records.c.clerk_no,
        records.c.detail,
    )
    query = select(*cols).where(*_terminal_ratings(scope, start, end))
    return conn.execute(query.order_by(records.c.device_id, records.c.occurred_at)).all()


def clerk_rating_rows(conn: Connection, scope, start: str, end: str) -> list[Row]:
    """Ratings made at a terminal in [start, end) within the scope: clerk_no, occurred_at, prompted_at, level,
    detail."""
    cols = (records.c.clerk_no, records.c.occurred_at, records.c.prompted_at, records.c.level, records.c.detail)
    return conn.execute(select(*cols).where(*_terminal_ratings(scope, start, end))).all()


def bad_taps_without_reason(conn: Connection, scope, start: str, end: str) -> list[Row]:
    """(clerk_no, detail) of ratings and timeouts in [start, end) within the scope whose detail notes a bad level
    tapped without a reason."""
    where = [
        records.c.kind.in_(("rating", "timeout")),
        records.c.occurred_at >= start,
        records.c.occurred_at < end,
        records.c.detail.like('%"bad_without_reason"%'),
    ]
    in_scope = scope.window_condition(records.c.window)
    if in_scope is not None:
        where.append(in_scope)
    return conn.execute(select(records.c.clerk_no, records.c.detail).where(*where)).all()


def seq_arrived(conn: Connection, device_id: str, seq: int) -> bool:
    """Has the device's record with this sequence number been stored?"""
    query = select(records.c.id).where(records.c.device_id == device_id, records.c.seq == seq)
    return conn.execute(query.limit(1)).first() is not None
