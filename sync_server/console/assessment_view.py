"""Console pages of 考核 and 考勤: the year's scores and grades, proposals to confirm or dismiss, manual events with
evidence, leave, the 考勤 summary, closing the year, 复核, a clerk's events, and the assessment sheets.

The logic is in ``sync_server/assessment``; this module reads forms, calls it, and renders pages."""

from __future__ import annotations

import calendar as monthcal
from collections import Counter
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from sync_server.assessment import events as ev
from sync_server.assessment import proposals, scores
from sync_server.assessment.errors import AssessmentError, InputRejected
from sync_server.assessment.rules import SOURCE_LABELS, current_rules
from sync_server.assessment.sheets import sheet_csv, sheet_rows, sheet_xlsx
from sync_server.console.accounts import Viewer
from sync_server.console.auth import AdminUser, AnyUser
from sync_server.console.context import current_version
from sync_server.console.errorpages import RowId
from sync_server.console.labels import china_today
from sync_server.storage import assessment as db
from sync_server.workflow.deadlines import calendar_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERIODS = {"year": "全年", "q1": "第一季度", "q2": "第二季度", "q3": "第三季度", "q4": "第四季度"}


@dataclass(frozen=True)
class Period:
    key: str
    first: date
    last: date
    label: str


def parse_period(year_text: str, key: str, today: date) -> Period:
    """The year (default this year) and the period within it: the year, a quarter, or a month ``MM``."""
    try:
        year = int(year_text) if year_text else today.year
    except ValueError:
        raise InputRejected(f"年度“{year_text}”应为四位数字") from None
    if not 2000 <= year <= 2100:
        raise InputRejected(f"年度 {year} 不在 2000–2100 之间")
    key = key or "year"
    if key == "year":
        return Period(key, date(year, 1, 1), date(year, 12, 31), f"{year} 年全年")
    if key in PERIODS:
        q = int(key[1])
        last_month = q * 3
        last = date(year, last_month, monthcal.monthrange(year, last_month)[1])
        return Period(key, date(year, last_month - 2, 1), last, f"{year} 年{PERIODS[key]}")
    if key.isdigit() and 1 <= int(key) <= 12:
        m = int(key)
        return Period(key, date(year, m, 1), date(year, m, monthcal.monthrange(year, m)[1]), f"{year} 年 {m} 月")
    raise InputRejected(f"未知的统计期“{key}”：应为 全年、季度（q1–q4）或月份（1–12）")


def person(viewer: Viewer) -> ev.Person:
    return ev.Person(viewer.username, viewer.role)


def _hall(request: Request):
    cv = current_version(request.app)
    if cv is None:
        raise InputRejected("尚未导入大厅配置，请先运行 hcp server config import")
    return cv.config.hall


def install(app: FastAPI) -> None:
    """The pages, and the error page for the assessment's refusals."""
    app.include_router(router())

    @app.exception_handler(AssessmentError)
    async def _refused(request: Request, exc: AssessmentError):
        from sync_server.console.errorpages import error_page

        return error_page(request, exc.status, exc.message, exc.title)


def _back(year: int, anchor: str = "", done: str = "") -> RedirectResponse:
    query = f"?year={year}" + (f"&done={quote(done)}" if done else "")
    return RedirectResponse(f"/console/assessment{query}{anchor}", status_code=303)


def router() -> APIRouter:
    r = APIRouter(prefix="/console/assessment", include_in_schema=False)

    @r.get("")
    def overview(request: Request, viewer: AnyUser, year: str = "", period: str = ""):
        return _overview(request, viewer, year, period)

    @r.get("/clerks/{clerk_no}")
    def clerk_page(request: Request, clerk_no: str, viewer: AnyUser, year: str = ""):
        return _clerk_page(request, viewer, clerk_no, year)

    @r.post("/propose")
    async def propose(request: Request, viewer: AdminUser):
        form = await request.form()
        p = parse_period(str(form.get("year", "")), "year", china_today(request.app.state.clock()))
        counts = proposals.refresh(request.app.state.store, p.first, p.last, request.app.state.clock())
        done = f"新建议 {counts.proposed} 条，撤回 {counts.withdrawn} 条，恢复 {counts.reopened} 条"
        return _back(p.first.year, "#open", done)

    @r.post("/events")
    async def add_event(request: Request, viewer: AdminUser):
        from sync_server.workflow.evidence import accept
        from sync_server.workflow.views import workflow_settings

        form = await request.form()
        app, settings = request.app, workflow_settings(request.app)
        p = parse_period(str(form.get("year", "")), "year", china_today(app.state.clock()))
        uploads = [f for f in form.getlist("evidence") if getattr(f, "filename", "")]
        if len(uploads) > settings.evidence_max_files:
            raise InputRejected(f"证据文件最多 {settings.evidence_max_files} 个")
        files = tuple([accept(f.filename, await f.read(), settings) for f in uploads])
        manual = ev.ManualEvent(
            str(form.get("clerk_no", "")), str(form.get("kind", "")), str(form.get("points", "")),
            str(form.get("day", "")), str(form.get("summary", "")), files,
        )  # fmt: skip
        with app.state.store.read() as conn:
            rules = current_rules(conn)
        ev.add_manual(app.state.store, manual, person(viewer), rules, _hall(request), p.first.year, app.state.clock())
        return _back(p.first.year, "#open", "已登记，待确认")

    @r.post("/events/{event_id}/{action}")
    async def decide_event(request: Request, event_id: RowId, action: str, viewer: AdminUser):
        form = await request.form()
        app, note = request.app, str(form.get("note", ""))
        with app.state.store.read() as conn:
            rules, row = current_rules(conn), db.event(conn, event_id)
        year = int(row.day[:4]) if row else china_today(app.state.clock()).year
        if action == "confirm":
            state = ev.confirm(app.state.store, event_id, person(viewer), note, rules, app.state.clock())
            done = "已确认" if state == "confirmed" else "已确认，待另一位管理员确认"
        elif action == "dismiss":
            ev.dismiss(app.state.store, event_id, person(viewer), note, app.state.clock())
            done = "已不予认定"
        else:
            raise InputRejected(f"未知的操作“{action}”")
        return _back(year, "#open", done)

    @r.post("/leave")
    async def add_leave(request: Request, viewer: AdminUser):
        form = await request.form()
        app = request.app
        leave = ev.LeaveForm(
            str(form.get("clerk_no", "")), str(form.get("first_day", "")), str(form.get("last_day", "")),
            str(form.get("part", "")), str(form.get("approved_by", "")), form.get("filed_with_centre") == "1",
            str(form.get("note", "")),
        )  # fmt: skip
        first, last = ev.add_leave(app.state.store, leave, person(viewer), _hall(request), app.state.clock())
        proposals.refresh(app.state.store, first, last, app.state.clock())
        return _back(first.year, "#leave", "请假已登记，相应的考勤建议已撤回")

    @r.post("/close")
    async def close(request: Request, viewer: AdminUser):
        form = await request.form()
        app = request.app
        p = parse_period(str(form.get("year", "")), "year", china_today(app.state.clock()))
        with app.state.store.read() as conn:
            rules = current_rules(conn)
        digest = scores.close_year(
            app.state.store, p.first.year, person(viewer), rules, _hall(request), app.state.clock()
        )
        return _back(p.first.year, "", f"年度考核已结束，内容散列 {digest}")

    @r.post("/objections")
    async def file_objection(request: Request, viewer: AdminUser):
        form = await request.form()
        app = request.app
        p = parse_period(str(form.get("year", "")), "year", china_today(app.state.clock()))
        event_text = str(form.get("event_id", "")).strip()
        if event_text and not event_text.isdigit():
            raise InputRejected(f"事件编号“{event_text}”应为数字")
        clerk = str(form.get("clerk_no", ""))
        scores.file_objection(
            app.state.store, p.first.year, clerk, int(event_text) if event_text else None,
            str(form.get("statement", "")), person(viewer), _hall(request), app.state.clock(),
        )  # fmt: skip
        return _back(p.first.year, "#objections", "复核申请已提交考核领导小组")

    @r.post("/objections/{objection_id}")
    async def decide_objection(request: Request, objection_id: RowId, viewer: AnyUser):
        form = await request.form()
        app = request.app
        outcome = str(form.get("outcome", ""))
        if outcome not in ("upheld", "rejected"):
            raise InputRejected("请选择复核决定：成立或维持原结果")
        scores.decide_objection(
            app.state.store, objection_id, outcome == "upheld", str(form.get("reason", "")), person(viewer),
            app.state.clock(), str(form.get("points", "")),
        )  # fmt: skip
        with app.state.store.read() as conn:
            year = db.objection(conn, objection_id).year
        return _back(year, "#objections", "复核决定已记录")

    @r.post("/panel")
    async def panel(request: Request, viewer: AdminUser):
        form = await request.form()
        app = request.app
        scores.panel_add(app.state.store, str(form.get("username", "")).strip(), person(viewer), app.state.clock())
        return _back(china_today(app.state.clock()).year, "#panel", "已加入考核领导小组")

    @r.get("/evidence/{evidence_id}")
    def evidence(request: Request, evidence_id: RowId, viewer: AnyUser):
        with request.app.state.store.read() as conn:
            row = db.evidence_file(conn, evidence_id)
            event = db.event(conn, row.event_id) if row else None
        if row is None or not _visible(viewer, event.department):
            raise InputRejected("没有这个证据文件")
        headers = {
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        }
        return Response(row.content, media_type=row.content_type, headers=headers)

    @r.get("/sheet.{fmt}")
    def sheet(request: Request, fmt: str, viewer: AnyUser, year: str = "", department: str = ""):
        app = request.app
        if fmt not in ("xlsx", "csv"):
            raise InputRejected("考核结果表只有 xlsx 和 csv 两种格式")
        hall = _hall(request)
        department = viewer.scope.department_filter(department or None)
        if department and department not in {d.code for d in hall.departments}:
            raise InputRejected(f"未知部门“{department}”")
        p = parse_period(year, "year", china_today(app.state.clock()))
        with app.state.store.read() as conn:
            titles, rows = sheet_rows(conn, current_rules(conn), hall, p.first.year, department)
        name = f"考核结果-{p.first.year}-{department or '全大厅'}.{fmt}"
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "Cache-Control": "no-store"}
        if fmt == "xlsx":
            return Response(sheet_xlsx(titles, rows), media_type=XLSX, headers=headers)
        return Response(sheet_csv(titles, rows), media_type="text/csv; charset=utf-8", headers=headers)

    return r


def _visible(viewer: Viewer, department: str | None) -> bool:
    return not viewer.scope.restricted or department == viewer.scope.department


def attendance_summary(days, clerks) -> list[dict]:
    """Per clerk: days on duty, 迟到, 早退, 旷工, 离岗 findings, uncertain days, sessions on leave."""
    out = {c.no: {"clerk": c, "days": 0, "uncertain": 0, "leave": 0, **dict.fromkeys(SOURCES, 0)} for c in clerks}
    for d in days:
        row = out.get(d.clerk_no)
        if row is None:
            continue
        row["days"] += bool(d.on_duty)
        row["uncertain"] += d.uncertain
        row["leave"] += len(d.on_leave)
        for source, n in Counter(f.source for f in d.findings).items():
            row[source] += n
    return list(out.values())


SOURCES = ("attendance_late", "attendance_early", "attendance_absent", "attendance_away")


def _overview(request: Request, viewer: Viewer, year_text: str, period_key: str):
    from sync_server.console.pages import page

    app = request.app
    today = china_today(app.state.clock())
    p = parse_period(year_text, period_key, today)
    hall = _hall(request)
    with app.state.store.read() as conn:
        rules = current_rules(conn)
        year_rows, closed = scores.year_scores(conn, rules, hall, p.first.year)
        period_rows = year_rows if p.key == "year" else scores.scores(conn, rules, hall, p.first, p.last)
        open_rows = [e for e in db.open_events(conn) if _visible(viewer, e.department)]
        days = proposals.attendance(conn, rules, calendar_of(conn), p.first, min(p.last, today))
        objections = [o for o in db.objections(conn, p.first.year)]
        panel = db.panel_members(conn)
        leaves = db.leave_between(conn, p.first.isoformat(), p.last.isoformat())
        hash_ok = scores.content_hash_ok(conn, p.first.year) if closed else None
    clerks = [c for c in hall.clerks if _visible(viewer, c.department)]
    visible = {c.no for c in clerks}
    return page(
        request,
        "assessment.html",
        viewer,
        period=p,
        periods=PERIODS,
        rules=rules,
        scores=[s for s in period_rows if s.clerk_no in visible],
        closed=closed,
        hash_ok=hash_ok,
        open_rows=open_rows,
        attendance=[a for a in attendance_summary(days, clerks)],
        objections=[o for o in objections if o.clerk_no in visible],
        panel=panel,
        leaves=[x for x in leaves if x.clerk_no in visible],
        clerks=clerks,
        departments=[d for d in hall.departments if _visible(viewer, d.code)],
        state_labels=ev.STATE_LABELS,
        source_labels=SOURCE_LABELS,
        objection_labels=scores.OBJECTION_LABELS,
        leave_parts=ev.LEAVE_PARTS,
        today=today,
        done=request.query_params.get("done", ""),
        on_panel=viewer.username in panel,
    )


def _clerk_page(request: Request, viewer: Viewer, clerk_no: str, year_text: str):
    from sync_server.console.pages import page

    app = request.app
    p = parse_period(year_text, "year", china_today(app.state.clock()))
    hall = _hall(request)
    clerk = next((c for c in hall.clerks if c.no == clerk_no), None)
    if clerk is None or not _visible(viewer, clerk.department):
        raise InputRejected(f"工号“{clerk_no}”不是本大厅（或您所在部门）的窗口工作人员")
    with app.state.store.read() as conn:
        rules = current_rules(conn)
        year_rows, closed = scores.year_scores(conn, rules, hall, p.first.year)
        rows = db.events_between(conn, p.first.isoformat(), p.last.isoformat(), clerk_no)
        files = db.evidence_list(conn, [r.id for r in rows])
        objections = db.objections(conn, p.first.year, clerk_no)
        corrections = [c for c in db.corrections(conn, p.first.year) if c.clerk_no == clerk_no]
    return page(
        request,
        "assessment_clerk.html",
        viewer,
        clerk=clerk,
        period=p,
        score=next(s for s in year_rows if s.clerk_no == clerk_no),
        closed=closed,
        rows=rows,
        files=files,
        objections=objections,
        corrections=corrections,
        rules=rules,
        state_labels=ev.STATE_LABELS,
        source_labels=SOURCE_LABELS,
        objection_labels=scores.OBJECTION_LABELS,
    )
