"""Splitting a period into whole months and day spans, so that reads take a month's rollup instead of its days."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, timedelta


def split_months(
    first: date, last: date, stored_between: Callable[[date, date], bool]
) -> tuple[list[str], list[tuple[date, date]]]:
    """Whole months (YYYY-MM) and day spans of [first, last]. A month cut short by the period's end still counts
    as whole when ``stored_between(end, month_end)`` says nothing is stored after that end within the month (the
    usual "this month so far")."""
    months: list[str] = []
    spans: list[tuple[date, date]] = []
    d = first
    while d <= last:
        month_end = date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])
        span_end = min(month_end, last)
        if d.day == 1 and (span_end == month_end or not stored_between(span_end, month_end)):
            months.append(d.strftime("%Y-%m"))
        else:
            spans.append((d, span_end))
        d = span_end + timedelta(days=1)
    return months, spans
