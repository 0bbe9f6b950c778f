"""Figures of the 差评 workflow for the dashboard and the monthly report.

- yellow/red cards: open records whose pending step is nearly due / overdue (today, China date);
- 差评整改率 = rectified / substantiated (属实) records;
- 按时整改率 = rectified by the deadline / records whose rectification is judged: rectified, or overdue (red card)
  without rectification — a red card counts against it until the fix is done;
- 回访率 = return visits made / rectified records.
Records opened in the period (by the day the rating arrived) count; records whose appeal was upheld, and records
withdrawn because an earlier rating of the same case took their rating's place, have left the statistics with their
rating and are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection

from haochaping.config import DeadlineRules
from haochaping.workdays import WorkdayCalendar
from sync_server.configs import current_rules
from sync_server.workflow.cases import open_case_rows
from sync_server.workflow.deadlines import RED, YELLOW, StepDue, calendar_of, card, pending_due, step_dues
from sync_server.workflow.machine import UNFINISHED, State


@dataclass(frozen=True)
class CaseLine:
    case: object
    dues: list[StepDue]
    due: StepDue | None  # the pending step's deadline
    card: str | None

    @property
    def state(self) -> State:
        return State(self.case.state)


def line_of(row, today: date, rules: DeadlineRules, calendar: WorkdayCalendar) -> CaseLine:
    dues = step_dues(row, rules, calendar)
    back = State(row.return_state) if getattr(row, "return_state", None) else None
    due = pending_due(row, State(row.state), back, dues)
    return CaseLine(row, dues, due, card(due, today, rules, calendar))


def case_lines(conn: Connection, scope, today: date, states=None, **filters) -> list[CaseLine]:
    """Records with their deadlines and cards; ``filters`` as ``open_case_rows`` takes them."""
    rules, calendar = current_rules(conn).deadlines, calendar_of(conn)
    return [line_of(row, today, rules, calendar) for row in open_case_rows(conn, scope, states, **filters)]


@dataclass
class Handling:
    """The workflow figures of a period and scope."""

    opened: int = 0
    appealed_away: int = 0
    withdrawn: int = 0
    substantiated: int = 0
    unfounded: int = 0
    rectified: int = 0
    fix_judged: int = 0
    fixed_on_time: int = 0
    visited: int = 0
    yellow: list[CaseLine] = field(default_factory=list)
    red: list[CaseLine] = field(default_factory=list)

    @property
    def rectify_rate(self) -> float | None:
        return _share(self.rectified, self.substantiated)

    @property
    def on_time_rate(self) -> float | None:
        return _share(self.fixed_on_time, self.fix_judged)

    @property
    def revisit_rate(self) -> float | None:
        return _share(self.visited, self.rectified)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def handling(conn: Connection, scope, first: date, last: date, department: str | None, today: date) -> Handling:
    """Cards of every unfinished record in scope (any arrival day) and the rates of the records opened in the
    period: two indexed queries, never the whole history, and each record's deadlines worked out once."""
    figures = Handling()
    rules, calendar = current_rules(conn).deadlines, calendar_of(conn)
    unfinished = {}
    for row in open_case_rows(conn, scope, UNFINISHED, department=department):
        line = unfinished[row.id] = line_of(row, today, rules, calendar)
        if line.card:
            (figures.red if line.card == RED else figures.yellow).append(line)
    arrived = (first.isoformat(), last.isoformat())
    for row in open_case_rows(conn, scope, arrived=arrived, department=department):
        _count(figures, unfinished.get(row.id) or line_of(row, today, rules, calendar), today)
    return figures


def _count(figures: Handling, line: CaseLine, today: date) -> None:
    figures.opened += 1
    if line.state == State.UPHELD:
        figures.appealed_away += 1
        return
    if line.state == State.WITHDRAWN:
        figures.withdrawn += 1
        return
    fix = next((d for d in line.dues if d.step == "fix"), None)
    if fix is None:
        figures.unfounded += line.case.verified_at is not None
        return
    figures.substantiated += 1
    figures.rectified += fix.done_on is not None
    figures.visited += line.case.visited_at is not None
    if fix.done_on is not None or today > fix.due:
        figures.fix_judged += 1
        figures.fixed_on_time += bool(fix.on_time)


__all__ = ["RED", "YELLOW", "CaseLine", "Handling", "case_lines", "handling", "line_of"]
