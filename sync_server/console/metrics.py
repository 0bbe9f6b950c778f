"""The dashboard's figures, read from the daily rollups: 好评率, 主动评价好评率, 差评率, 参评率, 未评率, mean level,
trend, level and channel split, tables by department/window/clerk/matter, rankings.

Every figure counts effective ratings only (counting role, not excluded by an appeal, not a test); the ratings
left out are counted by why. 参评率/未评率 are shares of prompted cases: a case rated by a citizen is rated; a case
that timed out, or got only a 系统默认评价, is unrated.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Connection, func, select

from haochaping.levels import CHANNEL_DEFAULT
from sync_server.console.auth import Scope
from sync_server.console.rollup import EFFECTIVE, case_rollup, rating_rollup

GRANULARITIES = {"day": "按日", "week": "按周", "month": "按月"}


@dataclass
class Figures:
    """Counts of effective ratings and prompted cases, and the rates computed from them."""

    n: int = 0
    good: int = 0
    bad: int = 0
    level_sum: int = 0
    active_n: int = 0  # without 系统默认评价
    active_good: int = 0
    prompted: int = 0
    rated: int = 0
    default_only: int = 0
    by_level: dict[int, int] = field(default_factory=lambda: {lv: 0 for lv in (5, 4, 3, 2, 1)})

    def add_rating(self, channel: int, level: int, n: int) -> None:
        self.n += n
        self.good += n if level >= 3 else 0
        self.bad += n if level <= 2 else 0
        self.level_sum += level * n
        self.by_level[level] = self.by_level.get(level, 0) + n
        if channel != CHANNEL_DEFAULT:
            self.active_n += n
            self.active_good += n if level >= 3 else 0

    def add_cases(self, prompted: int, rated: int, default_only: int) -> None:
        self.prompted += prompted
        self.rated += rated
        self.default_only += default_only

    @property
    def good_rate(self) -> float | None:
        return _share(self.good, self.n)

    @property
    def active_good_rate(self) -> float | None:
        return _share(self.active_good, self.active_n)

    @property
    def bad_rate(self) -> float | None:
        return _share(self.bad, self.n)

    @property
    def unrated(self) -> int:
        return max(self.prompted - self.rated, 0)

    @property
    def participation_rate(self) -> float | None:
        return _share(self.rated, self.prompted)

    @property
    def unrated_rate(self) -> float | None:
        return _share(self.unrated, self.prompted)

    @property
    def mean_level(self) -> float | None:
        return self.level_sum / self.n if self.n else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Dashboard:
    first: date
    last: date
    department: str | None
    total: Figures
    left_out: dict[str, int]
    by_channel: dict[int, int]
    trend: list[tuple[str, Figures]]
    by_department: dict[str, Figures]
    by_window: dict[str, Figures]
    by_clerk: dict[str, Figures]
    by_matter: dict[str, Figures]


def dashboard(
    conn: Connection, scope: Scope, first: date, last: date, department: str | None = None, granularity: str = "day"
) -> Dashboard:
    """All figures of the period [first, last] (China dates) within the scope (and department, if given)."""
    department = scope.department_filter(department)
    where = [rating_rollup.c.day >= first.isoformat(), rating_rollup.c.day <= last.isoformat()]
    case_where = [case_rollup.c.day >= first.isoformat(), case_rollup.c.day <= last.isoformat()]
    if department:
        where.append(rating_rollup.c.department == department)
        case_where.append(case_rollup.c.department == department)
    board = Dashboard(first, last, department, Figures(), defaultdict(int), defaultdict(int), [], *_tables(4))
    _add_ratings(conn, where, board)
    _add_cases(conn, case_where, board)
    board.trend = _trend(conn, where, case_where, first, last, granularity)
    return board


def _tables(k: int) -> list[dict[str, Figures]]:
    return [defaultdict(Figures) for _ in range(k)]


def _add_ratings(conn: Connection, where: list, board: Dashboard) -> None:
    t = rating_rollup.c
    query = (
        select(t.department, t.window, t.clerk_no, t.matter_code, t.channel, t.level, t.status, func.sum(t.n))
        .where(*where)
        .group_by(t.department, t.window, t.clerk_no, t.matter_code, t.channel, t.level, t.status)
    )
    for dept, window, clerk, matter, channel, level, status, n in conn.execute(query):
        if not n:
            continue
        if status != EFFECTIVE:
            board.left_out[status] += n
            continue
        board.by_channel[channel] += n
        for figures in (
            board.total,
            board.by_department[dept],
            board.by_window[window],
            board.by_clerk[clerk],
            board.by_matter[matter],
        ):
            figures.add_rating(channel, level, n)


def _add_cases(conn: Connection, where: list, board: Dashboard) -> None:
    t = case_rollup.c
    query = (
        select(
            t.department,
            t.window,
            t.clerk_no,
            t.matter_code,
            func.sum(t.prompted),
            func.sum(t.rated),
            func.sum(t.default_only),
        )
        .where(*where)
        .group_by(t.department, t.window, t.clerk_no, t.matter_code)
    )
    for dept, window, clerk, matter, prompted, rated, default_only in conn.execute(query):
        for figures in (
            board.total,
            board.by_department[dept],
            board.by_window[window],
            board.by_clerk[clerk],
            board.by_matter[matter],
        ):
            figures.add_cases(prompted or 0, rated or 0, default_only or 0)


def bucket_of(day: str, granularity: str) -> str:
    if granularity == "month":
        return day[:7]
    if granularity == "week":
        d = date.fromisoformat(day)
        return (d - timedelta(days=d.weekday())).isoformat()
    return day


def _trend(conn, where, case_where, first: date, last: date, granularity: str) -> list[tuple[str, Figures]]:
    buckets: dict[str, Figures] = {}
    d = first
    while d <= last:
        buckets.setdefault(bucket_of(d.isoformat(), granularity), Figures())
        d += timedelta(days=1)
    t = rating_rollup.c
    query = (
        select(t.day, t.channel, t.level, func.sum(t.n))
        .where(*where, t.status == EFFECTIVE)
        .group_by(t.day, t.channel, t.level)
    )
    for day, channel, level, n in conn.execute(query):
        buckets[bucket_of(day, granularity)].add_rating(channel, level, n or 0)
    c = case_rollup.c
    query = (
        select(c.day, func.sum(c.prompted), func.sum(c.rated), func.sum(c.default_only)).where(*case_where)
    ).group_by(c.day)
    for day, prompted, rated, default_only in conn.execute(query):
        buckets[bucket_of(day, granularity)].add_cases(prompted or 0, rated or 0, default_only or 0)
    return sorted(buckets.items())


# ---------------------------------------------------------------- rankings


def ranking(table: dict[str, Figures], min_ratings: int, top: int = 10) -> list[tuple[str, Figures]]:
    """Best first by 好评率, then mean level, then number of ratings; only those with ``min_ratings`` or more."""
    eligible = [(k, f) for k, f in table.items() if k and f.n >= min_ratings]
    eligible.sort(key=lambda kf: (-(kf[1].good_rate or 0), -(kf[1].mean_level or 0), -kf[1].n, kf[0]))
    return eligible[:top]


def repeated_bad(table: dict[str, Figures], threshold: int) -> list[tuple[str, Figures]]:
    """Clerks with ``threshold`` or more effective bad ratings in the period, most first."""
    rows = [(k, f) for k, f in table.items() if k and f.bad >= threshold]
    rows.sort(key=lambda kf: (-kf[1].bad, kf[0]))
    return rows
