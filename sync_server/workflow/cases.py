"""Handling records (差评工单) in the database: opened in the settling transaction, moved by ``take_step`` after the
pure state machine agreed, every step appended to the record's history and to the audit log; nothing is deleted.

A record whose rating stops counting (an earlier rating of the same case arrived later: the kiosk was offline while
the citizen rated by phone) is withdrawn by the system: kept with its history, never handled further.

篇10's written report (书面报告: 恶意差评 or 误操作, after 核实 found the rating 不属实) is stored as the record's
appeal; the hall's 复核 confirming it excludes the rating through ``rating_exclusions`` (不予采纳: the rating stays
stored and visible) and is the appeal outcome the provincial upload sends; a supervisor's reversal lifts that
exclusion, or applies it when the 复核 had found the report unfounded.

The reads and writes themselves are in ``storage/handling.py``; this module holds what is done with them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection

from sync_server.configs import current_rules
from sync_server.console.accounts import write_audit
from sync_server.db import Store
from sync_server.storage import handling as stored
from sync_server.storage import revisits as revisit_store
from sync_server.storage.cases import Settlement
from sync_server.storage.exclusions import exclude_rating, lift_exclusion
from sync_server.storage.rollups import china_day, department_of_windows
from sync_server.storage.schema import utc_iso
from sync_server.workflow import notify, webhook
from sync_server.workflow.deadlines import PENDING_STEP, STEP_NAMES, calendar_of, fix_clock_start, kept_due, step_dues
from sync_server.workflow.errors import CaseNotFound, StepInputInvalid, StepRefused
from sync_server.workflow.evidence import Evidence
from sync_server.workflow.machine import (
    APPEAL_CATEGORIES,
    AWAITING_REVISIT,
    FINISHED,
    HALL_REVISIT,
    PENDING_APPEAL,
    REJECTED_APPEAL,
    REPORT,
    REPORT_CATEGORIES,
    REVISIT_ANSWERS,
    REVISIT_METHODS,
    UPHELD_APPEAL,
    Actor,
    AppealFacts,
    CaseFacts,
    State,
    Step,
    decide,
    may_revisit,
    revisit_outcome,
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
        was_counting = [r.record_id for r in settlement.before[case_no].ratings if r.role == "counting"]
        for r in settlement.after[case_no].ratings:
            if r.role != "counting":
                if r.record_id in was_counting:
                    displaced.add(case_no)
            elif r.level <= 2 and '"test": true' not in (r.detail or ""):
                counting_bad.add(case_no)
    if displaced:
        withdraw_displaced(conn, displaced)
    if counting_bad:
        open_bad_cases(store, conn, counting_bad)


def open_bad_cases(store: Store, conn: Connection, case_nos: set[str]) -> list[int]:
    """Open a handling record for every counting bad rating (level 1–2, not a test) of these cases that has none;
    inside the settling transaction. Returns the new records' ids."""
    found = [
        rec for rec in stored.counting_bad_without_case(conn, case_nos) if '"test": true' not in (rec.detail or "")
    ]
    if not found:
        return []
    clock, departments = _deadline_clock(conn), department_of_windows(conn)
    arrivals: dict[str, tuple[str, str | None]] = {}  # received_at -> (arrival day, contact deadline), per call
    rows = [_case_row(rec, _arrival(arrivals, clock, rec.received_at), departments) for rec in found]
    ids = stored.insert_cases(store, conn, rows)
    opened = [(ids[rec.id], row, rec) for row, rec in zip(rows, found, strict=True) if rec.id in ids]
    if not opened:  # another transaction opened them first
        return []
    events = [
        _event_row(i, rec.received_at, SYSTEM, "open", None, State.PENDING, {"level": rec.level})
        for i, _, rec in opened
    ]
    stored.insert_events(conn, events)
    deliveries = [(i, "bad_rating.created", _webhook_payload(i, row, rec), rec.received_at) for i, row, rec in opened]
    webhook.enqueue_many(conn, deliveries)
    return [case_id for case_id, _, _ in opened]


def _deadline_clock(conn: Connection):
    """(deadline rules, working-day calendar) in force: what a step's kept deadline is computed with."""
    return current_rules(conn).deadlines, calendar_of(conn)


def _arrival(known: dict, clock, received_at: str) -> tuple[str, str | None]:
    """(China day, kept contact deadline) of an arrival time, worked out once per time in ``known``: the ratings
    of one ingest batch all arrive at the same moment."""
    if received_at not in known:
        known[received_at] = (china_day(received_at), kept_due(*clock, "contact", received_at))
    return known[received_at]


def _case_row(rec, arrival: tuple[str, str | None], departments: dict) -> dict:
    arrival_day, contact_due = arrival
    return dict(
        record_id=rec.id,
        case_no=rec.case_no,
        window=rec.counted_window,
        department=departments.get(rec.counted_window or ""),
        clerk_no=rec.clerk_no or rec.case_clerk,
        level=rec.level,
        opened_at=rec.received_at,
        arrival_day=arrival_day,
        state=State.PENDING.value,
        contact_due=contact_due,
    )


def withdraw_displaced(conn: Connection, case_nos: set[str]) -> list[int]:
    """Withdraw every unfinished handling record of these cases whose rating no longer counts (it became the 追评 or
    was superseded when an earlier rating of the case arrived); inside the settling transaction. Returns their ids."""
    withdrawn = []
    for case in stored.unfinished_of_displaced(conn, case_nos, [s.value for s in FINISHED]):
        counting = stored.counting_rating(conn, case.case_no)
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
    stored.insert_events(conn, [_event_row(case_id, at, actor, step, before, after, detail)])


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


def facts_of(case, appeal, extension=None, revisit_roles: tuple[str, ...] = HALL_REVISIT) -> CaseFacts:
    asked_by = extension.requested_by if extension is not None else None
    if appeal is None:
        return CaseFacts(State(case.state), case.department, None, asked_by, revisit_roles)
    facts = AppealFacts(appeal.status, appeal.filed_by, State(appeal.return_state), appeal.reviewed_at is not None)
    return CaseFacts(State(case.state), case.department, facts, asked_by, revisit_roles)


def may_revisit_case(case, actor: Actor, settings: WorkflowSettings | None = None) -> bool:
    """Who may do 回访 on this 工单 now: a hall role the server setting names (大厅管理员 and/or 回访员, never the
    rated department), while the record waits for 回访 (``case`` is a ``bad_cases`` row)."""
    roles = (settings or WorkflowSettings()).revisit_roles
    return may_revisit(actor, roles) and State(case.state) in AWAITING_REVISIT


def pending_extension(conn: Connection, case_id: int):
    """The record's 延期 request waiting for a decision, or None."""
    return stored.pending_extension(conn, case_id)


def extensions_of(conn: Connection, case_id: int) -> list:
    return stored.extensions_of(conn, case_id)


def load_case(conn: Connection, case_id: int, scope=None, lock: bool = False):
    """(case row, appeal row or None); CaseNotFound when missing or outside the viewer's scope."""
    case = stored.case_by_id(conn, case_id, lock)
    if case is None or (scope is not None and not scope.allows_window(case.window)):
        raise CaseNotFound("没有这张差评工单，或不在您的查看范围内")
    appeal = stored.appeal_of(conn, case_id)
    return case, appeal


def history(conn: Connection, case_id: int) -> list:
    return stored.history(conn, case_id)


def evidence_of(conn: Connection, appeal_id: int) -> list:
    return stored.evidence_list(conn, appeal_id)


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
    method: str = ""  # 回访: phone | sms | unreached
    answer: str = ""  # 回访: satisfied | basically | unsatisfied (empty when unreached)
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
        facts = facts_of(case, appeal, pending_extension(conn, case_id), settings.revisit_roles)
        after = decide(facts, step, actor)
        detail = APPLY[step](conn, case, appeal, actor, now, form, settings)
        after = State(detail.pop("_to", after))  # a 回访 answered 不满意 may reopen the handling
        stored.update_case(conn, case_id, state=after.value)
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
    stored.update_case(conn, case.id, **values)


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


def _timestamp(column: str, what: str, required: bool = True):
    """A step that records when it was done."""

    def apply(conn, case, appeal, actor, now, form, settings) -> dict:
        text = _text(form, what, required)
        _set(conn, case, **{column: utc_iso(now)})
        return {"text": text} if text else {}

    return apply


def _appeal(conn, case, appeal, actor, now, form, settings) -> dict:
    """篇10's 书面报告: the department reports a rating its 核实 found to be 恶意差评 or 误操作, with evidence."""
    if _only_administrator(conn, actor.username):
        raise StepRefused("本大厅只有一位管理员，申诉无法由他人审核")
    if form.category not in REPORT_CATEGORIES:
        raise StepInputInvalid("请选择核实认定的类别：" + "或".join(REPORT_CATEGORIES.values()), "category")
    statement = _text(form, "书面报告（核实情况与认定理由）")
    if len(form.evidence) > settings.evidence_max_files:
        raise StepInputInvalid(f"证据文件最多 {settings.evidence_max_files} 个", "evidence")
    appeal_id = stored.insert_appeal(
        conn,
        dict(
            case_id=case.id,
            record_id=case.record_id,
            category=form.category,
            statement=statement,
            filed_by=actor.username,
            filed_at=utc_iso(now),
            return_state=case.state,
            status=PENDING_APPEAL,
            filed_under=REPORT,
        ),
    )
    for ev in form.evidence:
        stored.insert_evidence(
            conn,
            dict(
                appeal_id=appeal_id,
                filename=ev.filename,
                content_type=ev.content_type,
                size=ev.size,
                sha256=ev.sha256,
                content=ev.content,
                uploaded_at=utc_iso(now),
            ),
        )
    files = [{"name": ev.filename, "sha256": ev.sha256, "size": ev.size} for ev in form.evidence]
    return {"category": APPEAL_CATEGORIES[form.category], "statement": statement, "evidence": files}


def _only_administrator(conn: Connection, filer: str) -> bool:
    """Whether the filer is the hall's only active administrator, so nobody else could review the report."""
    return stored.active_administrators(conn, limit=2) == [filer]


def _decide(status: str):
    def apply(conn, case, appeal, actor, now, form, settings) -> dict:
        note = _text(form, "复核意见" if status == UPHELD_APPEAL else "复核不属实的理由")
        values = dict(status=status, decided_by=actor.username, decided_at=utc_iso(now), decision_note=note)
        stored.update_appeal(conn, appeal.id, **values)
        if status == UPHELD_APPEAL:
            reason = f"复核属实，不予采纳：{APPEAL_CATEGORIES.get(appeal.category, appeal.category)}（{note}）"
            exclude_rating(conn, case.record_id, reason, now, appeal_id=str(appeal.id))
        return {"appeal_id": appeal.id, "note": note}

    return apply


def _review(outcome: str):
    def apply(conn, case, appeal, actor, now, form, settings) -> dict:
        note = _text(form, "复查意见" if outcome == "confirmed" else "改判理由", required=outcome == "reversed")
        values = dict(reviewed_by=actor.username, reviewed_at=utc_iso(now), review_note=note, review_outcome=outcome)
        stored.update_appeal(conn, appeal.id, **values)
        if outcome == "reversed" and appeal.status == UPHELD_APPEAL:
            if not lift_exclusion(conn, case.record_id, now):
                raise StepRefused("这条评价当前没有生效的排除，无法改判")
        elif outcome == "reversed":
            reason = f"督查复查改判，不予采纳：{APPEAL_CATEGORIES.get(appeal.category, appeal.category)}（{note}）"
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
    stored.insert_extension(conn, {**row, "requested_by": actor.username, "requested_at": utc_iso(now),
                                   "status": "pending"})  # fmt: skip
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
        stored.update_extension(conn, ext.id, **values)
        if approved:
            _set(conn, case, **{f"{ext.step}_due": ext.new_due})
        return {"step": STEP_NAMES[ext.step], "old_due": ext.old_due, "new_due": ext.new_due, "note": note}

    return apply


def _handled(column: str, what: str):
    """整改完成 / 解释说明: the handling ends, the hall's 回访 becomes due from now; its notice goes out."""

    def apply(conn, case, appeal, actor, now, form, settings) -> dict:
        text = _text(form, what)
        due = kept_due(*_deadline_clock(conn), "revisit", utc_iso(now))
        _set(conn, case, **{column: utc_iso(now)}, revisit_from=utc_iso(now), revisit_due=due)
        if due is None:  # an unconfirmed holiday year: the deadline shown is computed afresh
            due = _current_due(conn, _reload(conn, case.id), "revisit").isoformat()
        _notify(conn, case, notify.DUE, due, case.revisit_reopens + 1, now, settings)
        return {"text": text}

    return apply


def _reload(conn, case_id: int):
    return stored.case_by_id(conn, case_id)


def _notify(conn, case, event: str, due: str | None, round_: int, now: datetime, settings) -> None:
    notice = notify.Notice(event, case.id, case.case_no, case.window, case.department, due, round_, utc_iso(now))
    notify.sender_for(settings).queue(conn, notice)


def _revisit(conn, case, appeal, actor, now, form, settings) -> dict:
    """回访: how the citizen was reached and what they answered, kept with the note; 不满意 reopens the handling
    (at most ``revisit_reopen_max`` times), anything else takes the record on to 已回访."""
    method, answer = form.method.strip(), form.answer.strip()
    if method not in REVISIT_METHODS:
        raise StepInputInvalid("请选择回访方式：" + "、".join(REVISIT_METHODS.values()), "method")
    if method == "unreached" and answer:
        raise StepInputInvalid("未能联系到群众时不能选择群众的回答", "answer")
    if method != "unreached" and answer not in REVISIT_ANSWERS:
        raise StepInputInvalid("请选择群众的回答：" + "、".join(REVISIT_ANSWERS.values()), "answer")
    note = _text(form, "回访情况（联系经过、群众的意见）")
    rules = current_rules(conn).deadlines
    after = revisit_outcome(case.fix_kind, answer, case.revisit_reopens, rules.revisit_reopen_max)
    round_ = case.revisit_reopens + 1
    outcome = "reopened" if after != State.REVISITED else "revisited"
    revisit_store.add_revisit(
        conn, case_id=case.id, round=round_, due=_current_due(conn, case, "revisit").isoformat(),
        done_at=utc_iso(now), actor=actor.username, role=actor.role, method=method, answer=answer or None,
        note=note, outcome=outcome,
    )  # fmt: skip
    if outcome == "revisited":
        _set(conn, case, visited_at=utc_iso(now))
    else:
        _reopen(conn, case, now)
        _notify(conn, case, notify.REOPENED, None, round_ + 1, now, settings)
    detail = {"method": REVISIT_METHODS[method], "answer": REVISIT_ANSWERS.get(answer, ""), "text": note}
    detail["round"] = round_
    if outcome == "reopened":
        detail["reopened"] = "群众不满意，退回" + ("重新整改" if case.fix_kind else "重新解释说明")
    elif answer == "unsatisfied":
        detail["reopened"] = f"已达重新办理次数上限（{rules.revisit_reopen_max} 次），如实记录不满意"
    return {**detail, "_to": after.value}


def _reopen(conn, case, now: datetime) -> None:
    """Back to 整改 (属实) or 解释说明 (不属实), that step's clock starting from this 回访; the 回访 is due again
    once it is done. The earlier steps stay in the history and in ``case_revisits``."""
    at = utc_iso(now)
    values = dict(reopened_at=at, revisit_reopens=case.revisit_reopens + 1, revisit_from=None, revisit_due=None)
    clock = _deadline_clock(conn)
    if case.fix_kind:
        values.update(fixed_at=None, fix_due=kept_due(*clock, "fix", at, case.fix_kind))
    else:
        values.update(explained_at=None, explain_due=kept_due(*clock, "explain", at))
    _set(conn, case, **values)


APPLY = {
    Step.VERIFY_TRUE: _verify_true,
    Step.VERIFY_FALSE: _verify_false,
    Step.RECTIFY: _handled("fixed_at", "整改情况"),
    Step.REVISIT: _revisit,
    Step.EXPLAIN: _handled("explained_at", "解释说明的内容"),
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
