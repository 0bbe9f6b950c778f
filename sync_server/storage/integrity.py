"""Reads behind the console's integrity review (完整性): the integrity flags and conflicting copies of a period, the
terminal ratings a burst, quick-rating or 刷好评 check looks at, the terminal and phone ratings of the per-clerk
signals (one phone rating many cases, ratings outside office hours), and bad taps left without a reason.

``scope`` is any object with ``window_condition(column)`` (the console's ``Scope``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import Connection, Row, select

from sync_server.storage.cases import true_window
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


# ---------------------------------------------------------------- the per-clerk signals of people's ratings

PEOPLE_SOURCES = ("device", "qr")  # made by a person: at a terminal or on a phone (not 系统默认评价)


class PersonRating(NamedTuple):
    id: str
    source: str  # device (评价器) or qr (扫码评价)
    clerk_no: str | None
    window: str | None  # the window it counts for
    occurred_at: str
    level: int | None
    case_no: str | None
    phone: str | None  # the hashed phone mark of a phone rating (qrpage), else None


def people_ratings(
    conn: Connection, start: str, end: str, window_condition: Callable | None = None
) -> list[PersonRating]:
    """Ratings made at a terminal or by phone in [start, end) within the scope (``window_condition``: the viewer's
    ``Scope.window_condition``, applied to the window a rating counts for), oldest first."""
    window = true_window()
    where = [records.c.kind == "rating", records.c.occurred_at >= start, records.c.occurred_at < end]
    where.append(records.c.source.in_(PEOPLE_SOURCES))
    in_scope = window_condition(window) if window_condition else None
    if in_scope is not None:
        where.append(in_scope)
    query = select(
        records.c.id,
        records.c.source,
        records.c.clerk_no,
        window.label("counted_window"),
        records.c.occurred_at,
        records.c.level,
        records.c.case_no,
        records.c.detail,
    ).where(*where)
    rows = conn.execute(query.order_by(records.c.occurred_at, records.c.id)).all()
    return [PersonRating(*r[:7], _phone(r.detail) if r.source == "qr" else None) for r in rows]


def _phone(detail: str | None) -> str | None:
    try:
        mark = json.loads(detail or "{}").get("phone")
    except ValueError:
        return None
    return mark if isinstance(mark, str) and mark else None
