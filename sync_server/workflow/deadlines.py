"""Working-day deadlines of a handling record and its yellow/red card, from the rules and the working-day calendar.

Each step's deadline counts from the next working day after the event that starts it (限时办结 rules):
  核实 (contact)   contact_days after the rating arrived
  整改 (fix)       simple_fix_days or complex_fix_days after the rating arrived (篇10: "2、5、15" all count from
                   receipt), or after the 属实 finding where the province rule ``fix_clock_from`` says ``verified``
  回访 (revisit)   revisit_days after the step that ended the handling: 整改 (属实) or 解释说明 (不属实); a 回访 that
                   reopens the handling (不满意) starts that step's clock again from the 回访
  解释说明         revisit_days after the same start as the fix (the citizen hears back as fast as after a fix)
While an appeal is open the deadlines keep running. A pending step due within ``yellow_card_days`` working days
carries a yellow card (黄牌), an overdue one a red card (红牌).

A step's deadline is kept on the record when its clock starts (``kept_due``), so a later change of the rules does
not move it; one that falls in a year whose official holiday schedule is not confirmed yet is computed afresh
until the schedule is loaded, and carries a warning meanwhile.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection

from haochaping.config import DeadlineRules
from haochaping.moments import china_today  # noqa: F401 - re-exported for the workflow views
from sync_server.storage.rollups import china_day
from sync_server.storage.schedules import schedule_contents
from sync_server.workdays import UNCONFIRMED_WARNING, OfficialSchedule, WorkdayCalendar
from sync_server.workflow.machine import State

YELLOW, RED = "yellow", "red"
CARD_LABELS = {YELLOW: "黄牌", RED: "红牌"}
FIX_CLOCK_LABELS = {"received": "自收到差评之日", "verified": "自核实之日"}
STEP_NAMES = {"contact": "核实（联系群众）", "fix": "整改", "revisit": "回访", "explain": "解释说明"}
PENDING_STEP = {
    State.PENDING: "contact",
    State.RECTIFYING: "fix",
    State.RECTIFIED: "revisit",
    State.UNFOUNDED: "explain",
    State.EXPLAINED: "revisit",
}


@dataclass(frozen=True)
class StepDue:
    step: str  # contact | fix | revisit | explain
    due: date
    done_on: date | None
    confirmed: bool

    @property
    def name(self) -> str:
        return STEP_NAMES[self.step]

    @property
    def on_time(self) -> bool | None:
        return None if self.done_on is None else self.done_on <= self.due

    @property
    def warning(self) -> str:
        return "" if self.confirmed else UNCONFIRMED_WARNING


def _day(iso: str | None) -> date | None:
    return date.fromisoformat(china_day(iso)) if iso else None


def step_days(rules: DeadlineRules, step: str, fix_kind: str | None = None) -> int:
    """How many working days a step has."""
    if step == "fix":
        return rules.complex_fix_days if fix_kind == "complex" else rules.simple_fix_days
    return {"contact": rules.contact_days, "revisit": rules.revisit_days, "explain": rules.revisit_days}[step]


def step_dues(case, rules: DeadlineRules, calendar: WorkdayCalendar) -> list[StepDue]:
    """Every deadline the record has so far (``case`` is a ``bad_cases`` row): the kept one where the record has
    it, else computed from the rules and calendar in force."""
    dues = [_due(case, calendar, "contact", _day(case.opened_at), rules.contact_days, _day(case.verified_at))]
    verified = _day(case.verified_at)
    start = _day(fix_clock_start(rules, case.opened_at, case.verified_at)) if verified else None
    if verified and case.fix_kind:
        days = step_days(rules, "fix", case.fix_kind)
        dues.append(_due(case, calendar, "fix", _reopened_start(case, start), days, _day(case.fixed_at)))
    elif verified:
        dues.append(_due(case, calendar, "explain", _reopened_start(case, start), rules.revisit_days,
                         _day(case.explained_at)))  # fmt: skip
    revisit_from = getattr(case, "revisit_from", None) or case.fixed_at
    if revisit_from and (case.fixed_at or case.explained_at):
        dues.append(_due(case, calendar, "revisit", _day(revisit_from), rules.revisit_days, _day(case.visited_at)))
    return dues


def _reopened_start(case, start: date) -> date:
    """整改 and 解释说明 count from the fix clock's start, or from the 回访 that reopened them (不满意)."""
    reopened = getattr(case, "reopened_at", None)
    return _day(reopened) if reopened else start


def fix_clock_start(rules: DeadlineRules, received_iso: str, verified_iso: str) -> str:
    """When the 整改 (or 解释说明) clock starts: the rating's arrival, or the 核实 finding (province rule)."""
    return verified_iso if rules.fix_clock_from == "verified" else received_iso


def _due(case, calendar: WorkdayCalendar, step: str, start: date, days: int, done: date | None) -> StepDue:
    kept = getattr(case, f"{step}_due", None)
    if kept:
        return StepDue(step, date.fromisoformat(kept), done, True)
    deadline = _add_working_days(calendar, start, days)
    return StepDue(step, deadline.due, done, deadline.confirmed)


def kept_due(
    rules: DeadlineRules, calendar: WorkdayCalendar, step: str, start_iso: str, fix_kind: str | None = None
) -> str | None:
    """The deadline to keep on the record for a step whose clock starts at ``start_iso`` (China date of it), or
    None when the calendar of that period is not confirmed yet (the deadline is then computed afresh)."""
    deadline = _add_working_days(calendar, _day(start_iso), step_days(rules, step, fix_kind))
    return deadline.due.isoformat() if deadline.confirmed else None


# Many records share their days: computing each deadline once per calendar keeps the dashboard fast.
@functools.lru_cache(maxsize=65536)
def _add_working_days(calendar: WorkdayCalendar, start: date, days: int):
    return calendar.add_working_days(start, days)


@functools.lru_cache(maxsize=65536)
def _working_days_between(calendar: WorkdayCalendar, start: date, end: date) -> int:
    return calendar.working_days_between(start, end)


def pending_due(case, state: State, return_state: State | None, dues: list[StepDue]) -> StepDue | None:
    """The deadline of the step the record waits for now (an open appeal keeps the clock of where it was)."""
    waiting = PENDING_STEP.get(return_state if state == State.APPEALING else state)
    return next((d for d in dues if d.step == waiting and d.done_on is None), None)


def card(due: StepDue | None, today: date, rules: DeadlineRules, calendar: WorkdayCalendar) -> str | None:
    """``red`` when overdue, ``yellow`` when due within ``yellow_card_days`` working days, else None."""
    if due is None:
        return None
    if today > due.due:
        return RED
    if _working_days_between(calendar, today, due.due) <= rules.yellow_card_days:
        return YELLOW
    return None


# ---------------------------------------------------------------- the calendar, with schedules loaded by admins

_CALENDARS: dict[tuple, WorkdayCalendar] = {}


def calendar_of(conn: Connection) -> WorkdayCalendar:
    """The calendar with every loaded official schedule (the newest of each year wins); cached by content."""
    latest = dict(schedule_contents(conn))
    key = tuple(sorted(latest.items()))
    if key not in _CALENDARS:
        _CALENDARS[key] = WorkdayCalendar([OfficialSchedule.model_validate_json(c) for c in latest.values()])
    return _CALENDARS[key]
