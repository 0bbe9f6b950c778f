"""The period a page shows: ``from``/``to`` China dates, or ``month=YYYY-MM``, ``quarter=YYYYQn``, ``year=YYYY`` (the
quarterly and yearly 通报 of 篇10); the current month by default."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime

from sync_server.console.errors import BadInput
from sync_server.console.labels import china_today

MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    name: str = ""  # 2026 年第四季度, 2026 年 (a quarter or a year)

    @property
    def label(self) -> str:
        span = f"{self.first.isoformat()} 至 {self.last.isoformat()}"
        return f"{self.name}（{span}）" if self.name else span

    def query(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


QUARTER_NAMES = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}


def report_period(spec: str) -> Period:
    """A month ``YYYY-MM``, a quarter ``YYYYQn`` or a year ``YYYY``."""
    spec = spec.strip().upper()
    quarter = re.fullmatch(r"(\d{4})Q([1-4])", spec)
    if quarter:
        year, q = int(quarter.group(1)), int(quarter.group(2))
        last_month = 3 * q
        last = date(year, last_month, calendar.monthrange(year, last_month)[1])
        return Period(date(year, last_month - 2, 1), last, f"{year} 年{QUARTER_NAMES[q]}")
    if re.fullmatch(r"\d{4}", spec):
        year = int(spec)
        return Period(date(year, 1, 1), date(year, 12, 31), f"{year} 年")
    if "Q" in spec:
        raise BadInput(f"季度格式应为 YYYYQn（n 为 1–4）：{spec}")
    return month_period(spec)


def month_period(month: str) -> Period:
    try:
        year, mon = (int(p) for p in month.split("-"))
        first = date(year, mon, 1)
    except ValueError:
        raise BadInput(f"月份格式应为 YYYY-MM：{month}") from None
    return Period(first, date(year, mon, calendar.monthrange(year, mon)[1]))


def whole_period(query) -> str | None:
    """``month=YYYY-MM``, ``quarter=YYYYQn`` or ``year=YYYY`` of a page's query: a whole period of the 通报."""
    return query.get("month") or query.get("quarter") or query.get("year")


def parse_period(now: datetime, start: str | None, end: str | None, month: str | None = None) -> Period:
    """The requested period; refuses malformed dates, reversed or over-long ranges."""
    if month:
        return report_period(month)
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
