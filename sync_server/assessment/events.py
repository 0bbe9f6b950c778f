"""Confirming and dismissing proposed events, manual events with evidence, and approved leave.

Nothing deducts or adds until confirmed. An event that deducts ``four_eyes_points`` or more needs two confirmations
by two different hall administrators (``confirming`` after the first). Every step needs a note, is audited, and is
refused once the event's year is closed (a closed year changes only through 复核, ``scores.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from haochaping.config import Hall
from sync_server.assessment.attendance import china_day
from sync_server.assessment.errors import EventNotFound, InputRejected, SameConfirmer, StateRefused
from sync_server.assessment.rules import AssessmentRules
from sync_server.db import Store
from sync_server.storage import assessment as db
from sync_server.storage.schema import utc_iso

STATE_LABELS = {
    "proposed": "待确认",
    "confirming": "待第二人确认",
    "confirmed": "已确认",
    "dismissed": "不予认定",
    "withdrawn": "已撤回",
}
LEAVE_PARTS = {"day": "全天", "am": "上午", "pm": "下午"}


@dataclass(frozen=True)
class Person:
    username: str
    role: str


def _note(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InputRejected(f"请填写{what}")
    if len(text) > 500:
        raise InputRejected(f"{what}至多 500 字")
    return text


def _admin(person: Person) -> None:
    if person.role != "admin":
        raise StateRefused("只有大厅管理员可以确认、登记考核事件和请假")


def _open_year(conn, day: str) -> None:
    if db.closed_year(conn, int(day[:4])):
        raise StateRefused(f"{day[:4]} 年度考核已结束，事件不能再改动；如有异议请申请复核")


def needs_second(row, rules: AssessmentRules) -> bool:
    return -row.points >= rules.four_eyes_points


def confirm(store: Store, event_id: int, person: Person, note: str, rules: AssessmentRules, now: datetime) -> str:
    """Confirm an event (the first of two for a heavy deduction); returns the new state."""
    _admin(person)
    note = _note(note, "确认意见")
    with store.write() as conn:
        row = db.event(conn, event_id, lock=True)
        if row is None:
            raise EventNotFound(f"没有编号为 {event_id} 的考核事件")
        _open_year(conn, row.day)
        withdrawn = _unfounded(conn, row, now)
        if withdrawn is None:
            state = _confirmed_state(conn, row, person, note, rules, now)
            detail = {"state": state, "note": note}
            db.audit(conn, now, person.username, "assessment.confirm", f"event:{event_id}", detail)
    if withdrawn is not None:
        raise StateRefused(f"{withdrawn}，不能确认")
    return state


def _confirmed_state(conn, row, person: Person, note: str, rules: AssessmentRules, now: datetime) -> str:
    at = utc_iso(now)
    if row.state == "proposed":
        state = "confirming" if needs_second(row, rules) else "confirmed"
        db.set_event(conn, row.id, state=state, first_by=person.username, first_at=at, first_note=note)
        return state
    if row.state == "confirming":
        if row.first_by == person.username:
            heavy = f"扣 {rules.four_eyes_points} 分及以上的事件须由两位管理员分别确认"
            raise SameConfirmer(f"{heavy}，您已确认过此事件，请由另一位管理员确认")
        db.set_event(conn, row.id, state="confirmed", second_by=person.username, second_at=at, second_note=note)
        return "confirmed"
    raise StateRefused(f"此事件{STATE_LABELS.get(row.state, row.state)}，不能再确认")


GONE_CASE_STATES = ("upheld", "withdrawn")  # the rating no longer counts: an appeal upheld, or superseded


def _unfounded(conn, row, now: datetime) -> str | None:
    """A proposal from a 差评 whose appeal has been upheld since is withdrawn, never confirmed (even before the next
    ``propose`` run notices)."""
    if row.source not in ("bad_rating_attitude", "red_card") or row.state not in db.OPEN_STATES:
        return None
    case_id = json.loads(row.detail or "{}").get("case_id")
    if case_id is None or db.bad_case_state(conn, case_id) not in GONE_CASE_STATES:
        return None
    note = "差评已申诉成立（或评价已被取代），建议撤回"
    db.set_event(conn, row.id, state="withdrawn", closed_by="system", closed_at=utc_iso(now), closed_note=note)
    db.audit(conn, now, "system", "assessment.withdraw", f"event:{row.id}", {"note": note})
    return note


def dismiss(store: Store, event_id: int, person: Person, note: str, now: datetime) -> None:
    """Dismiss a proposed event with the reason (不予认定)."""
    _admin(person)
    note = _note(note, "不予认定的理由")
    with store.write() as conn:
        row = db.event(conn, event_id, lock=True)
        if row is None:
            raise EventNotFound(f"没有编号为 {event_id} 的考核事件")
        _open_year(conn, row.day)
        if row.state not in db.OPEN_STATES:
            raise StateRefused(f"此事件{STATE_LABELS.get(row.state, row.state)}，不能再改为不予认定")
        db.set_event(
            conn, event_id, state="dismissed", closed_by=person.username, closed_at=utc_iso(now), closed_note=note
        )
        db.audit(conn, now, person.username, "assessment.dismiss", f"event:{event_id}", {"note": note})


@dataclass(frozen=True)
class ManualEvent:
    clerk_no: str
    kind: str
    points: str | int | None  # as typed; empty: the kind's default
    day: str
    summary: str
    evidence: tuple = ()  # accepted ``Evidence`` files


def parse_day(text: str, what: str = "日期") -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise InputRejected(f"{what}“{text}”不是有效的日期（应为 YYYY-MM-DD）") from None


def check_manual(e: ManualEvent, rules: AssessmentRules, hall: Hall, year: int, today: date) -> tuple[int, date]:
    """(signed points, day) of a manual event, or InputRejected saying what is wrong."""
    kind = rules.kind(e.kind)
    if kind is None:
        raise InputRejected(f"未知的考核事件类别“{e.kind}”")
    if e.clerk_no not in {c.no for c in hall.clerks}:
        raise InputRejected(f"工号“{e.clerk_no}”不是本大厅的窗口工作人员")
    text = str(e.points if e.points is not None else "").strip()
    try:
        points = int(text) if text else kind.points
    except ValueError:
        raise InputRejected(f"分值“{text}”应为整数") from None
    if not kind.lowest <= points <= kind.highest:
        span = f"{kind.lowest}" if kind.lowest == kind.highest else f"{kind.lowest}–{kind.highest}"
        raise InputRejected(f"“{kind.label}”的分值应为 {span} 分，填写的是 {points}")
    day = parse_day(e.day, "事件日期")
    if day.year != year or day > today:
        raise InputRejected(f"事件日期 {day} 不在 {year} 年度考核期内（且不能晚于今天 {today}）")
    return kind.sign * points, day


def add_manual(
    store: Store, e: ManualEvent, person: Person, rules: AssessmentRules, hall: Hall, year: int, now: datetime
) -> int:
    """Enter a manual event (proposed, with its evidence); it counts once confirmed."""
    _admin(person)
    points, day = check_manual(e, rules, hall, year, china_day(now))
    summary = _note(e.summary, "事件经过")
    with store.write() as conn:
        _open_year(conn, day.isoformat())
        event_id = db.insert_event(
            conn,
            clerk_no=e.clerk_no,
            department=hall.clerk(e.clerk_no).department,
            day=day.isoformat(),
            kind=e.kind,
            points=points,
            source="manual",
            source_key=None,
            state="proposed",
            summary=summary,
            rules_version=rules.version,
            proposed_by=person.username,
            proposed_at=utc_iso(now),
            detail=json.dumps({"evidence": [f.filename for f in e.evidence]}, ensure_ascii=False),
        )
        db.add_evidence(conn, event_id, e.evidence, person.username, now)
        detail = {"clerk": e.clerk_no, "kind": e.kind, "points": points, "day": day.isoformat()}
        db.audit(conn, now, person.username, "assessment.manual", f"event:{event_id}", detail)
    return event_id


@dataclass(frozen=True)
class LeaveForm:
    clerk_no: str
    first_day: str
    last_day: str
    part: str  # day | am | pm
    approved_by: str
    filed_with_centre: bool
    note: str = ""


def add_leave(store: Store, f: LeaveForm, person: Person, hall: Hall, now: datetime) -> tuple[date, date]:
    """Record approved leave (篇8: 半天 by the unit head; a day or more also filed with the centre director)."""
    _admin(person)
    if f.clerk_no not in {c.no for c in hall.clerks}:
        raise InputRejected(f"工号“{f.clerk_no}”不是本大厅的窗口工作人员")
    first, last = parse_day(f.first_day, "请假开始日期"), parse_day(f.last_day or f.first_day, "请假结束日期")
    if last < first:
        raise InputRejected("请假结束日期不能早于开始日期")
    if f.part not in LEAVE_PARTS:
        raise InputRejected(f"请假时段应为 全天、上午 或 下午，而不是“{f.part}”")
    if f.part != "day" and first != last:
        raise InputRejected("半天的请假只能是一天之内的上午或下午")
    approver = _note(f.approved_by, "批准人")
    if f.part == "day" and not f.filed_with_centre:
        raise InputRejected("请假一天及以上，须经政府主管领导同意并报政务服务中心主任备案：请确认已备案")
    with store.write() as conn:
        leave_id = db.add_leave(
            conn,
            clerk_no=f.clerk_no,
            first_day=first.isoformat(),
            last_day=last.isoformat(),
            part=f.part,
            approved_by=approver,
            filed_with_centre=int(bool(f.filed_with_centre)),
            note=(f.note or "").strip()[:500],
            entered_by=person.username,
            entered_at=utc_iso(now),
        )
        detail = {"clerk": f.clerk_no, "first": first.isoformat(), "last": last.isoformat(), "part": f.part}
        db.audit(conn, now, person.username, "assessment.leave", f"leave:{leave_id}", detail)
    return first, last
