"""The period a page shows: ``from``/``to`` China dates, or ``month=YYYY-MM``; the current month by default."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from sync_server.console.errors import BadInput
from sync_server.console.labels import china_today

MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"

    def query(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def month_period(month: str) -> Period:
    try:
        year, mon = (int(p) for p in month.split("-"))
        first = date(year, mon, 1)
    except ValueError:
        raise BadInput(f"月份格式应为 YYYY-MM：{month}") from None
    return Period(first, date(year, mon, calendar.monthrange(year, mon)[1]))


def parse_period(now: datetime, start: str | None, end: str | None, month: str | None = None) -> Period:
    """The requested period; refuses malformed dates, reversed or over-long ranges."""
    if month:
        return month_period(month)
    today = china_today(now)
    first = _date(start) or today.replace(day=1)
    last = _date(end) or max(today, first)
    if last < first:
        raise BadInput("结束日期不能早于开始日期")
    if (last - first).days > MAX_DAYS:
        raise BadInput("统计期最长三年")
    return Period(first, last)


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"日期格式应为 YYYY-MM-DD：{text}") from None
