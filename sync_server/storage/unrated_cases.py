"""Prompted cases no citizen rated (未评价): timeouts, bad levels tapped and left without a reason (held on the
timeout record), cases closed by a 系统默认评价 and prompts with nothing after them. A page reads the ``cases`` table
by prompt time (keyset, newest first); the total comes from ``case_rollup`` (prompted − rated), never a count of
rows."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, or_, select

from haochaping.levels import CHANNEL_DEFAULT
from sync_server.console.accounts import windows_in
from sync_server.storage.rollups import day_bounds
from sync_server.storage.schema import case_rollup, cases, ratings, records


@dataclass(frozen=True)
class UnratedCase:
    case_no: str
    prompted_at: str
    window: str | None
    clerk_no: str | None
    matter_code: str | None
    outcome: str  # default | held | timeout | prompt_only
    held_level: int | None = None


def _windows(f, scope, names) -> list:
    where = []
    in_scope = scope.window_condition(cases.c.window)
    if in_scope is not None:
        where.append(in_scope)
    if f.department:
        where.append(windows_in(cases.c.window, [w for w, d in names.window_department.items() if d == f.department]))
    for value, column in ((f.window, cases.c.window), (f.clerk, cases.c.clerk_no), (f.matter, cases.c.matter_code)):
        if value:
            where.append(column == value)
    return where


def unrated_page(conn: Connection, f, scope, names, after: tuple[str, str] | None, limit: int):
    """One page of unrated cases of the filter, newest prompt first, and the cursor of the next (None: last)."""
    start, end = day_bounds(f.period.first)[0], day_bounds(f.period.last)[1]
    real = select(ratings.c.record_id).where(
        ratings.c.case_no == cases.c.case_no, or_(ratings.c.channel.is_(None), ratings.c.channel != CHANNEL_DEFAULT)
    )
    defaulted = select(ratings.c.record_id).where(ratings.c.case_no == cases.c.case_no).exists().label("defaulted")
    where = [cases.c.prompted_at >= start, cases.c.prompted_at < end, ~real.exists(), *_windows(f, scope, names)]
    if after:
        at, case_no = after
        where.append(or_(cases.c.prompted_at < at, and_(cases.c.prompted_at == at, cases.c.case_no < case_no)))
    rows = conn.execute(
        select(cases, defaulted)
        .where(*where)
        .order_by(cases.c.prompted_at.desc(), cases.c.case_no.desc())
        .limit(limit + 1)
    ).all()
    more, rows = len(rows) > limit, rows[:limit]
    timeouts = _timeouts(conn, [r.case_no for r in rows])
    out = [_unrated(r, timeouts.get(r.case_no)) for r in rows]
    return out, ((rows[-1].prompted_at, rows[-1].case_no) if more and rows else None)


def _timeouts(conn: Connection, case_nos: list[str]) -> dict[str, dict]:
    if not case_nos:
        return {}
    query = select(records.c.case_no, records.c.level, records.c.detail).where(
        records.c.case_no.in_(case_nos), records.c.kind == "timeout"
    )
    return {r.case_no: {"level": r.level, **json.loads(r.detail or "{}")} for r in conn.execute(query)}


def _unrated(row, timeout: dict | None) -> UnratedCase:
    common = (row.case_no, row.prompted_at, row.window, row.clerk_no, row.matter_code)
    if row.defaulted:
        return UnratedCase(*common, "default")
    if timeout and timeout.get("bad_without_reason") == "hold":
        return UnratedCase(*common, "held", timeout.get("level"))
    return UnratedCase(*common, "timeout" if timeout is not None else "prompt_only")


def unrated_total(conn: Connection, f, scope, names) -> int:
    """How many prompted cases of the filter no citizen rated (系统默认评价 included), from the daily rollup."""
    c = case_rollup.c
    where = [c.day >= f.period.first.isoformat(), c.day <= f.period.last.isoformat()]
    in_scope = scope.window_condition(c.window)
    if in_scope is not None:
        where.append(in_scope)
    if f.department:
        where.append(windows_in(c.window, [w for w, d in names.window_department.items() if d == f.department]))
    for value, column in ((f.window, c.window), (f.clerk, c.clerk_no), (f.matter, c.matter_code)):
        if value:
            where.append(column == value)
    total = conn.execute(select(func.coalesce(func.sum(c.prompted - c.rated), 0)).where(*where)).scalar_one()
    return int(total)
