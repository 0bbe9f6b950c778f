"""Console pages of the 差评 workflow: the list of handling records with their cards, one record's page (rating,
deadlines, history, appeal and evidence, the forms this viewer may use), evidence downloads, webhook deliveries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from haochaping.errors import ConfigError
from sync_server.configs import current_rules
from sync_server.console.accounts import ROLES, Viewer
from sync_server.console.auth import AdminUser, AnyUser, OverseerUser, audit_refusal, client_address
from sync_server.console.errorpages import RowId
from sync_server.console.errors import BadInput
from sync_server.storage import handling as stored_handling
from sync_server.storage import revisits as revisit_store
from sync_server.storage.contacts import contacts_of_case
from sync_server.storage.records import record_by_id
from sync_server.storage.schema import UNFINISHED_ROWS
from sync_server.workflow import notify, webhook
from sync_server.workflow.cases import (
    StepForm,
    appeal_outcome,
    evidence_of,
    extensions_of,
    facts_of,
    history,
    load_case,
    take_step,
)
from sync_server.workflow.contacts import may_reveal, reveal_number
from sync_server.workflow.deadlines import CARD_LABELS, calendar_of, china_today
from sync_server.workflow.errors import CaseNotFound, RoleRefused, WorkflowError
from sync_server.workflow.evidence import accept
from sync_server.workflow.machine import (
    APPEAL_CATEGORIES,
    LEGACY,
    LEGACY_STATE_LABELS,
    LEGACY_STEP_LABELS,
    REPORT_CATEGORIES,
    REVISIT_ANSWERS,
    REVISIT_METHODS,
    STATE_LABELS,
    STEP_LABELS,
    Actor,
    State,
    Step,
    allowed_steps,
)
from sync_server.workflow.schedules import load_schedule, parse_schedule
from sync_server.workflow.settings import WorkflowSettings
from sync_server.workflow.stats import case_lines, line_of

DETAIL_LABELS = {
    "finding": "核实情况",
    "fix_kind": "问题类型",
    "text": "说明",
    "category": "类别（恶意差评/误操作）",
    "statement": "书面报告",
    "evidence": "证据文件",
    "note": "意见",
    "appeal_id": "书面报告（申诉）编号",
    "level": "评价等级",
    "step": "环节",
    "old_due": "原截止日期",
    "new_due": "延期至",
    "reason": "延期理由",
    "method": "回访方式",
    "answer": "群众的回答",
    "round": "第几次回访",
    "reopened": "结果",
}
OUTCOME_LABELS = {"pending": "待大厅复核", "upheld": "复核属实：不予采纳", "rejected": "复核不属实：已退回部门"}
LEGACY_OUTCOME_LABELS = {"pending": "待审核", "upheld": "申诉成立", "rejected": "申诉驳回"}  # the former rules


def actor_of(viewer: Viewer) -> Actor:
    return Actor(viewer.username, viewer.role, viewer.department)


def workflow_settings(app) -> WorkflowSettings:
    return getattr(app.state, "workflow_settings", None) or WorkflowSettings()


FORM_FIELDS = ("text", "fix_kind", "category", "extend_to", "method", "answer")  # what a step's form may carry
CASE_LIST_LIMIT = 500  # newest first; a state filter narrows it, the cards list every unfinished record


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/cases")
    def cases_page(request: Request, viewer: AnyUser):
        from sync_server.console.pages import page

        state, card_filter = request.query_params.get("state") or "", request.query_params.get("card") or ""
        if state and state not in STATE_LABELS:
            raise BadInput(f"未知的工单状态：{state}")
        if card_filter and card_filter not in CARD_LABELS:
            raise BadInput(f"未知的督办标记：{card_filter}")
        today = china_today(request.app.state.clock())
        with request.app.state.store.read() as conn:
            if card_filter:  # cards are on unfinished records only: all of them, however old
                unfinished = case_lines(conn, viewer.scope, today, where=[UNFINISHED_ROWS])
                lines = [ln for ln in unfinished if ln.card == card_filter]
            else:
                lines = case_lines(conn, viewer.scope, today, [state] if state else None, limit=CASE_LIST_LIMIT + 1)
        return page(
            request,
            "case_list.html",
            viewer,
            lines=lines[:CASE_LIST_LIMIT] if not card_filter else lines,
            more=not card_filter and len(lines) > CASE_LIST_LIMIT,
            limit=CASE_LIST_LIMIT,
            state=state,
            card_filter=card_filter,
            states=STATE_LABELS,
            cards=CARD_LABELS,
            today=today,
        )

    @r.get("/cases/{case_id}")
    def case_page(request: Request, case_id: RowId, viewer: AnyUser):
        return _case_page(request, case_id, viewer)

    @r.post("/cases/{case_id}/steps/{step}")
    async def case_step(request: Request, case_id: RowId, step: str, viewer: AnyUser):
        if step not in Step.__members__.values():
            raise BadInput(f"未知的办理步骤：{step}")
        form = await request.form()
        typed = {
            key: str(form.get(key, "")) for key in ("text", "fix_kind", "category", "extend_to", "method", "answer")
        }
        app = request.app
        with app.state.store.read() as conn:
            load_case(conn, case_id, viewer.scope)  # not visible: 404 before anything else
        try:
            step_form = StepForm(**typed, evidence=await _evidence(form, workflow_settings(app)))
            take_step(
                app.state.store, case_id, Step(step), actor_of(viewer), app.state.clock(), step_form,
                workflow_settings(app), client_address(request),
            )  # fmt: skip
        except CaseNotFound:
            raise
        except WorkflowError as e:  # shown at the form, with what was typed kept
            if e.status == 403:
                audit_refusal(request, viewer, e.message)
            failed = FailedStep(step, getattr(e, "field", ""), e.message, typed)
            return _case_page(request, case_id, viewer, e.status, failed)
        return RedirectResponse(f"/console/cases/{case_id}?done={quote(step)}", status_code=303)

    @r.post("/cases/{case_id}/contacts/{contact_id}/reveal")
    def reveal_contact(request: Request, case_id: RowId, contact_id: RowId, viewer: AnyUser):
        """查看完整号码: only by POST (a GET never shows it), only for 核实 and 回访, written to the audit log."""
        app = request.app
        try:
            number = reveal_number(
                app.state.store, case_id, contact_id, actor_of(viewer), app.state.clock(),
                app.state.contact_cipher, viewer.scope, client_address(request),
            )  # fmt: skip
        except RoleRefused as e:
            audit_refusal(request, viewer, e.message)
            raise
        return _case_page(request, case_id, viewer, revealed={contact_id: number})

    @r.get("/cases/{case_id}/evidence/{evidence_id}")
    def evidence_file(request: Request, case_id: RowId, evidence_id: RowId, viewer: AnyUser):
        with request.app.state.store.read() as conn:
            _case, appeal = load_case(conn, case_id, viewer.scope)
            row = stored_handling.evidence_file(conn, evidence_id)
        if row is None or appeal is None or row.appeal_id != appeal.id:
            raise CaseNotFound("没有这个证据文件")
        disposition = f"attachment; filename*=UTF-8''{quote(row.filename)}"
        headers = {"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
        return Response(row.content, media_type=row.content_type, headers=headers)

    @r.get("/webhooks")
    def webhooks_page(request: Request, viewer: OverseerUser):
        from sync_server.console.pages import page

        with request.app.state.store.read() as conn:
            target = webhook.current_target(conn)
            rows = webhook.deliveries(conn)
        return page(request, "case_webhooks.html", viewer, target=target, rows=rows, labels=webhook.STATE_LABELS)

    @r.get("/workdays")
    def workdays_page(request: Request, viewer: OverseerUser):
        return _workdays_page(request, viewer)

    @r.post("/workdays")
    async def workdays_load(request: Request, viewer: AdminUser):
        form = await request.form()
        upload = form.get("schedule")
        name = getattr(upload, "filename", "") or "上传的文件"
        content = await upload.read() if upload is not None and hasattr(upload, "read") else b""
        try:
            schedule = parse_schedule(name, content)
        except (ConfigError, UnicodeDecodeError) as e:
            return _workdays_page(request, viewer, status=400, error=f"节假日安排未载入：{e}")
        app = request.app
        load_schedule(app.state.store, schedule, name, viewer.username, app.state.clock(), client_address(request))
        return RedirectResponse("/console/workdays", status_code=303)

    return r


def _workdays_page(request: Request, viewer: Viewer, status: int = 200, error: str = ""):
    """The schedules page; a refused file's reason stands beside the file field."""
    from sync_server.console.pages import page
    from sync_server.workflow.schedules import loaded_schedules

    today = china_today(request.app.state.clock())
    with request.app.state.store.read() as conn:
        rows = loaded_schedules(conn)
        calendar = calendar_of(conn)
    years = [(y, calendar.is_confirmed(y)) for y in range(today.year, today.year + 2)]
    return page(request, "case_workdays.html", viewer, status, rows=rows, years=years, error=error)


@dataclass(frozen=True)
class FailedStep:
    """A step the server refused: which form, which field (empty: the whole step), why, and what was typed."""

    step: str
    field: str
    message: str
    typed: dict[str, str]


async def _evidence(form, settings: WorkflowSettings) -> tuple:
    files = [f for f in form.getlist("evidence") if getattr(f, "filename", "")]
    return tuple([accept(f.filename, await f.read(), settings) for f in files])


def _case_page(
    request: Request,
    case_id: int,
    viewer: Viewer,
    status: int = 200,
    failed: FailedStep | None = None,
    revealed: dict[int, str] | None = None,
):
    from sync_server.console.pages import page

    app = request.app
    today = china_today(app.state.clock())
    with app.state.store.read() as conn:
        case, appeal = load_case(conn, case_id, viewer.scope)
        line = line_of(_with_return(case, appeal), today, *_rules_and_calendar(conn))
        rating = record_by_id(conn, case.record_id)
        events = [(e, json.loads(e.detail or "{}")) for e in history(conn, case_id)]
        files = evidence_of(conn, appeal.id) if appeal else []
        sent = webhook.deliveries(conn, case_id=case_id) if viewer.role != "reviewer" else []
        extensions = extensions_of(conn, case_id)
        left = contacts_of_case(conn, case.case_no) if case.case_no else []
        revisits = revisit_store.revisits_of(conn, case_id)
        notices = revisit_store.notices_of(conn, case_id) if viewer.role != "reviewer" else []
        reopen_max = current_rules(conn).deadlines.revisit_reopen_max
    pending = next((e for e in extensions if e.status == "pending"), None)
    settings = workflow_settings(app)
    legacy = appeal is not None and appeal.filed_under == LEGACY  # filed under the former rules: its own words
    facts = facts_of(case, appeal, pending, settings.revisit_roles)
    steps = allowed_steps(facts, actor_of(viewer))
    return page(
        request,
        "case_detail.html",
        viewer,
        status,
        failed=failed,
        case=case,
        line=line,
        appeal=appeal,
        outcome=appeal_outcome(appeal),
        outcome_labels=LEGACY_OUTCOME_LABELS if legacy else OUTCOME_LABELS,
        rating=rating,
        reasons=json.loads(rating.reasons or "[]") if rating else [],
        events=events,
        files=files,
        sent=sent,
        steps=steps,
        extensions=extensions,
        Step=Step,
        state_labels=LEGACY_STATE_LABELS if legacy else STATE_LABELS,
        step_labels=LEGACY_STEP_LABELS if legacy else STEP_LABELS,
        detail_labels=DETAIL_LABELS,
        categories=APPEAL_CATEGORIES,
        report_categories=REPORT_CATEGORIES,
        LEGACY=LEGACY,
        cards=CARD_LABELS,
        delivery_labels=webhook.STATE_LABELS,
        settings=settings,
        revisits=revisits,
        notices=notices,
        notice_labels=notify.STATE_LABELS,
        notice_events=notify.EVENT_LABELS,
        revisit_methods=REVISIT_METHODS,
        revisit_answers=REVISIT_ANSWERS,
        revisit_by=" 或 ".join(ROLES[r] for r in settings.revisit_roles),
        reopen_max=reopen_max,
        done="" if failed else request.query_params.get("done", ""),
        State=State,
        contacts=left,
        may_reveal=may_reveal(facts, actor_of(viewer)),
        revealed=revealed or {},
    )


class _Row:
    """A case row with the appeal's return state attached (what ``line_of`` reads)."""

    def __init__(self, case, return_state):
        self._case, self.return_state = case, return_state

    def __getattr__(self, name):
        return getattr(self._case, name)


def _with_return(case, appeal):
    return _Row(case, appeal.return_state if appeal else None)


def _rules_and_calendar(conn):
    from sync_server.configs import current_rules
    from sync_server.workflow.deadlines import calendar_of

    return current_rules(conn).deadlines, calendar_of(conn)
