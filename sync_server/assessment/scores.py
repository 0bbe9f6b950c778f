"""Scores and grades per clerk for any period, the closed (frozen) year, and 复核 with recorded corrections.

A score is ``base_points`` plus the confirmed events of the period (deductions negative). The year is the official
period: a hall administrator closes it once it is over and nothing is waiting for confirmation; its scores and
grades are then frozen as canonical JSON whose sha256 goes into the audit log, like a published 通报. Afterwards a
score changes only when the 考核领导小组 upholds an objection: a correction row, audited, added to the frozen score.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from haochaping.config import Hall
from sync_server.assessment.attendance import china_day
from sync_server.assessment.errors import EventNotFound, InputRejected, NotOnPanel, StateRefused
from sync_server.assessment.events import Person, _note
from sync_server.assessment.rules import AssessmentRules
from sync_server.db import Store
from sync_server.storage import assessment as db
from sync_server.storage.schema import utc_iso

OBJECTION_LABELS = {"pending": "待复核", "upheld": "复核成立（已更正）", "rejected": "复核维持原结果"}


@dataclass
class ClerkScore:
    clerk_no: str
    name: str
    department: str
    score: int
    grade: str
    deductions: int = 0  # points deducted (positive number)
    bonuses: int = 0
    events: list[int] = field(default_factory=list)
    corrected: int = 0  # points added by 复核 corrections (closed years)


def scores(conn, rules: AssessmentRules, hall: Hall, first: date, last: date) -> list[ClerkScore]:
    """Every clerk's score from the confirmed events of [first, last]."""
    out = {c.no: ClerkScore(c.no, c.name, c.department, rules.base_points, "") for c in hall.clerks}
    for row in db.events_between(conn, first.isoformat(), last.isoformat(), states=(db.COUNTING,)):
        s = out.get(row.clerk_no)
        if s is None:
            continue
        s.events.append(row.id)
        if row.points < 0:
            s.deductions -= row.points
        else:
            s.bonuses += row.points
    for s in out.values():
        s.score = rules.base_points - s.deductions + s.bonuses
        s.grade = rules.grade(s.score)
    return list(out.values())


def year_scores(conn, rules: AssessmentRules, hall: Hall, year: int) -> tuple[list[ClerkScore], object]:
    """(scores, the closed-year row or None): frozen plus corrections when closed, else live from the events."""
    closed = db.closed_year(conn, year)
    if closed is None:
        return scores(conn, rules, hall, date(year, 1, 1), date(year, 12, 31)), None
    frozen = json.loads(closed.content)
    by_no = {c["clerk_no"]: ClerkScore(**c) for c in frozen["clerks"]}
    grade_rules = AssessmentRules.model_validate(frozen["rules"])
    for corr in db.corrections(conn, year):
        s = by_no.get(corr.clerk_no)
        if s is not None:
            s.corrected += corr.points
            s.score += corr.points
            s.grade = grade_rules.grade(s.score)
    return list(by_no.values()), closed


def canonical(content: dict) -> str:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def close_year(store: Store, year: int, person: Person, rules: AssessmentRules, hall: Hall, now: datetime) -> str:
    """Freeze the year's scores and grades; returns the content hash (also in the audit log)."""
    if person.role != "admin":
        raise StateRefused("只有大厅管理员可以结束年度考核")
    if china_day(now).year <= year:
        raise StateRefused(f"{year} 年度尚未结束，不能结束年度考核")
    with store.write() as conn:
        if db.closed_year(conn, year):
            raise StateRefused(f"{year} 年度考核已于此前结束")
        waiting = db.events_between(conn, f"{year}-01-01", f"{year}-12-31", states=db.OPEN_STATES)
        if waiting:
            raise StateRefused(f"尚有 {len(waiting)} 条待确认的考核事件，全部确认或不予认定后才能结束 {year} 年度考核")
        clerks = scores(conn, rules, hall, date(year, 1, 1), date(year, 12, 31))
        content = canonical(
            {
                "year": year,
                "rules_version": rules.version,
                "rules": json.loads(rules.model_dump_json()),
                "clerks": [asdict(s) for s in sorted(clerks, key=lambda s: s.clerk_no)],
            }
        )
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        db.close_year_row(conn, year, content, digest, person.username, now)
        grades = {g: sum(1 for s in clerks if s.grade == g) for g in ("优秀", "称职", "基本称职", "不称职")}
        detail = {"year": year, "content_hash": digest, "clerks": len(clerks), "grades": grades}
        db.audit(conn, now, person.username, "assessment.year.close", f"year:{year}", detail)
    return digest


def content_hash_ok(conn, year: int) -> bool:
    """Whether the frozen content still matches the hash recorded when the year was closed."""
    row = db.closed_year(conn, year)
    return row is not None and hashlib.sha256(row.content.encode("utf-8")).hexdigest() == row.content_hash


# ---------------------------------------------------------------- 复核


def file_objection(
    store: Store, year: int, clerk_no: str, event_id: int | None, statement: str, person: Person, hall: Hall, now
) -> int:
    """A clerk's objection (filed for them by a hall administrator) against one confirmed event or the grade."""
    if person.role != "admin":
        raise StateRefused("复核申请由大厅管理员代窗口工作人员提交")
    if clerk_no not in {c.no for c in hall.clerks}:
        raise InputRejected(f"工号“{clerk_no}”不是本大厅的窗口工作人员")
    statement = _note(statement, "复核理由")
    with store.write() as conn:
        if event_id is not None:
            row = db.event(conn, event_id)
            if row is None or row.clerk_no != clerk_no or int(row.day[:4]) != year:
                raise EventNotFound(f"{year} 年度没有 {clerk_no} 的第 {event_id} 号考核事件")
            if row.state != db.COUNTING:
                raise StateRefused("只能对已确认（计入考核）的事件申请复核")
        elif db.closed_year(conn, year) is None:
            raise StateRefused(f"{year} 年度考核结束后才能对考核等次申请复核")
        pending = [o for o in db.objections(conn, year, clerk_no) if o.status == "pending" and o.event_id == event_id]
        if pending:
            raise StateRefused("同一事项已有待复核的申请")
        objection_id = db.add_objection(
            conn,
            year=year,
            clerk_no=clerk_no,
            event_id=event_id,
            statement=statement,
            filed_by=person.username,
            filed_at=utc_iso(now),
            status="pending",
        )
        detail = {"year": year, "clerk": clerk_no, "event": event_id, "statement": statement}
        db.audit(conn, now, person.username, "assessment.objection", f"objection:{objection_id}", detail)
    return objection_id


def decide_objection(
    store: Store, objection_id: int, upheld: bool, reason: str, person: Person, now, points: str | int | None = None
) -> None:
    """The 考核领导小组's decision. Upheld against an event: the event no longer counts (in a closed year through a
    correction of its points); upheld against the grade: a correction of ``points`` (signed) to the frozen score."""
    reason = _note(reason, "复核决定的理由")
    with store.write() as conn:
        if person.username not in db.panel_members(conn):
            raise NotOnPanel("复核须由考核领导小组成员决定，您不在考核领导小组名单中")
        obj = db.objection(conn, objection_id, lock=True)
        if obj is None:
            raise EventNotFound(f"没有编号为 {objection_id} 的复核申请")
        if obj.status != "pending":
            raise StateRefused("此复核申请已有决定")
        event = db.event(conn, obj.event_id) if obj.event_id is not None else None
        if event is not None and person.username in (event.first_by, event.second_by):
            raise NotOnPanel("确认过该事件的人不能复核此事件，请由考核领导小组的其他成员决定")
        closed = db.closed_year(conn, obj.year) is not None
        correction = _correction(obj, event, upheld, closed, points)
        db.set_objection(
            conn, objection_id, status="upheld" if upheld else "rejected", decided_by=person.username,
            decided_at=utc_iso(now), reason=reason,
        )  # fmt: skip
        if upheld and event is not None and not closed:
            db.set_event(conn, event.id, state="withdrawn", closed_by=person.username, closed_at=utc_iso(now),
                         closed_note=f"复核成立：{reason}")  # fmt: skip
        if correction:
            db.add_correction(
                conn, year=obj.year, clerk_no=obj.clerk_no, objection_id=objection_id, event_id=obj.event_id,
                points=correction, note=reason, corrected_by=person.username, corrected_at=utc_iso(now),
            )  # fmt: skip
        detail = {"upheld": upheld, "reason": reason, "correction": correction, "year": obj.year}
        db.audit(conn, now, person.username, "assessment.objection.decide", f"objection:{objection_id}", detail)


def _correction(obj, event, upheld: bool, closed: bool, points) -> int:
    if not upheld or not closed:
        if event is None and upheld:
            raise StateRefused("年度考核结束前，考核等次的复核只能维持")
        return 0
    if event is not None:
        return -event.points  # the event's deduction given back (or its bonus taken back)
    text = str(points if points is not None else "").strip()
    try:
        value = int(text)
    except ValueError:
        raise InputRejected("复核成立时请填写更正的分值（整数，加分为正、扣分为负）") from None
    if value == 0 or abs(value) > 100:
        raise InputRejected(f"更正的分值应在 -100 到 100 之间且不为 0，填写的是 {value}")
    return value


def panel_add(store: Store, username: str, person: Person, now) -> None:
    """Put a console user on the 考核领导小组."""
    with store.write() as conn:
        if db.user_role(conn, username) is None:
            raise InputRejected(f"没有可用的管理后台用户“{username}”")
        if username in db.panel_members(conn):
            raise StateRefused(f"{username} 已在考核领导小组中")
        db.add_panel_member(conn, username, person.username, now)
        db.audit(conn, now, person.username, "assessment.panel.add", username, {})
