"""``GET /console/integrity``: what the server flagged on ingest (sequence gaps, broken hash links, reused sequence
numbers, conflicting content) and what it computes for review: bursts of top ratings seconds apart on one terminal,
ratings given faster after the prompt than a person can read, and per clerk and day the 刷好评 signals of 篇5【篇三】
(staff-typed case numbers, ratings seconds after the prompt, one phone rating many cases, ratings outside office
hours). Every signal only lists ratings for review: none is ever refused or left out of the figures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import APIRouter, Request
from sqlalchemy import Connection

from sync_server.configs import current_rules
from sync_server.console.accounts import Scope
from sync_server.console.auth import OverseerUser
from sync_server.console.period import parse_period, whole_period
from sync_server.console.settings import ConsoleSettings
from sync_server.storage import devices as stored_devices
from sync_server.storage import integrity as stored
from sync_server.storage.rollups import day_bounds


@dataclass(frozen=True)
class Burst:
    device_id: str
    window: str | None
    first_at: str
    last_at: str
    record_ids: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return (datetime.fromisoformat(self.last_at) - datetime.fromisoformat(self.first_at)).total_seconds()


@dataclass(frozen=True)
class FastRating:
    record_id: str
    device_id: str
    window: str | None
    level: int
    occurred_at: str
    seconds: float


def find_bursts(rows: list, window_s: float, min_count: int) -> list[Burst]:
    """Runs of ``min_count`` or more 非常满意 ratings on one device, each within ``window_s`` of the run's first
    (pure: ``rows`` are (id, device_id, window, occurred_at, level) ordered by device and time)."""
    bursts: list[Burst] = []
    run: list = []

    def close() -> None:
        if len(run) >= min_count:
            bursts.append(Burst(run[0][1], run[0][2], run[0][3], run[-1][3], tuple(r[0] for r in run)))

    for row in rows:
        if row[4] != 5:
            continue
        if run and (row[1] != run[0][1] or _gap(run[0][3], row[3]) > window_s):
            close()
            run = []
        run.append(row)
    close()
    return bursts


def _gap(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


def find_fast(rows: list, min_read_s: float) -> list[FastRating]:
    """Ratings whose time after the prompt is below a human reading time (pure)."""
    out = []
    for rid, device_id, window, occurred_at, level, prompted_at in rows:
        if prompted_at:
            seconds = _gap(prompted_at, occurred_at)
            if 0 <= seconds < min_read_s:
                out.append(FastRating(rid, device_id, window, level, occurred_at, seconds))
    return out


STAFF_TYPED = (
    "staff",
    "cli",
)  # trigger sources where the clerk typed the case number (not a scan, not the case system)


def burst_window_s(settings: ConsoleSettings, min_prompt_interval_s: int) -> float:
    """How close together ``burst_min_ratings`` top ratings must be to look like self-rating: the configured window
    plus the least time a terminal needs to prompt that many times (``min_prompt_interval_s`` apart). With the
    default 20-second interval a window of 60 s alone could never hold 5 ratings."""
    return settings.burst_window_s + (settings.burst_min_ratings - 1) * min_prompt_interval_s


def find_quick_runs(rows: list, quick_s: float, min_count: int) -> list[Burst]:
    """Runs of ``min_count`` or more consecutive ratings on one device, each made within ``quick_s`` of its prompt
    on a staff-typed case number (pure: ``rows`` are ``RatingRow`` ordered by device and time)."""
    runs: list[Burst] = []
    run: list = []

    def close() -> None:
        if len(run) >= min_count:
            runs.append(Burst(run[0].device_id, run[0].window, run[0].occurred_at, run[-1].occurred_at,
                              tuple(r.id for r in run)))  # fmt: skip

    for row in rows:
        if run and row.device_id != run[0].device_id:
            close()
            run = []
        if _quick(row, quick_s) and _source(row) in STAFF_TYPED:
            run.append(row)
        else:
            close()
            run = []
    close()
    return runs


@dataclass
class ClerkDay:
    """The 刷好评 signals of one clerk on one China day (篇5【篇三】): how many ratings were on case numbers the
    clerk typed, and how many came seconds after the prompt."""

    clerk_no: str
    day: str
    ratings: int = 0
    staff_typed: int = 0
    quick: int = 0
    top: int = 0

    @property
    def staff_typed_share(self) -> float:
        return self.staff_typed / self.ratings if self.ratings else 0.0


def clerk_days(rows: list, quick_s: float) -> list[ClerkDay]:
    """Each clerk-day with any staff-typed or quick rating, the most quick ratings first (pure)."""
    from sync_server.storage.rollups import china_day

    days: dict[tuple[str, str], ClerkDay] = {}
    for row in rows:
        key = (row.clerk_no or "", china_day(row.occurred_at))
        d = days.setdefault(key, ClerkDay(*key))
        d.ratings += 1
        d.staff_typed += _source(row) in STAFF_TYPED
        d.quick += _quick(row, quick_s)
        d.top += row.level == 5
    shown = [d for d in days.values() if d.staff_typed or d.quick]
    return sorted(shown, key=lambda d: (-d.quick, -d.staff_typed, d.day, d.clerk_no))


def _quick(row, quick_s: float) -> bool:
    return bool(row.prompted_at) and 0 <= _gap(row.prompted_at, row.occurred_at) <= quick_s


def _source(row) -> str | None:
    try:
        return json.loads(row.detail or "{}").get("source")
    except ValueError:
        return None


def review(conn: Connection, scope: Scope, start: str, end: str, settings: ConsoleSettings):
    """Flags, bursts and fast ratings of the period within the scope."""
    device_windows = stored_devices.device_windows(conn)
    flags = [f for f in stored.flags_between(conn, start, end) if scope.allows_window(device_windows.get(f.device_id))]
    flags = [with_filled(conn, f) for f in flags]
    conflicts = {
        c.record_id: c
        for c in stored.conflicts_since(conn, start)
        if scope.allows_window(device_windows.get(c.device_id))
    }
    rows = stored.terminal_ratings(conn, scope, start, end)
    window_s = burst_window_s(settings, current_rules(conn).min_prompt_interval_s)
    bursts = find_bursts([r[:5] for r in rows], window_s, settings.burst_min_ratings)
    bursts += find_quick_runs(rows, settings.quick_rating_s, settings.burst_min_ratings)
    fast = find_fast([r[:6] for r in rows], settings.min_read_s)
    return flags, conflicts, bursts, fast


def clerk_signals(conn: Connection, scope: Scope, start: str, end: str, settings: ConsoleSettings) -> list[ClerkDay]:
    """The per-clerk, per-day 刷好评 signals of the period within the scope."""
    return clerk_days(stored.clerk_rating_rows(conn, scope, start, end), settings.quick_rating_s)


@dataclass
class PhoneDay:
    """One phone (its hashed cookie mark) that rated more than the configured number of one clerk's cases on one
    China day (篇5【篇三】: ratings made for the citizens by someone else)."""

    clerk_no: str | None
    day: str
    phone: str
    ratings: list = field(default_factory=list)

    @property
    def cases(self) -> int:
        return len({r.case_no or r.id for r in self.ratings})

    @property
    def top(self) -> int:
        return sum(r.level == 5 for r in self.ratings)


def many_case_phones(rows: list, max_cases: int) -> list[PhoneDay]:
    """Phones that rated more than ``max_cases`` cases of one clerk on one day, the most cases first (pure: ``rows``
    are ``storage.integrity.PersonRating``)."""
    from sync_server.storage.rollups import china_day

    days: dict[tuple, PhoneDay] = {}
    for row in rows:
        if row.phone:
            key = (row.clerk_no, china_day(row.occurred_at), row.phone)
            days.setdefault(key, PhoneDay(*key)).ratings.append(row)
    shown = [d for d in days.values() if d.cases > max_cases]
    return sorted(shown, key=lambda d: (-d.cases, d.day, d.clerk_no or "", d.phone))


@dataclass(frozen=True)
class OffHours:
    """A rating made outside office hours: ``why`` is 非工作日 or 办公时间外."""

    rating: object
    why: str


@dataclass
class OffHoursDay:
    """One clerk's ratings of one China day made outside office hours or on a non-working day, at the terminal and
    by phone."""

    clerk_no: str | None
    day: str
    ratings: list[OffHours] = field(default_factory=list)

    @property
    def kiosk(self) -> int:
        return sum(o.rating.source == "device" for o in self.ratings)

    @property
    def phone(self) -> int:
        return sum(o.rating.source == "qr" for o in self.ratings)

    @property
    def top(self) -> int:
        return sum(o.rating.level == 5 for o in self.ratings)


def off_hours_reason(occurred_at: str, sessions, is_working_day, grace_minutes: int) -> str | None:
    """None for a moment within office hours (a session ± ``grace_minutes`` on a working day), else why not
    (pure: ``sessions`` have ``start`` and ``end`` China times, ``is_working_day`` takes a date)."""
    from datetime import UTC, timedelta

    from sync_server.console.labels import CHINA

    moment = datetime.fromisoformat(occurred_at)
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(CHINA)
    if not is_working_day(local.date()):
        return "非工作日"
    grace = timedelta(minutes=grace_minutes)
    for session in sessions:
        start = datetime.combine(local.date(), session.start, tzinfo=CHINA) - grace
        end = datetime.combine(local.date(), session.end, tzinfo=CHINA) + grace
        if start <= local < end:
            return None
    return "办公时间外"


def off_hours_days(rows: list, sessions, is_working_day, grace_minutes: int) -> list[OffHoursDay]:
    """Each clerk-day with ratings made outside office hours, the most first (pure: ``rows`` are
    ``storage.integrity.PersonRating``)."""
    from sync_server.storage.rollups import china_day

    days: dict[tuple, OffHoursDay] = {}
    for row in rows:
        why = off_hours_reason(row.occurred_at, sessions, is_working_day, grace_minutes)
        if why:
            key = (row.clerk_no, china_day(row.occurred_at))
            days.setdefault(key, OffHoursDay(*key)).ratings.append(OffHours(row, why))
    return sorted(days.values(), key=lambda d: (-d.kiosk, -len(d.ratings), d.day, d.clerk_no or ""))


def people_signals(conn: Connection, scope: Scope, start: str, end: str, settings: ConsoleSettings):
    """(phones rating many cases, ratings outside office hours) of the period within the scope."""
    from sync_server.assessment.rules import current_rules as assessment_rules
    from sync_server.workflow.deadlines import calendar_of

    rows = stored.people_ratings(conn, start, end, scope.window_condition)
    sessions, calendar = assessment_rules(conn).attendance.sessions, calendar_of(conn)
    off = off_hours_days(rows, sessions, calendar.is_working_day, settings.office_hours_grace_minutes)
    return many_case_phones(rows, settings.phone_max_cases), off


def office_hours_label(conn: Connection) -> str:
    """The office hours as the page states them, e.g. 09:00–12:00、13:00–17:00."""
    from sync_server.assessment.rules import current_rules as assessment_rules

    sessions = assessment_rules(conn).attendance.sessions
    return "、".join(f"{s.start:%H:%M}–{s.end:%H:%M}" for s in sessions)


@dataclass(frozen=True)
class BadTapsWithoutReason:
    """Per clerk: bad levels tapped at the kiosk and left without a reason (counted as 差评, or held for review)."""

    clerk_no: str | None
    counted: int
    held: int


def bad_taps_without_reason(conn: Connection, scope: Scope, start: str, end: str) -> list[BadTapsWithoutReason]:
    tally: dict[str | None, list[int]] = {}
    for clerk_no, detail in stored.bad_taps_without_reason(conn, scope, start, end):
        held = json.loads(detail or "{}").get("bad_without_reason") == "hold"
        tally.setdefault(clerk_no, [0, 0])[held] += 1
    rows = [BadTapsWithoutReason(c, n[0], n[1]) for c, n in tally.items()]
    return sorted(rows, key=lambda b: (-(b.counted + b.held), b.clerk_no or ""))


@dataclass(frozen=True)
class Flag:
    """An integrity flag as the page shows it; ``filled`` when the record a gap missed has arrived since."""

    row: object
    filled: bool

    def __getattr__(self, name: str):
        return getattr(self.row, name)


def with_filled(conn: Connection, flag) -> Flag:
    if flag.kind != "gap" or flag.seq is None:
        return Flag(flag, False)
    return Flag(flag, stored.seq_arrived(conn, flag.device_id, flag.seq - 1))


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/integrity")
    def integrity_page(request: Request, viewer: OverseerUser):
        from sync_server.closedcases.reconcile import unreported_cases
        from sync_server.closedcases.views import case_settings
        from sync_server.console.context import console_settings
        from sync_server.console.labels import FLAG_LABELS
        from sync_server.console.pages import page
        from sync_server.storage import closed_cases as closed_case_storage

        q = request.query_params
        now = request.app.state.clock()
        start_default = q.get("from") or ("" if q.get("month") else _week_before(now))
        period = parse_period(now, start_default, q.get("to"), whole_period(q))
        settings = console_settings(request.app)
        start, end = day_bounds(period.first)[0], day_bounds(period.last)[1]
        with request.app.state.store.read() as conn:
            flags, conflicts, bursts, fast = review(conn, viewer.scope, start, end, settings)
            signals = clerk_signals(conn, viewer.scope, start, end, settings)
            window_s = burst_window_s(settings, current_rules(conn).min_prompt_interval_s)
            unreported = unreported_cases(conn, viewer.scope, start, end, now, case_settings(request.app))
            connected = closed_case_storage.connected(conn)
            no_reason = bad_taps_without_reason(conn, viewer.scope, start, end)
            phones, off_hours = people_signals(conn, viewer.scope, start, end, settings)
            office_hours = office_hours_label(conn)
        return page(
            request,
            "integrity.html",
            viewer,
            period=period,
            flags=flags,
            conflicts=conflicts,
            bursts=bursts,
            burst_window_s=window_s,
            signals=signals,
            fast=fast,
            no_reason=no_reason,
            phones=phones,
            off_hours=off_hours,
            office_hours=office_hours,
            settings=settings,
            flag_labels=FLAG_LABELS,
            unreported=unreported,
            case_system_connected=connected,
            case_settings=case_settings(request.app),
        )

    return r


def _week_before(now: datetime) -> str:
    """The default review window: the last seven days (the burst scan reads every device rating of the period)."""
    from datetime import timedelta

    from sync_server.console.labels import china_today

    return (china_today(now) - timedelta(days=6)).isoformat()
