"""The rollups the dashboard reads (write side), kept in step with ingest in the same transaction.

``rating_rollup``: China day × department × window × clerk × matter × channel × level × status → count, where
status is ``effective`` (counts), ``excluded`` (an appeal upheld), ``superseded``, ``follow_up`` (追评) or ``test``.
``case_rollup``: prompt day × department × window × clerk × matter → prompted, rated, default-only cases.

Settling keeps the buckets by deltas: ``keep_rollups``, an after-settlement hook, adds what the settled cases
contribute after the pass minus what they contributed before it, both worked out from the state settling read once
(no query of its own beyond the buckets' upserts). An exclusion made or lifted takes ``rollup_snapshot(conn,
case_nos)`` before the change and ``apply_rollup_delta(conn, before, case_nos)`` after it. ``recompute_days``
rebuilds the buckets of given days from the stored rows, ``rebuild`` all of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy import Connection, and_, delete, func, or_, select, text

from haochaping.levels import CHANNEL_DEFAULT
from sync_server.configs import current_config
from sync_server.storage.bulk import execute_many, positional_sql
from sync_server.storage.cases import CaseState, Settlement, counted_window
from sync_server.storage.schema import (
    case_rollup,
    case_rollup_month,
    case_trend,
    cases,
    rating_exclusions,
    rating_rollup,
    rating_rollup_month,
    rating_trend,
    ratings,
    records,
)

CHINA = timezone(timedelta(hours=8), "CST")
_CHINA_OFFSET = timedelta(hours=8)
EFFECTIVE, EXCLUDED, SUPERSEDED, FOLLOW_UP, TEST = "effective", "excluded", "superseded", "follow_up", "test"
STATUS_LABELS = {
    EFFECTIVE: "有效评价",
    EXCLUDED: "不予采纳（申诉排除）",
    SUPERSEDED: "重复评价（不计）",
    FOLLOW_UP: "追评（不计入）",
    TEST: "测试评价",
}
TEST_MARK = '%"test": true%'
_departments_cache: dict[str, dict[str, str]] = {}  # configuration version (a content digest) → map


def china_day(iso: str) -> str:
    """The China (UTC+8) calendar date of an ISO time, as YYYY-MM-DD. A stored time (UTC, ``utc_iso``) before 16:00
    is on the day it is written with: that date is returned as written, without converting (settling asks this of
    every rating and case it touches)."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is UTC:
        if moment.hour < 16 and iso[4:5] == iso[7:8] == "-":  # YYYY-MM-DD...
            return iso[:10]
        return (moment + _CHINA_OFFSET).date().isoformat()  # the China wall clock, without a time zone conversion
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).date().isoformat()


def day_bounds(day: str | date) -> tuple[str, str]:
    """UTC ISO strings [start, end) of a China day, comparable with the database's time columns."""
    start = datetime.combine(date.fromisoformat(str(day)), datetime.min.time(), CHINA)
    return _iso(start), _iso(start + timedelta(days=1))


def period_bounds(first: date, last: date) -> tuple[str, str]:
    return day_bounds(first)[0], day_bounds(last)[1]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def department_of_windows(conn: Connection) -> dict[str, str]:
    """window code → department code, from the current configuration (cached per configuration version)."""
    cv = current_config(conn)
    if cv is None:
        return {}
    if cv.version not in _departments_cache:
        _departments_cache[cv.version] = {w.code: w.department for w in cv.config.hall.windows}
    return _departments_cache[cv.version]


def rating_status(role: str | None, excluded: bool, detail: str | None) -> str | None:
    """The rollup status of a rating; None while it is not settled yet (no ``ratings`` row)."""
    if role is None:
        return None
    if detail and '"test": true' in detail:
        return TEST
    if role == SUPERSEDED:
        return SUPERSEDED
    if excluded:
        return EXCLUDED
    return FOLLOW_UP if role == FOLLOW_UP else EFFECTIVE


def active_exclusion():
    """Rating ids with an exclusion not lifted (a subquery)."""
    return select(rating_exclusions.c.record_id).where(rating_exclusions.c.lifted_at.is_(None))


# ---------------------------------------------------------------- keeping buckets in step (deltas)


@dataclass(frozen=True)
class Snapshot:
    """What some cases contribute to the rollups at one moment (``ratings`` None: case counts only)."""

    case_nos: tuple[str, ...]
    ratings: Counter | None
    cases: Counter


def rollup_snapshot(conn: Connection, case_nos: Iterable[str], ratings_too: bool = True) -> Snapshot:
    """What these cases contribute to the rollups now. Take it BEFORE changing their ratings, cases or
    exclusions, then call ``apply_rollup_delta`` after: the difference is added to the buckets. Deltas commute,
    so concurrent transactions on PostgreSQL never overwrite each other's counts (each case is locked first).
    ``ratings_too=False`` when only case rows change (a prompt arrives): their ratings cannot move then."""
    wanted = tuple(sorted({c for c in case_nos if c}))
    if conn.dialect.name == "postgresql" and wanted:
        # one advisory lock per case, taken in sorted order: no deadlock between two ingests sharing cases
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(c)) FROM unnest(CAST(:cs AS text[])) AS c ORDER BY c"),
            {"cs": list(wanted)},
        )
    return _snapshot(conn, wanted, ratings_too)


def apply_rollup_delta(conn: Connection, before: Snapshot, case_nos: Iterable[str] | None = None) -> None:
    after = _snapshot(conn, before.case_nos, before.ratings is not None)
    if before.ratings is not None:
        rating_delta = Counter(after.ratings)
        rating_delta.subtract(before.ratings)
        _add_rating_counts(conn, {k: n for k, n in rating_delta.items() if n})
    case_delta = Counter(after.cases)
    case_delta.subtract(before.cases)
    _add_case_counts(conn, {k: n for k, n in case_delta.items() if n})


def keep_rollups(_store, conn: Connection, settlement: Settlement) -> None:
    """After-settlement hook: add to every bucket what the settled cases contribute now minus before."""
    departments = department_of_windows(conn)
    rating_delta: dict[tuple, int] = {}
    case_delta: dict[tuple, int] = {}
    for case_no, before in settlement.before.items():
        for state, sign in ((before, -1), (settlement.after[case_no], 1)):
            for key in _rating_keys(state, departments):
                rating_delta[key] = rating_delta.get(key, 0) + sign
            for key, n in _case_keys(state, departments):
                case_delta[key] = case_delta.get(key, 0) + sign * n
    _add_rating_counts(conn, {k: n for k, n in rating_delta.items() if n})
    _add_case_counts(conn, {k: n for k, n in case_delta.items() if n})


def _rating_keys(state: CaseState, departments: dict) -> list[tuple]:
    """The bucket of each settled rating of a case, as ``_rating_counts`` finds it in the database."""
    keys = []
    for r in state.ratings:
        if r.role is None:  # not settled yet (no bucket): a new case's rating before its settling pass
            continue
        status = rating_status(r.role, r.excluded, r.detail)
        row = state.row or {}
        clerk = r.clerk_no if r.clerk_no is not None else row.get("clerk_no")
        matter = r.matter_code if r.matter_code is not None else row.get("matter_code")
        w = r.window or ""
        day = china_day(r.rated_at)
        keys.append((day, departments.get(w, ""), w, clerk or "", matter or "", r.channel or 0, r.level, status))
    return keys


def _case_keys(state: CaseState, departments: dict) -> list[tuple[tuple, int]]:
    """The case buckets of a case, as ``_case_counts`` finds them in the database."""
    row = state.row
    if row is None or row["prompted_at"] is None:
        return []
    rated = defaulted = False
    for r in state.ratings:
        if r.role is not None:  # settled
            if r.channel == CHANNEL_DEFAULT:
                defaulted = True
            else:
                rated = True
    w = row["window"] or ""
    day, clerk, matter = china_day(row["prompted_at"]), row["clerk_no"] or "", row["matter_code"] or ""
    department = departments.get(w, "")
    return [
        ((day, department, w, clerk, matter, "prompted"), 1),
        ((day, department, w, clerk, matter, "rated"), int(rated)),
        ((day, department, w, clerk, matter, "default_only"), int(defaulted and not rated)),
    ]


def _snapshot(conn: Connection, case_nos: tuple[str, ...], ratings_too: bool) -> Snapshot:
    departments = department_of_windows(conn)
    rating_counts: Counter | None = Counter() if ratings_too else None
    case_counts: Counter = Counter()
    for chunk in _chunks(list(case_nos), 500):
        if rating_counts is not None:
            rating_counts.update(_rating_counts(conn, records.c.case_no.in_(chunk), departments))
        case_counts.update(_case_counts(conn, cases.c.case_no.in_(chunk), departments))
    return Snapshot(case_nos, rating_counts, case_counts)


def cases_of_records(conn: Connection, record_ids: Iterable[str]) -> set[str]:
    """The case numbers of these ratings, for ``rollup_snapshot``/``apply_rollup_delta`` around an exclusion."""
    ids = sorted(set(record_ids))
    case_nos: set[str] = set()
    for chunk in _chunks(ids, 500):
        case_nos |= {r.case_no for r in conn.execute(select(records.c.case_no).where(records.c.id.in_(chunk)))}
    return {c for c in case_nos if c}


def _upsert(conn: Connection, table, rows: list[tuple], counts: tuple[str, ...]) -> None:
    """Add ``rows`` (a bucket's key columns, then its ``counts``) to the buckets of ``table``."""

    def build():
        from sqlalchemy.dialects import postgresql, sqlite

        stmt = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
        keys = [c.name for c in table.primary_key.columns]
        return stmt.on_conflict_do_update(index_elements=keys, set_={c: table.c[c] + stmt.excluded[c] for c in counts})

    columns = (*(c.name for c in table.primary_key.columns), *counts)
    execute_many(conn, positional_sql(conn, f"rollups.add.{table.name}", build, columns), rows)


RATING_COLUMNS = ("department", "window", "clerk_no", "matter_code", "channel", "level", "status")
CASE_COLUMNS = ("department", "window", "clerk_no", "matter_code")
CASE_COUNTS = ("prompted", "rated", "default_only")


def project_ratings(counts: dict) -> dict:
    """Full daily rating keys → {table: Counter of that table's keys} (daily, monthly, trend)."""
    month: Counter = Counter()
    trend: Counter = Counter()
    for k, n in counts.items():
        month[(k[0][:7],) + k[1:]] += n
        trend[(k[0], k[1], k[5], k[6], k[7])] += n
    return {rating_rollup: Counter(counts), rating_rollup_month: month, rating_trend: trend}


def project_cases(counts: dict) -> dict:
    """Full daily case keys (… , field) → {table: Counter} (daily, monthly, trend)."""
    month: Counter = Counter()
    trend: Counter = Counter()
    for k, n in counts.items():
        month[(k[0][:7],) + k[1:]] += n
        trend[(k[0], k[1], k[5])] += n
    return {case_rollup: Counter(counts), case_rollup_month: month, case_trend: trend}


def _add_rating_counts(conn: Connection, counts: dict) -> None:
    for table, projected in project_ratings(counts).items():
        rows = [(*k, n) for k, n in projected.items() if n]
        if rows:
            _upsert(conn, table, rows, ("n",))


def _add_case_counts(conn: Connection, counts: dict) -> None:
    for table, projected in project_cases(counts).items():
        by_key: dict[tuple, dict] = {}
        for k, n in projected.items():
            by_key.setdefault(k[:-1], dict.fromkeys(CASE_COUNTS, 0))[k[-1]] += n
        rows = [(*k, *(v[c] for c in CASE_COUNTS)) for k, v in by_key.items() if any(v.values())]
        if rows:
            _upsert(conn, table, rows, CASE_COUNTS)


def recompute_days(conn: Connection, days: Iterable[str | date]) -> None:
    """Recompute every bucket of these China days from the stored rows (a repair; ingest keeps them by deltas):
    the difference to what the daily rollups hold is added to every rollup."""
    departments = department_of_windows(conn)
    for day in sorted({str(d) for d in days}):
        start, end = day_bounds(day)
        in_day = and_(records.c.occurred_at >= start, records.c.occurred_at < end)
        rating_delta = _rating_counts(conn, in_day, departments)
        for r in conn.execute(select(rating_rollup).where(rating_rollup.c.day == day)):
            rating_delta[(r.day, *(getattr(r, c) for c in RATING_COLUMNS))] -= r.n
        case_delta = _case_counts(conn, and_(cases.c.prompted_at >= start, cases.c.prompted_at < end), departments)
        for r in conn.execute(select(case_rollup).where(case_rollup.c.day == day)):
            for field in CASE_COUNTS:
                case_delta[(r.day, *(getattr(r, c) for c in CASE_COLUMNS), field)] -= getattr(r, field)
        _add_rating_counts(conn, {k: n for k, n in rating_delta.items() if n})
        _add_case_counts(conn, {k: n for k, n in case_delta.items() if n})


def rebuild(conn: Connection) -> int:
    """Recompute every rollup from the stored ratings and cases; returns the number of days."""
    days = {china_day(r[0]) for r in conn.execute(select(records.c.occurred_at).where(records.c.kind == "rating"))}
    days |= {china_day(r[0]) for r in conn.execute(select(cases.c.prompted_at).where(cases.c.prompted_at.is_not(None)))}
    for table in (rating_rollup, rating_rollup_month, rating_trend, case_rollup, case_rollup_month, case_trend):
        conn.execute(delete(table))
    recompute_days(conn, days)
    return len(days)


def _rating_counts(conn: Connection, where, departments: dict) -> Counter:
    excluded = active_exclusion().where(rating_exclusions.c.record_id == records.c.id).exists()
    query = (
        select(
            records.c.occurred_at,
            counted_window().label("counted_window"),
            func.coalesce(records.c.clerk_no, cases.c.clerk_no).label("clerk_no"),
            func.coalesce(records.c.matter_code, cases.c.matter_code).label("matter_code"),
            records.c.channel,
            records.c.level,
            records.c.detail,
            ratings.c.role,
            excluded.label("excluded"),
        )
        .select_from(records)
        .outerjoin(ratings, ratings.c.record_id == records.c.id)
        .outerjoin(cases, cases.c.case_no == records.c.case_no)
        .where(records.c.kind == "rating", records.c.level.is_not(None), where)
    )
    counts: Counter = Counter()
    for r in conn.execute(query):
        w = r.counted_window or ""
        status = rating_status(r.role, bool(r.excluded), r.detail)
        if status is None:
            continue
        key = (
            china_day(r.occurred_at),
            departments.get(w, ""),
            w,
            r.clerk_no or "",
            r.matter_code or "",
            r.channel or 0,
            r.level,
            status,
        )
        counts[key] += 1
    return counts


def _case_counts(conn: Connection, where, departments: dict) -> Counter:
    real = select(ratings.c.record_id).where(
        ratings.c.case_no == cases.c.case_no, or_(ratings.c.channel.is_(None), ratings.c.channel != CHANNEL_DEFAULT)
    )
    default = select(ratings.c.record_id).where(
        and_(ratings.c.case_no == cases.c.case_no, ratings.c.channel == CHANNEL_DEFAULT)
    )
    query = select(
        cases.c.prompted_at,
        cases.c.window,
        cases.c.clerk_no,
        cases.c.matter_code,
        real.exists().label("rated"),
        default.exists().label("defaulted"),
    ).where(cases.c.prompted_at.is_not(None), where)
    counts: Counter = Counter()
    for c in conn.execute(query):
        w = c.window or ""
        key = (china_day(c.prompted_at), departments.get(w, ""), w, c.clerk_no or "", c.matter_code or "")
        rated, defaulted = bool(c.rated), bool(c.defaulted)
        counts[key + ("prompted",)] += 1
        counts[key + ("rated",)] += int(rated)
        counts[key + ("default_only",)] += int(defaulted and not rated)
    return counts


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]
