"""Reads of the dashboard's figures from the rollups: whole months from the monthly buckets, the other days from the
daily ones, the trend from the per-day trend buckets (or, by month, from the monthly buckets). Each read covers the
period's buckets, whose number depends on the period and the hall's departments, windows, clerks and matters, never
on how many ratings are stored."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Connection, func, select

from sync_server.storage.periods import split_months
from sync_server.storage.schema import (
    case_rollup,
    case_rollup_month,
    case_trend,
    rating_rollup,
    rating_rollup_month,
    rating_trend,
)

EFFECTIVE = "effective"  # the rollup status of a rating that counts
RATING_KEY = ("department", "window", "clerk_no", "matter_code", "channel", "level", "status")
CASE_KEY = ("department", "window", "clerk_no", "matter_code")


def month_spans(conn: Connection, first: date, last: date) -> tuple[list[str], list[tuple[date, date]]]:
    """Whole months (YYYY-MM) and day spans of a period; a month cut short by the period's end counts as whole when
    nothing is stored after that end within the month (the usual "this month so far")."""
    return split_months(first, last, lambda after, until: _stored_between(conn, after, until))


def _stored_between(conn: Connection, after: date, until: date) -> bool:
    for table in (rating_rollup, case_rollup):
        query = select(table.c.day).where(table.c.day > after.isoformat(), table.c.day <= until.isoformat()).limit(1)
        if conn.execute(query).first() is not None:
            return True
    return False


def _spans(months: list[str], day_spans: list[tuple[date, date]]):
    """(monthly?, lo, hi) of each read: one over the whole months, one per day span."""
    out = [(True, months[0], months[-1])] if months else []
    return out + [(False, a.isoformat(), b.isoformat()) for a, b in day_spans]


def _where(table, key: str, lo: str, hi: str, department: str | None) -> list:
    where = [table.c[key] >= lo, table.c[key] <= hi]
    if department:
        where.append(table.c.department == department)
    return where


Spans = tuple[list[str], list[tuple[date, date]]]  # whole months and day spans, as ``month_spans`` gives them


def rating_counts(conn: Connection, spans: Spans, department: str | None) -> Iterable[tuple]:
    """(department, window, clerk, matter, channel, level, status, n) of the period's ratings, one row per key and
    read (the same key may come once from the whole months and once from each day span)."""
    for monthly, lo, hi in _spans(*spans):
        table, key = (rating_rollup_month, "month") if monthly else (rating_rollup, "day")
        columns = [table.c[c] for c in RATING_KEY]
        query = select(*columns, func.sum(table.c.n)).where(*_where(table, key, lo, hi, department)).group_by(*columns)
        yield from conn.execute(query)


def case_counts(conn: Connection, spans: Spans, department: str | None) -> Iterable[tuple]:
    """(department, window, clerk, matter, prompted, rated, default only) of the period's prompted cases."""
    for monthly, lo, hi in _spans(*spans):
        table, key = (case_rollup_month, "month") if monthly else (case_rollup, "day")
        columns = [table.c[c] for c in CASE_KEY]
        sums = [func.sum(table.c.prompted), func.sum(table.c.rated), func.sum(table.c.default_only)]
        query = select(*columns, *sums).where(*_where(table, key, lo, hi, department)).group_by(*columns)
        yield from conn.execute(query)


def trend_ratings(conn: Connection, spans: Spans, department: str | None) -> Iterable[tuple]:
    """(day or month, channel, level, n) of the period's effective ratings: the whole months of ``spans`` from the
    monthly buckets (a year by month reads twelve months' buckets, not 365 days'), the day spans by day."""
    for monthly, lo, hi in _spans(*spans):
        table, key = (rating_rollup_month, "month") if monthly else (rating_trend, "day")
        t = table.c
        where = [*_where(table, key, lo, hi, department), t.status == EFFECTIVE]
        yield from conn.execute(
            select(t[key], t.channel, t.level, func.sum(t.n)).where(*where).group_by(t[key], t.channel, t.level)
        )


def trend_cases(conn: Connection, spans: Spans, department: str | None) -> Iterable[tuple]:
    """(day or month, prompted, rated, default only) of the period's prompted cases, read as ``trend_ratings``."""
    for monthly, lo, hi in _spans(*spans):
        table, key = (case_rollup_month, "month") if monthly else (case_trend, "day")
        t = table.c
        sums = [func.sum(t.prompted), func.sum(t.rated), func.sum(t.default_only)]
        yield from conn.execute(select(t[key], *sums).where(*_where(table, key, lo, hi, department)).group_by(t[key]))
