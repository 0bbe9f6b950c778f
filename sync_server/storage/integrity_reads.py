"""Reads behind the integrity page's per-clerk 刷好评 signals (篇5【篇三】): the ratings people made in a period, at the
terminal and by phone, with what the signals need (who, when, which window it counts for, the phone mark).

``window_condition`` is the viewer's scope as a function of a window column (the console's
``Scope.window_condition``), applied to the window a rating counts for (the enrolled one of a ``window_mismatch``
record)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import Connection, select

from sync_server.storage.cases import true_window
from sync_server.storage.schema import records

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
    """Ratings made at a terminal or by phone in [start, end) within the scope, oldest first."""
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
