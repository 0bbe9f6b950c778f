"""Figures of the 差评 workflow for the dashboard and the monthly report.

- yellow/red cards: open records whose pending step is nearly due / overdue (today, China date);
- 差评整改率 = rectified / substantiated (属实) records;
- 按时整改率 = rectified by the deadline / records whose rectification is judged: rectified, or overdue (red card)
  without rectification — a red card counts against it until the fix is done;
- 回访率 = return visits made / rectified records;
- on time per step (核实（联系群众）, 整改, 回访): done by the step's deadline / steps judged (done, or overdue and
  not done), so a late 核实 shows in the contact rate even when the fix was quick.
Records opened in the period (by the day the rating arrived) count; records whose appeal was upheld, and records
withdrawn because an earlier rating of the same case took their rating's place, have left the statistics with their
rating and are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, and_, case, func, literal, not_, or_, select

from haochaping.config import DeadlineRules
from haochaping.workdays import WorkdayCalendar
from sync_server.configs import current_rules
from sync_server.storage.schema import UNFINISHED_ROWS, appeals, bad_cases
from sync_server.workflow.cases import open_case_rows
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
    contact_judged: int = 0
    contacted_on_time: int = 0
    revisit_judged: int = 0
    visited_on_time: int = 0
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


def handling(conn: Connection, scope, first: date, last: date, department: str | None, today: date) -> Handling:
    """Cards of every unfinished record in scope (any arrival day) and the rates of the records opened in the
    period. The database does the bulk with the deadlines kept on the records: it hands over only the unfinished
    records due by the yellow-card cut-off, and counts the period's records itself; records without a kept
    deadline (an unconfirmed holiday year) are worked out here."""
    figures = Handling()
    rules, calendar = current_rules(conn).deadlines, calendar_of(conn)
    cutoff = calendar.add_working_days(today, rules.yellow_card_days + 1).due.isoformat()  # first day not yellow
    due = _pending_due()
    carded = or_(due.is_(None), due < cutoff)
    unfinished = [UNFINISHED_ROWS, carded]
    for row in open_case_rows(conn, scope, department=department, where=unfinished, newest_first=False):
        line = _kept_card(row, today) or line_of(row, today, rules, calendar)
        if line.card:
            (figures.red if line.card == RED else figures.yellow).append(line)
    for cards in (figures.red, figures.yellow):
        cards.sort(key=lambda line: (line.due.due, line.case.id))  # the most overdue first, the same on any database
    arrived = (first.isoformat(), last.isoformat())
    c = bad_cases.c
    unkept = or_(
        c.contact_due.is_(None),
        and_(c.fix_kind.is_not(None), c.fix_due.is_(None)),
        and_(c.fixed_at.is_not(None), c.revisit_due.is_(None)),
    )
    _count_kept(conn, figures, scope, arrived, department, today, unkept)
    for row in open_case_rows(conn, scope, arrived=arrived, department=department, where=[unkept], newest_first=False):
        _count(figures, line_of(row, today, rules, calendar), today)
    return figures


def _kept_card(row, today: date) -> CaseLine | None:
    """The card of a record the database handed over as due by the cut-off, from its kept deadline alone (the line
    carries that one deadline); None when the deadline is not kept and must be worked out."""
    state = State(row.return_state) if row.state == State.APPEALING.value and row.return_state else State(row.state)
    step = PENDING_STEP.get(state)
    kept = getattr(row, f"{step}_due", None) if step else None
    if kept is None:
        return None
    due = StepDue(step, date.fromisoformat(kept), None, True)
    return CaseLine(row, [due], due, RED if due.due < today else YELLOW)


def _pending_due():
    """SQL: the kept deadline of the step a record waits for (its return state's while appealing); NULL when that
    deadline is not kept; a far date for a record that waits for no deadline (已回访, 已解释说明: 办结 is next)."""
    state = case((bad_cases.c.state == State.APPEALING.value, appeals.c.return_state), else_=bad_cases.c.state)
    columns = {State.PENDING: "contact_due", State.RECTIFYING: "fix_due", State.RECTIFIED: "revisit_due"}
    columns[State.UNFOUNDED] = "explain_due"
    whens = [(state == s.value, bad_cases.c[column]) for s, column in columns.items()]
    return case(*whens, else_=literal("9999-12-31"))


def _count_kept(conn: Connection, figures: Handling, scope, arrived, department, today: date, unkept) -> None:
    """``_count`` for the period's records whose deadlines are kept, in one aggregate."""
    c = bad_cases.c
    counted = c.state.not_in([State.UPHELD.value, State.WITHDRAWN.value])  # the others are counted apart
    fixing = and_(counted, c.fix_kind.is_not(None))  # 核实属实: a fix is due

    def by_end_of(due):  # before the end of the China day ``due``, in UTC
        return due + "T16:00:00.000+00:00"

    counts = select(
        func.count(),
        _n(c.state == State.UPHELD.value),
        _n(c.state == State.WITHDRAWN.value),
        _n(fixing),
        _n(counted, c.fix_kind.is_(None), c.verified_at.is_not(None)),
        _n(fixing, c.fixed_at.is_not(None)),
        _n(fixing, c.visited_at.is_not(None)),
        _n(fixing, or_(c.fixed_at.is_not(None), c.fix_due < today.isoformat())),
        _n(fixing, c.fixed_at < by_end_of(c.fix_due)),
        _n(counted, or_(c.verified_at.is_not(None), c.contact_due < today.isoformat())),
        _n(counted, c.verified_at < by_end_of(c.contact_due)),
        _n(fixing, c.fixed_at.is_not(None), or_(c.visited_at.is_not(None), c.revisit_due < today.isoformat())),
        _n(fixing, c.fixed_at.is_not(None), c.visited_at < by_end_of(c.revisit_due)),
    ).select_from(bad_cases)
    where = [c.arrival_day.between(*arrived), not_(unkept)]
    if scope is not None and scope.restricted:
        where.append(scope.window_condition(c.window))
    if department:
        where.append(c.department == department)
    row = conn.execute(counts.where(*where)).one()
    figures.opened += row[0]
    figures.appealed_away += row[1]
    figures.withdrawn += row[2]
    figures.substantiated += row[3]
    figures.unfounded += row[4]
    figures.rectified += row[5]
    figures.visited += row[6]
    figures.fix_judged += row[7]
    figures.fixed_on_time += row[8]
    figures.contact_judged += row[9]
    figures.contacted_on_time += row[10]
    figures.revisit_judged += row[11]
    figures.visited_on_time += row[12]


def _n(*conditions):
    return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)


def _count(figures: Handling, line: CaseLine, today: date) -> None:
    figures.opened += 1
    if line.state == State.UPHELD:
        figures.appealed_away += 1
        return
    if line.state == State.WITHDRAWN:
        figures.withdrawn += 1
        return
    dues = {d.step: d for d in line.dues}
    _judge(figures, dues["contact"], today, "contact_judged", "contacted_on_time")
    if "revisit" in dues:
        _judge(figures, dues["revisit"], today, "revisit_judged", "visited_on_time")
    fix = dues.get("fix")
    if fix is None:
        figures.unfounded += line.case.verified_at is not None
        return
    figures.substantiated += 1
    figures.rectified += fix.done_on is not None
    figures.visited += line.case.visited_at is not None
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
    are left out)."""
    c = bad_cases.c
    finding = case(
        (c.state == State.UPHELD.value, literal("appealed_away")),
        (c.fix_kind.is_not(None), literal("verified")),
        (c.verified_at.is_not(None), literal("unfounded")),
        else_=literal("unverified"),
    )
    where = [c.arrival_day.between(first.isoformat(), last.isoformat()), c.state != State.WITHDRAWN.value]
    if scope is not None and scope.restricted:
        where.append(scope.window_condition(c.window))
    if department:
        where.append(c.department == department)
    query = select(c.clerk_no, finding, func.count()).where(*where).group_by(c.clerk_no, finding)
    table: dict[str, ClerkBad] = {}
    for clerk, kind, n in conn.execute(query):
        bad = table.setdefault(clerk or "", ClerkBad())
        setattr(bad, kind, getattr(bad, kind) + n)
    return table


def _judge(figures: Handling, due: StepDue, today: date, judged: str, on_time: str) -> None:
    """Count a step as judged when it was done or is overdue, and as on time when done by its deadline."""
    if due.done_on is not None or today > due.due:
        setattr(figures, judged, getattr(figures, judged) + 1)
        setattr(figures, on_time, getattr(figures, on_time) + bool(due.on_time))


__all__ = ["RED", "YELLOW", "CaseLine", "ClerkBad", "Handling", "bad_by_clerk", "case_lines", "handling", "line_of"]
