"""Reads of the ratings list and of one rating's detail. The list is a keyset page over the time index (never
OFFSET, never a COUNT over the whole table), newest first, within the viewer's scope; the filter's total comes
from the daily rollup.

``scope`` is any object with ``window_condition(column)`` (the console's ``Scope``); a filter is any object with
``window``, ``clerk``, ``matter``, ``level``, ``channel`` and ``flag`` (the console's ``RatingFilter``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Connection, and_, func, or_, select

from sync_server.storage.cases import enrolled_window, true_window, window_mismatched
from sync_server.storage.schema import (
    FLAGGED,
    cases,
    config_versions,
    integrity_flags,
    rating_exclusions,
    rating_rollup,
    ratings,
    records,
)


def conditions(f, bounds: tuple[str, str], scope, department_windows: Iterable[str] | None) -> list:
    """WHERE conditions on ``records`` for a filter between two UTC times [start, end), always ANDed with the
    viewer's scope; ``department_windows``: the windows of the department asked for (None: any)."""
    start, end = bounds
    where = [records.c.kind == "rating", records.c.occurred_at >= start, records.c.occurred_at < end]
    # the window a rating counts for (the enrolled one of a ``window_mismatch`` record), as the rollups count it
    window = true_window()
    in_scope = scope.window_condition(window)
    if in_scope is not None:
        where.append(in_scope)
    if department_windows is not None:
        # through coalesce, so that SQLite keeps walking the time index in order (an IN over the window index
        # would fetch and sort every row of those windows in the period before the first page)
        where.append(func.coalesce(window, "").in_(sorted(department_windows) or ["\x00none"]))
    if f.window:
        # either branch reads an index: the window's own records, or the flagged records (few) of its terminal
        claimed_here = and_(records.c.window == f.window, ~window_mismatched())
        enrolled_here = and_(FLAGGED, window_mismatched(), enrolled_window() == f.window)
        where.append(or_(claimed_here, enrolled_here))
    for value, column in (
        (f.clerk, records.c.clerk_no),
        (f.matter, records.c.matter_code),
    ):
        if value:
            where.append(column == value)
    if f.level == "good":
        where.append(records.c.level >= 3)
    elif f.level == "bad":
        where.append(records.c.level <= 2)
    elif f.level:
        where.append(records.c.level == int(f.level))
    if f.channel is not None:
        where.append(records.c.channel == f.channel)
    if f.flag:
        where.append(FLAGGED)  # as ix_records_flagged is written, so both databases read that index
    if f.flag and f.flag != "any":
        where.append(records.c.flags.like(f"%{f.flag}%"))
    return where


def excluded_flag():
    """A column: the rating has an exclusion that is not lifted."""
    return (
        select(rating_exclusions.c.id)
        .where(rating_exclusions.c.record_id == records.c.id, rating_exclusions.c.lifted_at.is_(None))
        .exists()
        .label("excluded")
    )


def page(
    conn: Connection, where: list, after: tuple[str, str] | None, limit: int
) -> tuple[list, tuple[str, str] | None]:
    """One page of the ratings meeting ``where``, newest first, and the cursor of the next page (None on the last)."""
    where = list(where)
    if after:
        at, rid = after
        where.append(or_(records.c.occurred_at < at, and_(records.c.occurred_at == at, records.c.id < rid)))
    query = (
        select(
            records.c.id,
            records.c.occurred_at,
            true_window().label("window"),
            records.c.window.label("claimed_window"),
            records.c.clerk_no,
            records.c.matter_code,
            records.c.level,
            records.c.channel,
            records.c.comment,
            records.c.flags,
            records.c.case_no,
            records.c.detail,
            records.c.reasons,
            ratings.c.role,
            ratings.c.assess_number,
            excluded_flag(),
        )
        .select_from(records.join(ratings, ratings.c.record_id == records.c.id))
        .where(*where)
        .order_by(records.c.occurred_at.desc(), records.c.id.desc())
        .limit(limit + 1)
    )
    rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = (rows[-1].occurred_at, rows[-1].id) if more and rows else None
    return rows, cursor


def rating_record(conn: Connection, record_id: str):
    """The stored rating record with ``counted_window`` (the window it counts for: the enrolled one of a
    ``window_mismatch`` record), or None."""
    query = select(records, true_window().label("counted_window"))
    return conn.execute(query.where(records.c.id == record_id, records.c.kind == "rating")).first()


def rating_facts(conn: Connection, record_id: str, case_no: str | None) -> tuple:
    """(its ``ratings`` row or None, its case or None, its exclusions, its integrity flags), oldest first."""
    rating = conn.execute(select(ratings).where(ratings.c.record_id == record_id)).first()
    case = conn.execute(select(cases).where(cases.c.case_no == case_no)).first() if case_no else None
    exclusions = conn.execute(
        select(rating_exclusions).where(rating_exclusions.c.record_id == record_id).order_by(rating_exclusions.c.id)
    ).all()
    flags = conn.execute(
        select(integrity_flags).where(integrity_flags.c.record_id == record_id).order_by(integrity_flags.c.id)
    ).all()
    return rating, case, exclusions, flags


def reason_label(conn: Connection, version: str, code: int) -> str | None:
    """The label of a reason code in the stored reason list ``version`` (the newest configuration that has it)."""
    for row in conn.execute(select(config_versions.c.content).order_by(config_versions.c.id.desc())):
        reasons = json.loads(row.content).get("reasons", {})
        if reasons.get("version") == version:
            for reason in reasons.get("reasons", []):
                if reason.get("code") == int(code):
                    return reason["label"]
    return None


def total(conn: Connection, f, days: tuple[str, str], where: list, scope, department_windows) -> int:
    """How many ratings the filter holds (every page together) without counting rows of the records table: the daily
    rollup (day × department × window × clerk × matter × channel × level × status → n) has every settled rating the
    list shows. Only the 完整性标记 filter, which the rollup does not know, counts its records (``where``: this
    module's ``conditions``), through the partial index of flagged records. ``days``: China dates, inclusive."""
    if f.flag:
        joined = records.join(ratings, ratings.c.record_id == records.c.id)
        return conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
    r = rating_rollup.c
    rollup_where = [r.day >= days[0], r.day <= days[1]]
    in_scope = scope.window_condition(r.window)
    if in_scope is not None:
        rollup_where.append(in_scope)
    if department_windows is not None:
        rollup_where.append(r.window.in_(sorted(department_windows) or [""]))
    for value, column in ((f.window, r.window), (f.clerk, r.clerk_no), (f.matter, r.matter_code)):
        if value:
            rollup_where.append(column == value)
    if f.level == "good":
        rollup_where.append(r.level >= 3)
    elif f.level == "bad":
        rollup_where.append(r.level <= 2)
    elif f.level:
        rollup_where.append(r.level == int(f.level))
    if f.channel is not None:
        rollup_where.append(r.channel == f.channel)
    return int(conn.execute(select(func.coalesce(func.sum(r.n), 0)).where(*rollup_where)).scalar_one())
