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

from sqlalchemy import Connection

from haochaping.levels import CHANNEL_DEFAULT
from sync_server.console.accounts import Scope
from sync_server.storage import dashboard_reads as reads
from sync_server.storage.rollups import EFFECTIVE

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
    def active_rate(self) -> float | None:
        """主动评价率: ratings made by citizens (no 系统默认评价) per prompted case."""
        return _share(self.active_n, self.prompted)

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
    """All figures of the period [first, last] (China dates) within the scope (and department, if given).

    Whole months are read from the monthly rollups, the days of partial months from the daily ones, the trend
    from the per-day trend rollups (by month: from the monthly ones): a year is twelve monthly reads, not 365 days
    of buckets."""
    department = scope.department_filter(department)
    board = Dashboard(first, last, department, Figures(), defaultdict(int), defaultdict(int), [], *_tables(4))
    spans = month_spans(conn, first, last)
    for dept, window, clerk, matter, channel, level, status, n in reads.rating_counts(conn, spans, department):
        _add_rating(board, dept, window, clerk, matter, channel, level, status, n)
    for dept, window, clerk, matter, prompted, rated, default_only in reads.case_counts(conn, spans, department):
        for figures in _figures_of(board, dept, window, clerk, matter):
            figures.add_cases(prompted or 0, rated or 0, default_only or 0)
    board.trend = _trend(conn, first, last, department, granularity, spans)
    return board


month_spans = reads.month_spans


def _tables(k: int) -> list[dict[str, Figures]]:
    return [defaultdict(Figures) for _ in range(k)]


def _figures_of(board: Dashboard, dept: str, window: str, clerk: str, matter: str) -> tuple[Figures, ...]:
    return (
        board.total,
        board.by_department[dept],
        board.by_window[window],
        board.by_clerk[clerk],
        board.by_matter[matter],
    )


def _add_rating(board: Dashboard, dept, window, clerk, matter, channel: int, level: int, status: str, n) -> None:
    if not n:
        return
    if status != EFFECTIVE:
        board.left_out[status] += n
        return
    board.by_channel[channel] += n
    for figures in _figures_of(board, dept, window, clerk, matter):
        figures.add_rating(channel, level, n)


def bucket_of(day: str, granularity: str) -> str:
    if granularity == "month":
        return day[:7]
    if granularity == "week":
        d = date.fromisoformat(day)
        return (d - timedelta(days=d.weekday())).isoformat()
    return day


def _trend(conn, first: date, last: date, department: str | None, granularity: str, spans) -> list[tuple[str, Figures]]:
    buckets: dict[str, Figures] = {}
    d = first
    while d <= last:
        buckets.setdefault(bucket_of(d.isoformat(), granularity), Figures())
        d += timedelta(days=1)
    read = spans if granularity == "month" else ([], [(first, last)])  # whole months serve a monthly trend only
    for key, channel, level, n in reads.trend_ratings(conn, read, department):
        buckets[bucket_of(key, granularity)].add_rating(channel, level, n or 0)
    for key, prompted, rated, default_only in reads.trend_cases(conn, read, department):
        buckets[bucket_of(key, granularity)].add_cases(prompted or 0, rated or 0, default_only or 0)
    return sorted(buckets.items())


# ---------------------------------------------------------------- rankings


def ranking(
    table: dict[str, Figures], min_ratings: int, top: int = 10, verified_bad: dict[str, int] | None = None
) -> list[tuple[str, Figures]]:
    """Best first by 主动评价好评率 (系统默认评价 left out: an unrated case says nothing of the service), then the
    number of 主动评价, then fewer 差评 verified 属实; only those with ``min_ratings`` 主动评价 or more."""
    verified_bad = verified_bad or {}
    eligible = [(k, f) for k, f in table.items() if k and f.active_n >= min_ratings]
    eligible.sort(key=lambda kf: (-(kf[1].active_good_rate or 0), -kf[1].active_n, verified_bad.get(kf[0], 0), kf[0]))
    return eligible[:top]


def repeated_bad(bad: dict, threshold: int) -> list[tuple[str, object]]:
    """Clerks with ``threshold`` or more 差评 verified 属实 in the period (篇10: "多次受到差评…经查核属实"), most
    first; ``bad`` maps a clerk to its ``workflow.stats.ClerkBad``."""
    rows = [(k, b) for k, b in bad.items() if k and b.verified >= threshold]
    rows.sort(key=lambda kb: (-kb[1].verified, kb[0]))
    return rows


def unverified_bad(bad: dict) -> list[tuple[str, object]]:
    """Clerks with 差评 not verified yet (待核实), shown apart from the verified ones, most first."""
    rows = [(k, b) for k, b in bad.items() if k and b.unverified]
    rows.sort(key=lambda kb: (-kb[1].unverified, kb[0]))
    return rows
