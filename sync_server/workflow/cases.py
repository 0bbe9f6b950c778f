"""Handling records (差评工单) in the database: opened in the settling transaction, moved by ``take_step`` after the
pure state machine agreed, every step appended to the record's history and to the audit log; nothing is deleted.

A record whose rating stops counting (an earlier rating of the same case arrived later: the kiosk was offline while
the citizen rated by phone) is withdrawn by the system: kept with its history, never handled further.

An upheld appeal excludes the rating through ``rating_exclusions`` (the rating stays stored and visible); a
supervisor's reversal on review lifts that exclusion, or applies it when the appeal had been rejected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, and_, select, update

from sync_server.configs import current_rules
from sync_server.console.accounts import write_audit
from sync_server.console.exclusions import exclude_rating, lift_exclusion
from sync_server.db import Store
from sync_server.storage.cases import Settlement
from sync_server.storage.rollups import china_day, counted_window, department_of_windows
from sync_server.storage.schema import (
    appeal_evidence,
    appeals,
    bad_cases,
    case_events,
    case_extensions,
    cases,
    ratings,
    records,
    users,
    utc_iso,
)
from sync_server.workflow import webhook
from sync_server.workflow.deadlines import PENDING_STEP, STEP_NAMES, calendar_of, fix_clock_start, kept_due, step_dues
from sync_server.workflow.errors import CaseNotFound, StepInputInvalid, StepRefused
from sync_server.workflow.evidence import Evidence
from sync_server.workflow.machine import (
    APPEAL_CATEGORIES,
    FINISHED,
    PENDING_APPEAL,
    REJECTED_APPEAL,
    UPHELD_APPEAL,
    Actor,
    AppealFacts,
    CaseFacts,
    State,
    Step,
    decide,
)
from sync_server.workflow.settings import WorkflowSettings

MAX_TEXT = 1000
SYSTEM = Actor("system", "system")


# ---------------------------------------------------------------- 当日建档: opened while the rating settles


def handle_settled(store: Store, conn: Connection, settlement: Settlement) -> None:
    """After-settlement hook: withdraw the records of ratings that no longer count, open one for every bad rating
    that now counts (当日建档), for the cases that got new ratings. Only cases where that can be so are queried: a
    rating that stopped counting in this pass, a bad rating (not a test) that counts after it."""
    displaced, counting_bad = set(), set()
    for case_no in settlement.rated_case_nos:
        before = {r.record_id: r.role for r in settlement.before[case_no].ratings}
        for r in settlement.after[case_no].ratings:
            if before.get(r.record_id) == "counting" and r.role != "counting":
                displaced.add(case_no)
            if r.role == "counting" and r.level <= 2 and '"test": true' not in (r.detail or ""):
                counting_bad.add(case_no)
    if displaced:
        withdraw_displaced(conn, displaced)
    if counting_bad:
        open_bad_cases(store, conn, counting_bad)


def open_bad_cases(store: Store, conn: Connection, case_nos: set[str]) -> list[int]:
    """Open a handling record for every counting bad rating (level 1–2, not a test) of these cases that has none;
    inside the settling transaction. Returns the new records' ids."""
    query = (
        select(records, cases.c.clerk_no.label("case_clerk"), counted_window().label("counted_window"))
        .select_from(
            records.join(ratings, ratings.c.record_id == records.c.id)
            .outerjoin(cases, cases.c.case_no == records.c.case_no)
            .outerjoin(bad_cases, bad_cases.c.record_id == records.c.id)
        )
        .where(ratings.c.case_no.in_(case_nos), ratings.c.role == "counting", ratings.c.level <= 2)
        .where(bad_cases.c.id.is_(None))
    )
    found = [rec for rec in conn.execute(query).all() if '"test": true' not in (rec.detail or "")]
    if not found:
        return []
    clock, departments = _deadline_clock(conn), department_of_windows(conn)
    rows = [_case_row(rec, clock, departments) for rec in found]
    stmt = store.insert(bad_cases).on_conflict_do_nothing(index_elements=["record_id"])
    ids = {r.record_id: r.id for r in conn.execute(stmt.returning(bad_cases.c.id, bad_cases.c.record_id), rows)}
    opened = [(ids[rec.id], row, rec) for row, rec in zip(rows, found, strict=True) if rec.id in ids]
    if not opened:  # another transaction opened them first
        return []
    events = [
        _event_row(i, rec.received_at, SYSTEM, "open", None, State.PENDING, {"level": rec.level})
        for i, _, rec in opened
    ]
    conn.execute(case_events.insert(), events)
    deliveries = [(i, "bad_rating.created", _webhook_payload(i, row, rec), rec.received_at) for i, row, rec in opened]
    webhook.enqueue_many(conn, deliveries)
    return [case_id for case_id, _, _ in opened]


def _deadline_clock(conn: Connection):
    """(deadline rules, working-day calendar) in force: what a step's kept deadline is computed with."""
    return current_rules(conn).deadlines, calendar_of(conn)


def _case_row(rec, clock, departments: dict) -> dict:
    return dict(
        record_id=rec.id,
        case_no=rec.case_no,
        window=rec.counted_window,
        department=departments.get(rec.counted_window or ""),
        clerk_no=rec.clerk_no or rec.case_clerk,
        level=rec.level,
        opened_at=rec.received_at,
        arrival_day=china_day(rec.received_at),
        state=State.PENDING.value,
        contact_due=kept_due(*clock, "contact", rec.received_at),
    )


def withdraw_displaced(conn: Connection, case_nos: set[str]) -> list[int]:
    """Withdraw every unfinished handling record of these cases whose rating no longer counts (it became the 追评 or
    was superseded when an earlier rating of the case arrived); inside the settling transaction. Returns their ids."""
    query = (
        select(bad_cases.c.id, bad_cases.c.case_no, bad_cases.c.record_id, bad_cases.c.state, bad_cases.c.opened_at)
        .select_from(bad_cases.join(ratings, ratings.c.record_id == bad_cases.c.record_id))
        .where(ratings.c.case_no.in_(case_nos), ratings.c.role != "counting")  # by the ratings' case index
        .where(bad_cases.c.state.not_in([s.value for s in FINISHED]))
        .order_by(bad_cases.c.id)
    )
    withdrawn = []
    for case in conn.execute(query).all():
        counting = conn.execute(
            select(records.c.id, records.c.received_at)
            .select_from(records.join(ratings, ratings.c.record_id == records.c.id))
            .where(ratings.c.case_no == case.case_no, ratings.c.role == "counting")
        ).first()
        at = counting.received_at if counting else case.opened_at
        detail = {
            "reason": "同一办件更早的评价后到达，该评价不再计入统计，工单撤销",
            "counting_rating": counting.id if counting else None,
        }
        _set(conn, case, state=State.WITHDRAWN.value)
        _event(conn, case.id, at, SYSTEM, "withdraw", State(case.state), State.WITHDRAWN, detail)
        target = f"差评工单 {case.id}"
        write_audit(conn, datetime.fromisoformat(at), SYSTEM.username, "case.withdraw", target, detail)
        payload = {"case_id": case.id, "rating_id": case.record_id, "case_no": case.case_no, **detail}
        webhook.enqueue(conn, case.id, "bad_rating.withdrawn", payload, at)
        withdrawn.append(case.id)
    return withdrawn


def _webhook_payload(case_id: int, row: dict, rec) -> dict:
    """What the external platform receives (contact data is left out: the rater's identity is protected)."""
    return {
        "case_id": case_id,
        "rating_id": rec.id,
        "case_no": rec.case_no,
        "level": rec.level,
        "reasons": json.loads(rec.reasons or "[]"),  # as sent; a code outside the list is flagged unknown_reason
        "comment": rec.comment,
        "window": row["window"],
        "department": row["department"],
        "clerk_no": row["clerk_no"],
        "matter_code": rec.matter_code,
        "channel": rec.channel,
        "rated_at": rec.occurred_at,
        "received_at": rec.received_at,
    }


def _event(conn, case_id: int, at: str, actor: Actor, step: str, before, after, detail: dict) -> None:
    conn.execute(case_events.insert(), [_event_row(case_id, at, actor, step, before, after, detail)])


def _event_row(case_id: int, at: str, actor: Actor, step: str, before, after, detail: dict) -> dict:
    return dict(
        case_id=case_id,
        at=at,
        actor=actor.username,
        role=actor.role,
        step=step,
        from_state=before.value if before else None,
        to_state=after.value,
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
    )


# ---------------------------------------------------------------- reading


def facts_of(case, appeal, extension=None) -> CaseFacts:
    asked_by = extension.requested_by if extension is not None else None
    if appeal is None:
        return CaseFacts(State(case.state), case.department, extension_asked_by=asked_by)
    facts = AppealFacts(appeal.status, appeal.filed_by, State(appeal.return_state), appeal.reviewed_at is not None)
    return CaseFacts(State(case.state), case.department, facts, asked_by)


def pending_extension(conn: Connection, case_id: int):
    """The record's 延期 request waiting for a decision, or None."""
    query = select(case_extensions).where(case_extensions.c.case_id == case_id, case_extensions.c.status == "pending")
    return conn.execute(query).first()


def extensions_of(conn: Connection, case_id: int) -> list:
    query = select(case_extensions).where(case_extensions.c.case_id == case_id).order_by(case_extensions.c.id)
    return conn.execute(query).all()


def load_case(conn: Connection, case_id: int, scope=None, lock: bool = False):
    """(case row, appeal row or None); CaseNotFound when missing or outside the viewer's scope."""
    query = select(bad_cases).where(bad_cases.c.id == case_id)
    case = conn.execute(query.with_for_update() if lock else query).first()
    if case is None or (scope is not None and not scope.allows_window(case.window)):
        raise CaseNotFound("没有这张差评工单，或不在您的查看范围内")
    appeal = conn.execute(select(appeals).where(appeals.c.case_id == case_id)).first()
    return case, appeal


def history(conn: Connection, case_id: int) -> list:
    return conn.execute(select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id)).all()


def evidence_of(conn: Connection, appeal_id: int) -> list:
    cols = [c for c in appeal_evidence.c if c.name != "content"]
    query = select(*cols).where(appeal_evidence.c.appeal_id == appeal_id).order_by(appeal_evidence.c.id)
    return conn.execute(query).all()


def appeal_outcome(appeal) -> str | None:
    """upheld | rejected after any review, or None while pending."""
    if appeal is None or appeal.status == PENDING_APPEAL:
        return None
    if appeal.review_outcome == "reversed":
        return REJECTED_APPEAL if appeal.status == UPHELD_APPEAL else UPHELD_APPEAL
    return appeal.status


# ---------------------------------------------------------------- taking a step


@dataclass(frozen=True)
class StepForm:
    """What a step's form carries (unused fields stay empty)."""

    text: str = ""  # finding / rectification / response / explanation / statement / note
    fix_kind: str = ""  # simple | complex (核实·属实)
    category: str = ""  # appeal category key
    extend_to: str = ""  # the deadline asked for (申请延期), YYYY-MM-DD
    evidence: tuple[Evidence, ...] = ()


def take_step(
    store: Store,
    case_id: int,
    step: Step,
    actor: Actor,
    now: datetime,
    form: StepForm,
    settings: WorkflowSettings | None = None,
    address: str | None = None,
) -> State:
    """Check the step with the state machine and apply it in one transaction (history, audit, exclusion)."""
    settings = settings or WorkflowSettings()
    with store.write() as conn:
        case, appeal = load_case(conn, case_id, lock=True)
        before = State(case.state)
        after = decide(facts_of(case, appeal, pending_extension(conn, case_id)), step, actor)
        detail = APPLY[step](conn, case, appeal, actor, now, form, settings)
        conn.execute(update(bad_cases).where(bad_cases.c.id == case_id).values(state=after.value))
        _event(conn, case_id, utc_iso(now), actor, step.value, before, after, detail)
        audit = {"step": step.label, "from": before.label, "to": after.label, **detail}
        write_audit(conn, now, actor.username, f"case.{step.value}", f"差评工单 {case_id}", audit, address)
    return after


def _text(form: StepForm, what: str, required: bool = True) -> str:
    text = form.text.strip()
    if required and not text:
        raise StepInputInvalid(f"请填写{what}")
    if len(text) > MAX_TEXT:
        raise StepInputInvalid(f"{what}最多 {MAX_TEXT} 字")
    return text


def _set(conn, case, **values) -> None:
    conn.execute(update(bad_cases).where(bad_cases.c.id == case.id).values(**values))


def _verify_true(conn, case, appeal, actor, now, form, settings) -> dict:
    finding = _text(form, "核实情况")
    if form.fix_kind not in ("simple", "complex"):
        raise StepInputInvalid("请选择问题类型：简单问题或复杂问题", "fix_kind")
    rules, calendar = _deadline_clock(conn)
    due = kept_due(rules, calendar, "fix", fix_clock_start(rules, case.opened_at, utc_iso(now)), form.fix_kind)
    _set(conn, case, finding=finding, fix_kind=form.fix_kind, verified_at=utc_iso(now), fix_due=due)
    return {"finding": finding, "fix_kind": {"simple": "简单问题", "complex": "复杂问题"}[form.fix_kind]}


def _verify_false(conn, case, appeal, actor, now, form, settings) -> dict:
    finding = _text(form, "核实情况")
    rules, calendar = _deadline_clock(conn)
    due = kept_due(rules, calendar, "explain", fix_clock_start(rules, case.opened_at, utc_iso(now)))
    _set(conn, case, finding=finding, verified_at=utc_iso(now), explain_due=due)
    return {"finding": finding}


def _timestamp(column: str, what: str, required: bool = True, starts: str | None = None):
    """A step that records when it was done (and, with ``starts``, starts that next step's clock)."""

    def apply(conn, case, appeal, actor, now, form, settings) -> dict:
        text = _text(form, what, required)
        values = {column: utc_iso(now)}
        if starts:
            values[f"{starts}_due"] = kept_due(*_deadline_clock(conn), starts, utc_iso(now))
        _set(conn, case, **values)
        return {"text": text} if text else {}

    return apply


def _appeal(conn, case, appeal, actor, now, form, settings) -> dict:
    if _only_administrator(conn, actor.username):
        raise StepRefused("本大厅只有一位管理员，申诉无法由他人审核")
    if form.category not in APPEAL_CATEGORIES:
        raise StepInputInvalid("请选择申诉类别：" + "、".join(APPEAL_CATEGORIES.values()), "category")
    statement = _text(form, "申诉理由")
    if len(form.evidence) > settings.evidence_max_files:
        raise StepInputInvalid(f"证据文件最多 {settings.evidence_max_files} 个", "evidence")
    appeal_id = conn.execute(
        appeals.insert().values(
            case_id=case.id,
            record_id=case.record_id,
            category=form.category,
            statement=statement,
            filed_by=actor.username,
            filed_at=utc_iso(now),
            return_state=case.state,
            status=PENDING_APPEAL,
        )
    ).inserted_primary_key[0]
    for ev in form.evidence:
        conn.execute(
            appeal_evidence.insert().values(
                appeal_id=appeal_id,
                filename=ev.filename,
                content_type=ev.content_type,
                size=ev.size,
                sha256=ev.sha256,
                content=ev.content,
                uploaded_at=utc_iso(now),
            )
        )
    files = [{"name": ev.filename, "sha256": ev.sha256, "size": ev.size} for ev in form.evidence]
    return {"category": APPEAL_CATEGORIES[form.category], "statement": statement, "evidence": files}


def _only_administrator(conn: Connection, filer: str) -> bool:
    """Whether the filer is the hall's only active administrator, so nobody else could decide the appeal."""
    query = select(users.c.username).where(users.c.role == "admin", users.c.disabled_at.is_(None)).limit(2)
    return [row.username for row in conn.execute(query)] == [filer]


def _decide(status: str):
    def apply(conn, case, appeal, actor, now, form, settings) -> dict:
        note = _text(form, "审核意见", required=status == REJECTED_APPEAL)
        values = dict(status=status, decided_by=actor.username, decided_at=utc_iso(now), decision_note=note)
        conn.execute(update(appeals).where(appeals.c.id == appeal.id).values(**values))
        if status == UPHELD_APPEAL:
            reason = f"申诉成立：{APPEAL_CATEGORIES[appeal.category]}" + (f"（{note}）" if note else "")
            exclude_rating(conn, case.record_id, reason, now, appeal_id=str(appeal.id))
        return {"appeal_id": appeal.id, "note": note}

    return apply


def _review(outcome: str):
    def apply(conn, case, appeal, actor, now, form, settings) -> dict:
        note = _text(form, "复核意见", required=outcome == "reversed")
        values = dict(reviewed_by=actor.username, reviewed_at=utc_iso(now), review_note=note, review_outcome=outcome)
        conn.execute(update(appeals).where(appeals.c.id == appeal.id).values(**values))
        if outcome == "reversed" and appeal.status == UPHELD_APPEAL:
            if not lift_exclusion(conn, case.record_id, now):
                raise StepRefused("这条评价当前没有生效的排除，无法改判")
        elif outcome == "reversed":
            reason = f"复核改判申诉成立：{APPEAL_CATEGORIES[appeal.category]}（{note}）"
            exclude_rating(conn, case.record_id, reason, now, appeal_id=str(appeal.id))
        return {"appeal_id": appeal.id, "note": note}

    return apply


def _extend(conn, case, appeal, actor, now, form, settings) -> dict:
    """申请延期 of the step the record waits for: a later deadline and a reason; decided by a hall administrator."""
    reason = _text(form, "延期理由")
    step = PENDING_STEP[State(case.state)]
    due = _current_due(conn, case, step)
    try:
        wanted = date.fromisoformat(form.extend_to.strip())
    except ValueError:
        raise StepInputInvalid("请填写延期后的截止日期（如 2026-12-15）") from None
    if wanted <= due:
        raise StepInputInvalid(f"延期后的截止日期应晚于现在的截止日期 {due.isoformat()}")
    row = dict(case_id=case.id, step=step, old_due=due.isoformat(), new_due=wanted.isoformat(), reason=reason)
    conn.execute(case_extensions.insert().values(**row, requested_by=actor.username, requested_at=utc_iso(now),
                                                 status="pending"))  # fmt: skip
    return {"step": STEP_NAMES[step], "old_due": row["old_due"], "new_due": row["new_due"], "reason": reason}


def _current_due(conn, case, step: str) -> date:
    rules, calendar = _deadline_clock(conn)
    return next(d.due for d in step_dues(case, rules, calendar) if d.step == step)


def _decide_extension(approved: bool):
    def apply(conn, case, appeal, actor, now, form, settings) -> dict:
        note = _text(form, "批准意见" if approved else "不批准的理由", required=not approved)
        ext = pending_extension(conn, case.id)
        if approved and PENDING_STEP.get(State(case.state)) != ext.step:
            raise StepRefused("申请延期的环节已经办理，无需批准")
        status = "approved" if approved else "refused"
        values = dict(status=status, decided_by=actor.username, decided_at=utc_iso(now), decision_note=note)
        conn.execute(update(case_extensions).where(case_extensions.c.id == ext.id).values(**values))
        if approved:
            _set(conn, case, **{f"{ext.step}_due": ext.new_due})
        return {"step": STEP_NAMES[ext.step], "old_due": ext.old_due, "new_due": ext.new_due, "note": note}

    return apply


APPLY = {
    Step.VERIFY_TRUE: _verify_true,
    Step.VERIFY_FALSE: _verify_false,
    Step.RECTIFY: _timestamp("fixed_at", "整改情况", starts="revisit"),
    Step.REVISIT: _timestamp("visited_at", "回访情况（群众反馈）"),
    Step.EXPLAIN: _timestamp("explained_at", "解释说明的内容"),
    Step.CLOSE: _timestamp("closed_at", "办结意见", required=False),
    Step.APPEAL: _appeal,
    Step.UPHOLD: _decide(UPHELD_APPEAL),
    Step.REJECT: _decide(REJECTED_APPEAL),
    Step.REVIEW_CONFIRM: _review("confirmed"),
    Step.REVIEW_REVERSE: _review("reversed"),
    Step.EXTEND: _extend,
    Step.EXTEND_APPROVE: _decide_extension(True),
    Step.EXTEND_REFUSE: _decide_extension(False),
}


def open_case_rows(
    conn: Connection,
    scope=None,
    states: list[str] | tuple[str, ...] | None = None,
    arrived: tuple[str, str] | None = None,
    department: str | None = None,
    limit: int | None = None,
    where: list | None = None,
    newest_first: bool = True,
) -> list:
    """Handling records in the scope (newest first), optionally of some states, arrived between two China dates
    (inclusive), of one department, meeting further ``where`` conditions, at most ``limit`` of them. Every filter
    runs in SQL: a province gathers hundreds of thousands of records a year."""
    where = list(where or [])
    if scope is not None and scope.restricted:
        where.append(scope.window_condition(bad_cases.c.window))
    if states:
        where.append(bad_cases.c.state.in_(list(states)))
    if arrived:
        where.append(bad_cases.c.arrival_day.between(*arrived))
    if department:
        where.append(bad_cases.c.department == department)
    query = select(bad_cases, appeals.c.return_state, appeals.c.status.label("appeal_status")).select_from(
        bad_cases.outerjoin(appeals, appeals.c.case_id == bad_cases.c.id)
    )
    query = query.where(and_(True, *where))
    if newest_first:  # without an order the database may pick the state or arrival index over a scan by id
        query = query.order_by(bad_cases.c.id.desc())
    return conn.execute(query.limit(limit) if limit else query).all()
