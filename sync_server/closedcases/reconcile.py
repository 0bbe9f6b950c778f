"""The reconciliation of the case system's closed cases with the prompts and ratings of the period:

- 漏评: closed cases never prompted on their window's kiosk within ``prompt_within_minutes`` after closing, counted
  per window and per clerk (a clerk who never presses the button is the first sign of 刷好评/删差评);
- 参评率/未评率 over the closed cases (the dashboard's figures are over the prompted cases; both are shown);
- 办件系统无此件: case numbers prompted at a kiosk that the case system has not reported after the grace period;
- 限时办结 (篇6, 篇8): each case's due date is the ``promised_days``-th working day after the day of acceptance (the
  day itself not counted, 调休 respected); 按时办结率 of the cases closed in the period, the late ones per department
  and matter, and the open cases past or near their due date with the 黄牌/红牌 of the 差评 workflow.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Connection

from haochaping.config import Hall, HallConfig
from sync_server.closedcases.settings import CaseFeedSettings
from sync_server.console.accounts import Scope
from sync_server.storage import closed_cases as storage
from sync_server.storage.rollups import china_day
from sync_server.storage.schema import closed_cases, utc_iso
from sync_server.workdays import WorkdayCalendar
from sync_server.workflow.deadlines import RED, YELLOW, calendar_of

NOT_CONNECTED = "办件系统未接入：参评率按评价器发起评价的办件计算，漏评、办件系统无此件和限时办结无法统计"


@dataclass(frozen=True)
class CaseLine:
    """One case of the case system as a list shows it."""

    case_no: str
    window: str
    clerk_no: str
    department: str | None
    matter_code: str
    accepted_at: str
    closed_at: str | None
    due: date | None = None
    confirmed: bool = True
    card: str | None = None


@dataclass
class Reconciliation:
    connected: bool
    closed: int = 0  # cases closed in the period
    prompted: int = 0  # of those, prompted on their window's kiosk in time
    rated: int = 0  # of those, rated by a citizen
    missed: list[CaseLine] = field(default_factory=list)  # 漏评
    missed_by_window: Counter = field(default_factory=Counter)
    missed_by_clerk: Counter = field(default_factory=Counter)
    with_due: int = 0  # closed in the period with a committed time limit
    on_time: int = 0
    late: list[CaseLine] = field(default_factory=list)
    late_by_department_matter: Counter = field(default_factory=Counter)
    yellow: list[CaseLine] = field(default_factory=list)
    red: list[CaseLine] = field(default_factory=list)
    unreported: list = field(default_factory=list)  # 办件系统无此件
    pending: int = 0  # closed too recently to say whether it was prompted

    @property
    def participation_rate(self) -> float | None:
        """参评率 over the closed cases."""
        return self.rated / self.closed if self.closed else None

    @property
    def unrated_rate(self) -> float | None:
        return (self.closed - self.rated) / self.closed if self.closed else None

    @property
    def on_time_rate(self) -> float | None:
        """按时办结率 of the cases closed in the period that have a committed time limit."""
        return self.on_time / self.with_due if self.with_due else None


def due_of(row, hall: Hall, calendar: WorkdayCalendar):
    """The working-day deadline of a case (None when neither the case system nor the matter says the limit)."""
    days = row.promised_days or next((m.promised_days for m in hall.matters if m.code == row.matter_code), None)
    if not days:
        return None
    return calendar.add_working_days(date.fromisoformat(china_day(row.accepted_at)), days)


def card_of(due: date, today: date, yellow_days: int, calendar: WorkdayCalendar) -> str | None:
    """红牌 past the due date, 黄牌 within ``yellow_days`` working days of it (as the 差评 workflow's cards)."""
    if today > due:
        return RED
    if calendar.working_days_between(today, due) <= yellow_days:
        return YELLOW
    return None


def _line(row, deadline=None, card: str | None = None) -> CaseLine:
    return CaseLine(
        row.case_no,
        row.window,
        row.clerk_no,
        row.department,
        row.matter_code,
        row.accepted_at,
        row.closed_at,
        deadline.due if deadline else None,
        deadline.confirmed if deadline else True,
        card,
    )


def reconcile(
    conn: Connection,
    scope: Scope,
    start: str,
    end: str,
    now: datetime,
    config: HallConfig | None,
    settings: CaseFeedSettings,
    today: date,
) -> Reconciliation:
    """The period [start, end) (UTC ISO bounds) within the viewer's scope; ``today`` is the day cards are for."""
    if config is None or not storage.connected(conn):
        return Reconciliation(connected=False)
    found, hall = Reconciliation(connected=True), config.hall
    window_condition = scope.window_condition(closed_cases.c.window)
    calendar = calendar_of(conn)
    within = timedelta(minutes=settings.prompt_within_minutes)
    for row in storage.closed_between(conn, start, end, window_condition):
        _count_closed(found, row, within, now, hall, calendar)
    yellow_days = config.rules.deadlines.yellow_card_days
    for row in storage.still_open(conn, window_condition):
        deadline = due_of(row, hall, calendar)
        card = card_of(deadline.due, today, yellow_days, calendar) if deadline else None
        if card:
            (found.red if card == RED else found.yellow).append(_line(row, deadline, card))
    found.unreported = unreported_cases(conn, scope, start, end, now, settings)
    return found


def _count_closed(found: Reconciliation, row, within: timedelta, now: datetime, hall, calendar) -> None:
    closed_at = datetime.fromisoformat(row.closed_at)
    found.closed += 1
    found.rated += bool(row.rated)
    in_time = (
        row.prompted_at is not None
        and row.prompted_window == row.window
        and row.accepted_at <= row.prompted_at <= utc_iso(closed_at + within)
    )
    if in_time:
        found.prompted += 1
    elif closed_at + within > now:
        found.pending += 1
    else:
        found.missed.append(_line(row))
        found.missed_by_window[row.window] += 1
        found.missed_by_clerk[row.clerk_no] += 1
    deadline = due_of(row, hall, calendar)
    if deadline is not None:
        found.with_due += 1
        if china_day(row.closed_at) <= deadline.due.isoformat():
            found.on_time += 1
        else:
            found.late.append(_line(row, deadline))
            found.late_by_department_matter[(row.department, row.matter_code)] += 1


def unreported_cases(conn: Connection, scope: Scope, start: str, end: str, now: datetime, settings) -> list:
    from sync_server.storage.schema import cases

    covered = storage.coverage_start(conn)
    if covered is None:
        return []
    before = min(end, utc_iso(now - timedelta(hours=settings.unknown_case_grace_hours)))
    since = max(start, covered)
    if since >= before:
        return []
    return storage.unreported_prompts(conn, since, before, scope.window_condition(cases.c.window))
