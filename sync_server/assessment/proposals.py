"""The server's proposals: events it derives from data, each waiting for a hall administrator to confirm or dismiss.

Sources (each mapped to one event kind by the rule table):
  attendance_*          the 考勤 findings of working days that are not uncertain (``attendance.py``)
  bad_rating_attitude   a 差评 verified 属实 whose reasons include an attitude code (``attitude_reasons``)
  red_card              a 差评工单 step finished after its deadline, or still open past it (红牌), against its clerk

``propose(store, …)`` is idempotent: one event per fact (``source_key``). A proposal whose fact no longer holds
(leave entered since, an appeal upheld, a gap's day now uncertain) is withdrawn, a confirmed one too while its year
is open; a dismissed one stays dismissed. Nothing is proposed into, or withdrawn from, a closed year.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from haochaping.config import DeadlineRules, Hall
from sync_server.assessment.attendance import (
    DayAttendance,
    Leave,
    Mark,
    assess_period,
    at_china,
    parse_time,
    uncertain_days,
)
from sync_server.assessment.rules import AssessmentRules
from sync_server.db import Store
from sync_server.storage import assessment as db
from sync_server.storage.schema import utc_iso
from sync_server.workdays import WorkdayCalendar

SYSTEM = "system"
ATTITUDE_STATES = ("rectifying", "rectified", "revisited", "closed", "appealing")  # 属实 so far (with fix_kind)


@dataclass(frozen=True)
class Proposal:
    key: str
    clerk_no: str
    day: date
    source: str
    summary: str
    detail: dict


@dataclass
class ProposalCounts:
    proposed: int = 0
    withdrawn: int = 0
    reopened: int = 0


def attendance(conn, rules: AssessmentRules, calendar: WorkdayCalendar, first: date, last: date) -> list[DayAttendance]:
    """Every clerk's assessed working days in [first, last] (China dates)."""
    lo, hi = utc_iso(at_china(first, _midnight())), utc_iso(at_china(last + timedelta(days=1), _midnight()))
    marks = [Mark(r.device_id, r.kind, r.clerk_no, parse_time(r.occurred_at)) for r in db.clerk_records(conn, lo, hi)]
    leaves = [
        Leave(r.clerk_no, date.fromisoformat(r.first_day), date.fromisoformat(r.last_day), r.part)
        for r in db.leave_between(conn, first.isoformat(), last.isoformat())
    ]
    doubtful = uncertain_days(db.unfilled_gaps(conn, lo, hi))
    return assess_period(marks, first, last, rules.attendance, calendar, leaves, doubtful)


def _midnight():
    from datetime import time

    return time(0)


def attendance_proposals(days: list[DayAttendance]) -> list[Proposal]:
    return [
        Proposal(f.key, f.clerk_no, f.day, f.source, f.summary, {"minutes": f.minutes})
        for d in days
        if not d.uncertain
        for f in d.findings
    ]


def attitude_proposals(cases: list, rules: AssessmentRules) -> list[Proposal]:
    out = []
    for case in cases:
        codes = set(json.loads(case.reasons or "[]")) & set(rules.attitude_reasons)
        if case.state not in ATTITUDE_STATES or not case.fix_kind or not codes:
            continue
        listed = "、".join(map(str, sorted(codes)))
        summary = f"差评工单 {case.id}（办件 {case.case_no}）核实属实，测评内容涉及服务态度（{listed}）"
        detail = {"case_id": case.id, "reasons": sorted(codes)}
        day = date.fromisoformat(case.arrival_day)
        out.append(Proposal(f"bad:{case.id}", case.clerk_no, day, "bad_rating_attitude", summary, detail))
    return out


def red_card_proposals(cases: list, deadlines: DeadlineRules, calendar: WorkdayCalendar, today: date) -> list:
    from sync_server.workflow.deadlines import step_dues

    out = []
    for case in cases:
        if case.state in ("upheld", "withdrawn"):
            continue
        for due in step_dues(case, deadlines, calendar):
            late = due.done_on > due.due if due.done_on else case.state != "closed" and today > due.due
            if late:
                how = f"于 {due.done_on} 完成" if due.done_on else "至今未完成"
                summary = f"差评工单 {case.id}（办件 {case.case_no}）“{due.name}”期限 {due.due}，{how}（红牌）"
                detail = {"case_id": case.id, "step": due.step, "due": due.due.isoformat()}
                out.append(Proposal(f"red:{case.id}", case.clerk_no, due.due, "red_card", summary, detail))
                break  # one per case (每件次)
    return out


def propose(
    store: Store,
    rules: AssessmentRules,
    hall: Hall,
    calendar: WorkdayCalendar,
    deadlines: DeadlineRules,
    first: date,
    last: date,
    now: datetime,
) -> ProposalCounts:
    """Bring the proposals of [first, last] up to date with the data; returns what changed (audited)."""
    from sync_server.assessment.attendance import china_day

    today = china_day(now)
    last = min(last, today - timedelta(days=1))  # today is not over yet
    counts = ProposalCounts()
    if last < first:
        return counts
    with store.write() as conn:
        closed = {y for y in range(first.year, last.year + 1) if db.closed_year(conn, y)}
        cases = db.bad_cases_with_reasons(conn, first.isoformat(), last.isoformat())
        wanted = attendance_proposals(attendance(conn, rules, calendar, first, last))
        wanted += attitude_proposals(cases, rules)
        wanted += red_card_proposals(cases, deadlines, calendar, today)
        clerks = {c.no: c for c in hall.clerks}
        wanted = [p for p in wanted if p.clerk_no in clerks and p.day.year not in closed and rules.kind_for(p.source)]
        by_key = {p.key: p for p in wanted}
        existing = {}
        for prefix in ("att:", "bad:", "red:"):
            existing |= db.events_by_keys(conn, prefix)
        for key, p in by_key.items():
            row = existing.get(key)
            if row is None:
                _insert(conn, p, rules, clerks[p.clerk_no].department, now)
                counts.proposed += 1
            elif row.state == "withdrawn":
                db.set_event(conn, row.id, state="proposed", closed_by=None, closed_at=None, closed_note=None)
                counts.reopened += 1
        for key, row in existing.items():
            in_period = first.isoformat() <= row.day <= last.isoformat()
            if key in by_key or not in_period or int(row.day[:4]) in closed:
                continue
            if row.state in ("proposed", "confirming", "confirmed"):
                note = "依据已不成立（已请假、申诉成立或当日记录存疑），系统撤回"
                db.set_event(
                    conn, row.id, state="withdrawn", closed_by=SYSTEM, closed_at=utc_iso(now), closed_note=note
                )
                counts.withdrawn += 1
        if counts.proposed or counts.withdrawn or counts.reopened:
            detail = {"first": first.isoformat(), "last": last.isoformat(), **counts.__dict__}
            db.audit(conn, now, SYSTEM, "assessment.propose", None, detail)
    return counts


def _insert(conn, p: Proposal, rules: AssessmentRules, department: str, now: datetime) -> None:
    kind = rules.kind_for(p.source)
    db.insert_event(
        conn,
        clerk_no=p.clerk_no,
        department=department,
        day=p.day.isoformat(),
        kind=kind.code,
        points=kind.sign * kind.points,
        source=p.source,
        source_key=p.key,
        state="proposed",
        summary=p.summary,
        rules_version=rules.version,
        proposed_by=SYSTEM,
        proposed_at=utc_iso(now),
        detail=json.dumps(p.detail, ensure_ascii=False, sort_keys=True),
    )


def refresh(store: Store, first: date, last: date, now: datetime) -> ProposalCounts:
    """``propose`` with the rule table, hall, working-day calendar and 差评 deadlines in force."""
    from sync_server.assessment.rules import current_rules
    from sync_server.configs import current_config
    from sync_server.configs import current_rules as current_hall_rules
    from sync_server.workflow.deadlines import calendar_of

    with store.read() as conn:
        cv = current_config(conn)
        if cv is None:
            return ProposalCounts()
        rules, calendar, deadlines = current_rules(conn), calendar_of(conn), current_hall_rules(conn).deadlines
    return propose(store, rules, cv.config.hall, calendar, deadlines, first, last, now)
