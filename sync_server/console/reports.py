"""The monthly report (通报) per hall or department as an Excel workbook or CSV, and the export of ratings in the
field set of GB/T 39046-2020 表9. The page, the download routes and ``hcp server report`` share these builders."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import Connection

from haochaping.levels import Level
from sync_server.console import metrics
from sync_server.console.accounts import Scope, Viewer, write_audit
from sync_server.console.auth import AnyUser, client_address
from sync_server.console.labels import Names, china_time, china_today, gbt_time, level_label
from sync_server.console.period import report_period
from sync_server.console.ratings_view import RatingFilter, conditions, parse_filter
from sync_server.console.settings import ConsoleSettings
from sync_server.ingest import known_reasons
from sync_server.sheets import csv_row, xlsx_append, xlsx_stream_row
from sync_server.storage import reports as stored
from sync_server.storage.rollups import STATUS_LABELS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GBT_HEADER = [
    "办件编号",
    "评价渠道",
    "评价人",
    "评价时间",
    "评价次数",
    "满意度",
    "满意度代码",
    "文字评价",
    "行政区划",
    "备注",
    "测评内容代码",
    "测评内容",
    "事项编码",
    "事项名称",
    "窗口",
    "部门",
]
FIGURE_HEADER = [
    "有效评价",
    "好评",
    "好评率",
    "主动评价好评率",
    "差评",
    "差评率",
    "平均等级",
    "提示办件",
    "参评率",
    "未评率",
]


CARD_DAY_ROW = "差评处理判定日"  # the day the cards count on and the deadlines are judged


@dataclass
class Section:
    """One table of the report: a sheet of the workbook, a block of the CSV."""

    title: str
    header: list[str]
    rows: list[list]


# ---------------------------------------------------------------- the monthly report


def monthly_report(
    conn: Connection,
    scope: Scope,
    month: str,
    department: str | None,
    names: Names,
    settings: ConsoleSettings,
    today: date | None = None,
    corrections: bool = True,
) -> list[Section]:
    """The 通报 of a month, a quarter (2026Q4) or a year (2026). ``today`` is the China date the report is made:
    the 差评 cards are counted and the deadlines judged on that day, as the dashboard does on the same day (the
    rows say which day); without it, on the period's last day (统计期末). A 更正 section follows when a 通报 of the
    same kind published earlier no longer matches the figures (sync_server.console.publish)."""
    period = report_period(month)
    board = metrics.dashboard(conn, scope, period.first, period.last, department, "day")
    t = board.total
    scope_name = names.department(board.department) if board.department else "全大厅"
    summary = [
        ["大厅", names.hall_name],
        ["范围", scope_name],
        ["统计期", period.label],
        ["有效评价数", t.n],
        ["好评数", t.good],
        ["好评率", t.good_rate],
        ["主动评价好评率", t.active_good_rate],
        ["差评数", t.bad],
        ["差评率", t.bad_rate],
        ["平均等级", t.mean_level],
        ["提示办件数", t.prompted],
        ["参评办件数", t.rated],
        ["参评率", t.participation_rate],
        ["主动评价率", t.active_rate],
        ["未评办件数", t.unrated],
        ["未评率", t.unrated_rate],
        ["系统默认评价数", t.n - t.active_n],
    ]
    summary += [[f"未计入：{STATUS_LABELS.get(s, s)}", n] for s, n in sorted(board.left_out.items())]
    summary += _handling_rows(conn, scope, board, period, today)
    sections = [Section("概况", ["项目", "数值"], summary)]
    for title, table, name in (
        ("按部门", board.by_department, names.department),
        ("按窗口", board.by_window, names.window),
        ("按工作人员", board.by_clerk, names.clerk),
        ("按事项", board.by_matter, names.matter),
    ):
        sections.append(
            Section(title, [title[1:]] + FIGURE_HEADER, [[name(k)] + _figures(f) for k, f in sorted(table.items())])
        )
    sections.append(_rankings(conn, scope, board, period, names, settings))
    sections += _bad_summary(conn, scope, board, period, names)
    sections.append(_attendance(conn, scope, board.department, period))
    sections.append(_closed_cases(conn, scope, board.department, period, names))
    if corrections:
        from sync_server.console.corrections import CORRECTION_HEADER, CORRECTION_TITLE, correction_rows

        def earlier(spec: str) -> list[Section]:
            return monthly_report(conn, scope, spec, department, names, settings, today, corrections=False)

        rows = correction_rows(conn, month, board.department, sections, earlier)
        if rows is not None:
            sections.append(Section(CORRECTION_TITLE, CORRECTION_HEADER, rows))
    return sections


def _attendance(conn, scope: Scope, department: str | None, period) -> Section:
    """考勤 of the month per clerk (sync_server.assessment): findings from the terminals' records, uncertain days,
    leave, and the 考勤 deductions confirmed so far."""
    from sync_server.assessment.proposals import attendance
    from sync_server.assessment.rules import current_rules
    from sync_server.configs import current_config
    from sync_server.console.assessment_view import attendance_summary
    from sync_server.storage.assessment import COUNTING, events_between
    from sync_server.workflow.deadlines import calendar_of

    cv = current_config(conn)
    header = [
        "工号",
        "姓名",
        "部门",
        "出勤天数",
        "迟到",
        "早退",
        "旷工",
        "离岗",
        "存疑天数",
        "请假（半天）",
        "已确认考勤扣分",
    ]
    if cv is None:
        return Section("考勤", header, [])
    hall = cv.config.hall
    days = attendance(conn, current_rules(conn), calendar_of(conn), period.first, period.last)
    clerks = [c for c in hall.clerks if department in (None, c.department) and not _hidden(scope, c.department)]
    confirmed = events_between(conn, period.first.isoformat(), period.last.isoformat(), states=(COUNTING,))
    deducted = Counter()
    for e in confirmed:
        if e.source.startswith("attendance_") or e.kind in ("late", "early", "absent", "away"):
            deducted[e.clerk_no] -= e.points
    depts = {d.code: d.name for d in hall.departments}
    rows = [
        [a["clerk"].no, a["clerk"].name, depts.get(a["clerk"].department, ""), a["days"], a["attendance_late"],
         a["attendance_early"], a["attendance_absent"], a["attendance_away"], a["uncertain"], a["leave"],
         deducted[a["clerk"].no]]
        for a in attendance_summary(days, clerks)
    ]  # fmt: skip
    return Section("考勤", header, rows)


def _hidden(scope: Scope, department: str) -> bool:
    return scope.restricted and department != scope.department


def _closed_cases(conn, scope: Scope, department: str | None, period, names: Names) -> Section:
    """办件对账 of the month (sync_server.closedcases): both 参评率, 漏评, 按时办结率, cards at its end."""
    from datetime import datetime

    from sync_server.closedcases.reconcile import NOT_CONNECTED, reconcile
    from sync_server.closedcases.settings import CaseFeedSettings
    from sync_server.configs import current_config
    from sync_server.console.accounts import Scope as ViewScope
    from sync_server.storage.rollups import day_bounds

    cv = current_config(conn)
    if department and cv is not None:
        windows = frozenset(w.code for w in cv.config.hall.windows if w.department == department)
        scope = ViewScope(department, windows)
    start, end = day_bounds(period.first)[0], day_bounds(period.last)[1]
    found = reconcile(
        conn, scope, start, end, datetime.fromisoformat(end), cv.config if cv else None, CaseFeedSettings(), period.last
    )
    if not found.connected:
        return Section("办件对账", ["项目", "数值"], [["办件系统", NOT_CONNECTED]])
    rows = [
        ["办结办件数（办件系统报送）", found.closed],
        ["参评办件数（群众本人评价）", found.rated],
        ["参评率（以办结办件为分母）", found.participation_rate],
        ["未评率（以办结办件为分母）", found.unrated_rate],
        ["漏评（办结后未发起评价）", len(found.missed)],
        ["有承诺时限的办结办件", found.with_due],
        ["按时办结", found.on_time],
        ["按时办结率", found.on_time_rate],
        ["超时办结", len(found.late)],
        ["黄牌：明日到期未办结（统计期末）", len(found.yellow)],
        ["红牌：超期未办结（统计期末）", len(found.red)],
        ["办件系统无此件", len(found.unreported)],
    ]
    rows += [[f"漏评：{names.window(w)}", n] for w, n in found.missed_by_window.most_common()]
    rows += [[f"漏评：{names.clerk(c)}", n] for c, n in found.missed_by_clerk.most_common()]
    rows += [
        [f"超时办结：{names.department(d)} {names.matter(m)}", n]
        for (d, m), n in found.late_by_department_matter.most_common()
    ]
    return Section("办件对账", ["项目", "数值"], rows)


def card_moment(today: date | None, period_last: date) -> tuple[date, str]:
    """The day the 差评 cards of a report count on, and its label: 今日 (the day the report is made, the dashboard's
    day) or 统计期末 (the period's last day)."""
    return (today, "今日") if today is not None else (period_last, "统计期末")


def _handling_rows(conn, scope: Scope, board, period, today: date | None) -> list[list]:
    """差评整改率, 按时整改率, 回访率, 回访满意率 of the period's bad ratings, and the cards on the report's day
    (sync_server.workflow)."""
    from sync_server.configs import current_rules
    from sync_server.workflow.deadlines import FIX_CLOCK_LABELS
    from sync_server.workflow.stats import REVISIT_RATE_DEFINITION, SATISFACTION_RATE_DEFINITION, handling

    day, moment = card_moment(today, period.last)
    h = handling(conn, scope, period.first, period.last, board.department, day, cards=0)
    return (
        [
            [CARD_DAY_ROW, f"{day.isoformat()}（{moment}）"],
            ["差评工单数", h.opened],
            ["申诉成立（已排除）", h.appealed_away],
            ["已撤销（评价被更早的评价取代）", h.withdrawn],
            ["核实属实", h.substantiated],
            ["已整改", h.rectified],
            ["差评整改率", h.rectify_rate],
            ["按时整改", h.fixed_on_time],
            ["按时整改率", h.on_time_rate],
            ["应回访", h.revisit_due],
            ["已回访（含未能联系）", h.visited],
            ["回访率", h.revisit_rate],
            ["回访率：定义", REVISIT_RATE_DEFINITION],
            ["有回答的回访", h.answered],
            ["回访满意、基本满意", h.satisfied],
            ["回访满意率", h.satisfaction_rate],
            ["回访满意率：定义", SATISFACTION_RATE_DEFINITION],
            ["回访不满意（其中退回重新办理）", f"{h.unsatisfied}（{h.reopened}）"],
            ["回访未能联系", h.unreached],
            ["整改期限起算", FIX_CLOCK_LABELS[current_rules(conn).deadlines.fix_clock_from]],
            ["经批准延期（按延期后的期限计）", h.extended],
        ]
        + [
            row
            for _, name, done, judged, rate in h.step_rates
            for row in ([f"{name}按时（件/应计）", f"{done}/{judged}"], [f"{name}按时率", rate])
        ]
        + [
            [f"黄牌（{moment}）", h.yellow_count],
            [f"红牌（{moment}）", h.red_count],
        ]
    )


def _figures(f: metrics.Figures) -> list:
    return [
        f.n,
        f.good,
        f.good_rate,
        f.active_good_rate,
        f.bad,
        f.bad_rate,
        f.mean_level,
        f.prompted,
        f.participation_rate,
        f.unrated_rate,
    ]


def _rankings(conn, scope: Scope, board, period, names: Names, settings: ConsoleSettings) -> Section:
    """最佳服务窗口 and 服务之星 on 主动评价 (系统默认评价 left out), 多次差评人员 on 差评 verified 属实, and the
    clerks whose 差评 are not verified yet, apart."""
    from sync_server.workflow.stats import bad_by_clerk

    bad = bad_by_clerk(conn, scope, period.first, period.last, board.department)
    verified = {clerk: b.verified for clerk, b in bad.items()}
    least = settings.min_ratings_to_rank
    rows = []
    for title, table, name in (
        ("最佳服务窗口", board.by_window, names.window),
        ("服务之星", board.by_clerk, names.clerk),
    ):
        for i, (code, f) in enumerate(metrics.ranking(table, least, verified_bad=verified), 1):
            rows.append([title, i, name(code), f.active_n, f.active_good_rate, verified.get(code, 0), ""])
    for i, (code, b) in enumerate(metrics.repeated_bad(bad, settings.repeated_bad_threshold), 1):
        rows.append(["多次差评人员", i, names.clerk(code), "", "", b.verified, f"尚未核实 {b.unverified} 条"])
    for code, b in metrics.unverified_bad(bad):
        rows.append(["差评尚未核实", "", names.clerk(code), "", "", "", f"{b.unverified} 条"])
    header = ["榜单", "名次", "名称", f"主动评价（至少 {least} 条）", "主动评价好评率", "属实差评", "备注"]
    return Section("排名", header, rows)


def _bad_summary(conn, scope: Scope, board, period, names: Names) -> list[Section]:
    f = RatingFilter(period=period, department=board.department, level="bad")
    rows, reasons = [], Counter()
    for r in stored.counting_ratings(conn, conditions(f, scope, names)):
        if r.excluded or '"test": true' in (r.detail or ""):
            continue
        codes = known_reasons(json.loads(r.reasons or "[]"), r.level, frozenset(names.reasons))
        reasons.update(codes)  # a code outside the configured list is never counted (flagged at ingest)
        rows.append(
            [
                china_time(r.occurred_at),
                level_label(r.level),
                names.window(r.true_window),
                names.clerk(r.clerk_no),
                names.matter(r.matter_code),
                r.case_no or "",
                "；".join(names.reason(c) for c in codes),
                r.comment or "",
            ]
        )
    by_reason = [[code, names.reason(code), n] for code, n in sorted(reasons.items(), key=lambda cn: (-cn[1], cn[0]))]
    return [
        Section("差评汇总", ["评价时间", "等级", "窗口", "工作人员", "事项", "办件编号", "测评内容", "文字评价"], rows),
        Section("差评原因", ["代码", "测评内容", "条数"], by_reason),
    ]


XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header


def gbt_workbook(rows: Iterator[list]) -> bytes:
    """The 表9 export as a write-only workbook (rows stream in; a month of a busy hall stays in memory once)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("评价数据")
    ws.append(xlsx_stream_row(ws, GBT_HEADER))
    for i, row in enumerate(rows):
        if i >= XLSX_MAX_ROWS:
            from sync_server.console.errors import BadInput

            raise BadInput("超过 Excel 单表行数上限，请缩短时间段或改用 CSV 导出")
        ws.append(xlsx_stream_row(ws, row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def workbook_bytes(sections: list[Section]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for s in sections:
        ws = wb.create_sheet(s.title)
        xlsx_append(ws, s.header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in s.rows:
            xlsx_append(ws, row)
        rate_cols = {i for i, h in enumerate(s.header) if h.endswith("率")}
        for row_cells in ws.iter_rows(min_row=2):
            label = row_cells[0].value
            for i, cell in enumerate(row_cells):
                is_rate = i in rate_cols or (s.title == "概况" and i == 1 and str(label).endswith("率"))
                if is_rate and isinstance(cell.value, float):
                    cell.number_format = "0.0%"
                elif isinstance(cell.value, float):
                    cell.number_format = "0.00"
        for i, _ in enumerate(s.header):
            ws.column_dimensions[ws.cell(1, i + 1).column_letter].width = 18
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_text(sections: list[Section]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for s in sections:
        writer.writerow(csv_row([f"【{s.title}】"]))
        writer.writerow(csv_row(s.header))
        for row in s.rows:
            label = str(row[0]) if row else ""
            cells = [
                _csv_cell(v, s.header[i] if i < len(s.header) else "", label, s.title, i) for i, v in enumerate(row)
            ]
            writer.writerow(csv_row(cells))
        writer.writerow([])
    return out.getvalue()


def _csv_cell(value, header: str, label: str, title: str, i: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        is_rate = header.endswith("率") or (title == "概况" and i == 1 and label.endswith("率"))
        return f"{value * 100:.1f}%" if is_rate else f"{value:.2f}"
    return str(value)


# ---------------------------------------------------------------- GB/T 39046-2020 表9 export


def gbt_rows(conn: Connection, f: RatingFilter, scope: Scope, names: Names, batch: int = 5000) -> Iterator[list]:
    """Counting ratings and 追评 of the filter, oldest first, in the 表9 field set (plus 备注: why a rating does
    not count), then the 测评内容 codes and names (configured codes only), the matter's code and name, the window
    (where its terminal is enrolled) and its department. 评价人 is the masked number the citizen left, or 匿名."""
    where = conditions(f, scope, names)
    after = None
    while True:
        rows = stored.gbt_page(conn, where, after, batch)
        for r in rows:
            yield _gbt_row(r, names)
        if len(rows) < batch:
            return
        after = (rows[-1].occurred_at, rows[-1].id)


def _gbt_row(r, names: Names) -> list:
    detail = json.loads(r.detail or "{}")
    note = []
    if detail.get("test") is True:
        note.append("测试评价，不计入统计")
    if r.excluded:
        note.append("已申诉排除（不予采纳），不计入统计")
    if r.role == "follow_up":
        note.append("追评")
    if r.channel == 0:
        note.append("系统默认评价")
    sent = json.loads(r.reasons or "[]")
    codes = known_reasons(sent, r.level, frozenset(names.reasons))
    if len(codes) < len(sent):
        note.append("含配置清单以外的测评内容代码（未列出，不计入）")
    window = r.counted_window or ""
    return [
        r.case_no or "",
        r.channel if r.channel is not None else "",
        r.contact_masked or "匿名",
        gbt_time(r.occurred_at),
        r.assess_number or 1,
        level_label(r.level),
        Level(r.level).gbt39046_code,
        r.comment or "",
        names.region_code,
        "；".join(note),
        "；".join(str(c) for c in codes),
        "；".join(names.reason(c) for c in codes),
        r.matter_code or "",
        names.matter(r.matter_code) if r.matter_code else "",
        names.window(window) if window else "",
        names.department(names.window_department.get(window)) if window else "",
    ]


# ---------------------------------------------------------------- routes


def _audit_export(request: Request, viewer: Viewer, what: str, detail: dict) -> None:
    app = request.app
    with app.state.store.write() as conn:
        write_audit(conn, app.state.clock(), viewer.username, "export", what, detail, client_address(request))


def _download(body: bytes | str, filename: str, media: str) -> Response:
    from urllib.parse import quote

    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}", "Cache-Control": "no-store"}
    return Response(body, media_type=media, headers=headers)


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/reports")
    def reports_page(request: Request, viewer: AnyUser):
        from sync_server.console.labels import china_today
        from sync_server.console.pages import names_of, page

        names = names_of(request)
        today = china_today(request.app.state.clock())
        departments = [
            (d, n) for d, n in names.departments.items() if not viewer.scope.restricted or d == viewer.scope.department
        ]
        return page(
            request,
            "reports.html",
            viewer,
            names=names,
            month=today.strftime("%Y-%m"),
            quarter=f"{today.year}Q{(today.month - 1) // 3 + 1}",
            departments=departments,
            today=today.isoformat(),
            first=today.replace(day=1).isoformat(),
        )

    from sync_server.console.known import check_filters

    @r.get("/reports/monthly.{fmt}")
    def monthly(
        request: Request, fmt: str, viewer: AnyUser, month: str = "", quarter: str = "", year: str = "",
        department: str = "",
    ):  # fmt: skip
        from sync_server.console.context import console_settings
        from sync_server.console.pages import names_of

        if fmt not in ("xlsx", "csv"):
            from sync_server.console.errors import BadInput

            raise BadInput("格式只能是 xlsx 或 csv")
        names = names_of(request)
        month = month or quarter or year or china_today(request.app.state.clock()).strftime("%Y-%m")
        dept = viewer.scope.department_filter(department or None)
        with request.app.state.store.read() as conn:
            check_filters(conn, names, department=dept)
            today = china_today(request.app.state.clock())  # the cards count today, as on the dashboard
            sections = monthly_report(conn, viewer.scope, month, dept, names, console_settings(request.app), today)
        _audit_export(request, viewer, f"monthly.{fmt}", {"month": month, "department": dept})
        filename = f"好差评通报-{month}{'-' + dept if dept else ''}.{fmt}"
        if fmt == "xlsx":
            return _download(workbook_bytes(sections), filename, XLSX)
        return _download("\ufeff" + csv_text(sections), filename, "text/csv; charset=utf-8")

    @r.get("/export/gbt39046.{fmt}")
    def gbt_export(request: Request, fmt: str, viewer: AnyUser):
        from sync_server.console.pages import names_of

        names = names_of(request)
        f = parse_filter(request, viewer.scope)
        _audit_export(request, viewer, f"gbt39046.{fmt}", f.query())
        filename = f"评价数据-GBT39046-{f.period.first.isoformat()}-{f.period.last.isoformat()}.{fmt}"
        store = request.app.state.store
        if fmt == "csv":
            return StreamingResponse(
                _stream_csv(store, f, viewer.scope, names),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": _disposition(filename), "Cache-Control": "no-store"},
            )
        if fmt != "xlsx":
            from sync_server.console.errors import BadInput

            raise BadInput("格式只能是 xlsx 或 csv")
        with store.read() as conn:
            body = gbt_workbook(gbt_rows(conn, f, viewer.scope, names))
        return _download(body, filename, XLSX)

    return r


def _disposition(filename: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename*=UTF-8''{quote(filename)}"


def _stream_csv(store, f: RatingFilter, scope: Scope, names: Names) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(csv_row(GBT_HEADER))
    yield "\ufeff" + buf.getvalue()
    with store.read() as conn:
        for row in gbt_rows(conn, f, scope, names):
            buf.seek(0)
            buf.truncate()
            writer.writerow(csv_row(row))
            yield buf.getvalue()
