"""Figures of the 差评 workflow for the dashboard and the monthly report.

- yellow/red cards: open records whose pending step is nearly due / overdue (today, China date);
- 差评整改率 = rectified / substantiated (属实) records;
- 按时整改率 = rectified by the deadline / records whose rectification is judged: rectified, or overdue (red card)
  without rectification — a red card counts against it until the fix is done;
- 回访率 = records whose 回访 is done / records due for 回访 (属实 after 整改, 不属实 after 解释说明; 未能联系 counts
  as done); 回访满意率 = 回访 answered 满意 or 基本满意 / 回访 with an answer (``storage.revisits``);
- on time per step (核实（联系群众）, 整改, 回访): done by the step's deadline / steps judged (done, or overdue and
  not done), so a late 核实 shows in the contact rate even when the fix was quick; the 回访 step's counts are those
  of 回访率's records (属实 and 不属实 alike).
Records opened in the period (by the day the rating arrived) count; records whose appeal was upheld, and records
withdrawn because an earlier rating of the same case took their rating's place, have left the statistics with their
rating and are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection

from haochaping.config import DeadlineRules
from sync_server.configs import current_rules
from sync_server.storage import handling_reads as reads
from sync_server.storage import revisits as revisit_reads
from sync_server.storage.handling import open_case_rows
from sync_server.workdays import WorkdayCalendar
from sync_server.workflow.deadlines import (
    PENDING_STEP,
    RED,
    YELLOW,
    StepDue,
    calendar_of,
    card,
    pending_due,
    step_dues,
)
from sync_server.workflow.machine import State

# written beside the rates on the dashboard and in the reports
REVISIT_RATE_DEFINITION = (
    "已回访的差评工单 ÷ 应回访的差评工单（属实的整改完成后、不属实的解释说明后即应回访；未能联系计为已回访；"
    "申诉成立、已撤销的不计）"
)
SATISFACTION_RATE_DEFINITION = (
    "回答“满意”“基本满意”的回访 ÷ 有回答的回访（未能联系不计；因不满意退回重新办理的回访也计入）"
)


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
    """The workflow figures of a period and scope: the rates of the records opened in the period, and the cards of
    every unfinished record in scope (their counts, and the earliest ones as lines)."""

    opened: int = 0
    appealed_away: int = 0
    withdrawn: int = 0
    substantiated: int = 0
    unfounded: int = 0
    rectified: int = 0
    fix_judged: int = 0
    fixed_on_time: int = 0
    visited: int = 0
    contact_judged: int = 0
    contacted_on_time: int = 0
    revisit_judged: int = 0
    visited_on_time: int = 0
    revisit_due: int = 0  # records due for 回访
    answered: int = 0  # 回访 with an answer
    satisfied: int = 0  # 满意 + 基本满意
    unsatisfied: int = 0
    unreached: int = 0  # 回访 recorded 未能联系
    reopened: int = 0  # 回访 that reopened the handling (不满意)
    red_count: int = 0
    yellow_count: int = 0
    extended: int = 0  # records with an approved 延期 (judged against the extended deadline)
    yellow: list[CaseLine] = field(default_factory=list)  # the earliest due first (all, or as many as asked for)
    red: list[CaseLine] = field(default_factory=list)

    @property
    def rectify_rate(self) -> float | None:
        return _share(self.rectified, self.substantiated)

    @property
    def on_time_rate(self) -> float | None:
        return _share(self.fixed_on_time, self.fix_judged)

    @property
    def revisit_rate(self) -> float | None:
        """回访率: records whose 回访 is done / records due for 回访."""
        return _share(self.visited, self.revisit_due)

    @property
    def satisfaction_rate(self) -> float | None:
        """回访满意率: 回访 answered 满意 or 基本满意 / 回访 with an answer."""
        return _share(self.satisfied, self.answered)

    @property
    def step_rates(self) -> list[tuple[str, str, int, int, float | None]]:
        """(key, name, on time, judged, rate) of each step with a deadline: 核实（联系群众）, 整改, 回访."""
        steps = (
            ("contact", "核实（联系群众）", self.contacted_on_time, self.contact_judged),
            ("fix", "整改", self.fixed_on_time, self.fix_judged),
            ("revisit", "回访", self.visited_on_time, self.revisit_judged),
        )
        return [(key, name, done, judged, _share(done, judged)) for key, name, done, judged in steps]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def handling(
    conn: Connection,
    scope,
    first: date,
    last: date,
    department: str | None,
    today: date,
    cards: int | None = None,
) -> Handling:
    """Cards of every unfinished record in scope (any arrival day) and the rates of the records opened in the
    period. The database does the bulk with the deadlines kept on the records: it counts the red and yellow cards
    and hands over only the ``cards`` earliest of each (all when None), and adds up the period's rates from the
    handling rollups; records without a kept deadline (an unconfirmed holiday year) are worked out here."""
    figures = Handling()
    rules, calendar = current_rules(conn).deadlines, calendar_of(conn)
    cutoff = calendar.add_working_days(today, rules.yellow_card_days + 1).due  # the first day without a yellow card
    _add_kept_cards(conn, figures, scope, department, today, cutoff, cards)
    for row in reads.unfinished_without_kept_due(conn, scope, department):
        line = line_of(row, today, rules, calendar)
        if line.card == RED:
            figures.red_count += 1
            figures.red.append(line)
        elif line.card == YELLOW:
            figures.yellow_count += 1
            figures.yellow.append(line)
    for name in ("red", "yellow"):  # the most overdue first, the same on any database
        lines = sorted(getattr(figures, name), key=lambda line: (line.due.due, line.case.id))
        setattr(figures, name, lines if cards is None else lines[:cards])
    for name, n in reads.kept_period_counts(conn, scope, first, last, department, today).items():
        setattr(figures, name, getattr(figures, name) + n)
    figures.extended = _count_extended(conn, scope, (first.isoformat(), last.isoformat()), department)
    for row in reads.unkept_period_rows(conn, scope, (first.isoformat(), last.isoformat()), department):
        _count(figures, line_of(row, today, rules, calendar), today)
    _add_revisits(conn, figures, scope, (first, last), department, today, rules, calendar)
    return figures


def _add_revisits(conn: Connection, figures: Handling, scope, arrived, department, today: date, rules, calendar):
    """The 回访 figures, 属实 and 不属实 alike, from the handling rollups' 回访 buckets (``storage.revisits``); they
    replace the 属实-only 回访 counts of ``kept_period_counts``. Records with no kept 回访 deadline are judged here."""
    counts = revisit_reads.period_counts(conn, scope, *arrived, department, today)
    figures.revisit_due, figures.visited = counts.due, counts.done
    figures.revisit_judged, figures.visited_on_time = counts.judged, counts.on_time
    for name in ("answered", "satisfied", "unsatisfied", "unreached", "reopened"):
        setattr(figures, name, getattr(counts, name))
    for row in revisit_reads.unkept_rows(conn, scope, (arrived[0].isoformat(), arrived[1].isoformat()), department):
        due = next((d for d in step_dues(row, rules, calendar) if d.step == "revisit"), None)
        if due is not None:
            _judge(figures, due, today, "revisit_judged", "visited_on_time")


def _add_kept_cards(conn: Connection, figures: Handling, scope, department, today: date, cutoff: date, cards) -> None:
    """The cards of the records whose pending deadline is kept: counted by the database, the earliest as lines."""
    figures.red_count, figures.yellow_count = reads.card_counts(conn, scope, department, today, cutoff)
    if cards == 0:
        return
    for row in reads.earliest_carded(conn, scope, department, None, today, cards):
        figures.red.append(_kept_line(row, RED))
    for row in reads.earliest_carded(conn, scope, department, today, cutoff, cards):
        figures.yellow.append(_kept_line(row, YELLOW))


def _count_extended(conn: Connection, scope, arrived: tuple[str, str], department) -> int:
    """The period's records with an approved 延期, counted apart ("经批准延期 N 件")."""
    return reads.count_extended(conn, scope, arrived, department)


def _kept_line(row, colour: str) -> CaseLine:
    """The line of a record from its kept pending deadline alone (the line carries that one deadline)."""
    state = State(row.return_state) if row.state == State.APPEALING.value and row.return_state else State(row.state)
    step = PENDING_STEP[state]
    due = StepDue(step, date.fromisoformat(row.waiting_due), None, True)
    return CaseLine(row, [due], due, colour)


def _count(figures: Handling, line: CaseLine, today: date) -> None:
    figures.opened += 1
    if line.state == State.UPHELD:
        figures.appealed_away += 1
        return
    if line.state == State.WITHDRAWN:
        figures.withdrawn += 1
        return
    dues = {d.step: d for d in line.dues}
    _judge(figures, dues["contact"], today, "contact_judged", "contacted_on_time")  # 回访: ``_add_revisits``
    fix = dues.get("fix")
    if fix is None:
        figures.unfounded += line.case.verified_at is not None
        return
    figures.substantiated += 1
    figures.rectified += fix.done_on is not None
    if fix.done_on is not None or today > fix.due:
        figures.fix_judged += 1
        figures.fixed_on_time += bool(fix.on_time)


@dataclass
class ClerkBad:
    """A clerk's 差评 of a period by what 核实 found: 属实, not verified yet, 不属实, excluded by an upheld appeal."""

    verified: int = 0
    unverified: int = 0
    unfounded: int = 0
    appealed_away: int = 0


def bad_by_clerk(conn: Connection, scope, first: date, last: date, department: str | None) -> dict[str, ClerkBad]:
    """Each clerk's 差评 that arrived in the period, by finding (withdrawn records, whose rating no longer counts,
    are left out), from the handling rollups."""
    table: dict[str, ClerkBad] = {}
    for clerk, kind, n in reads.bad_by_clerk(conn, scope, first, last, department):
        bad = table.setdefault(clerk or "", ClerkBad())
        setattr(bad, kind, getattr(bad, kind) + n)
    return table


def _judge(figures: Handling, due: StepDue, today: date, judged: str, on_time: str) -> None:
    """Count a step as judged when it was done or is overdue, and as on time when done by its deadline."""
    if due.done_on is not None or today > due.due:
        setattr(figures, judged, getattr(figures, judged) + 1)
        setattr(figures, on_time, getattr(figures, on_time) + bool(due.on_time))


__all__ = [
    "REVISIT_RATE_DEFINITION",
    "SATISFACTION_RATE_DEFINITION",
    "RED",
    "YELLOW",
    "CaseLine",
    "ClerkBad",
    "Handling",
    "bad_by_clerk",
    "case_lines",
    "handling",
    "line_of",
]
