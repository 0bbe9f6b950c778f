"""``GET /console/audit`` and ``/console/audit.csv``: the audit log as people read it. Every action has a Chinese
label, details are shown as named fields, the log filters by user, action, object and date, pages back through
every entry, and exports the filter as CSV (cells through ``sync_server.sheets``)."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sync_server.console import labels
from sync_server.console.accounts import ROLES, write_audit
from sync_server.console.auth import OverseerUser, client_address
from sync_server.console.errorpages import MAX_ROW_ID
from sync_server.console.errors import BadInput
from sync_server.sheets import csv_text
from sync_server.storage.auditlog import AuditFilter, audit_actors, audit_entries, audit_page, audit_total

PAGE_SIZE = 100
ACTION_LABELS = {
    "signin": "登录",
    "signin.failed": "登录失败",
    "signin.throttled": "登录被暂停（失败次数过多）",
    "signout": "退出登录",
    "refused": "操作被拒绝（无权限）",
    "user.add": "新增用户",
    "user.disable": "停用用户",
    "device.code": "生成评价器登记码",
    "device.enrol": "评价器登记",
    "device.revoke": "停用评价器",
    "device.rename": "评价器改名",
    "export": "导出数据",
    "rollup.rebuild": "重算统计汇总",
    "workdays.load": "载入节假日安排",
    "webhook.set": "设置差评推送地址",
    "case.withdraw": "差评工单：系统撤销",
    "assessment.propose": "考核：生成待确认事项",
    "assessment.confirm": "考核：确认事项",
    "assessment.dismiss": "考核：不予认定",
    "assessment.withdraw": "考核：撤回待确认事项",
    "assessment.manual": "考核：录入事项",
    "assessment.leave": "考勤：登记请假",
    "assessment.year.close": "考核：年度结账",
    "assessment.objection": "考核：提出复核",
    "assessment.objection.decide": "考核：复核决定",
    "assessment.panel.add": "考核领导小组：增加成员",
    "upstream.resend": "上报：重新上报",
    "contact.reveal": "查看群众完整手机号",
    "contact.purge": "按规定删除群众手机号",
    "report.publish": "发布通报",
}
CASE_GROUP = "case"  # the action filter's value for every 差评工单 step
FIELD_LABELS = {
    "role": "角色",
    "count": "数量",
    "keep_days": "办结后保留天数",
    "contact_id": "手机号编号",
    "case_no": "办件编号",
    "department": "部门",
    "reason": "原因",
    "method": "请求",
    "step": "环节",
    "from": "原状态",
    "to": "新状态",
    "finding": "核实情况",
    "fix_kind": "问题类型",
    "text": "说明",
    "category": "类别（恶意差评/误操作）",
    "statement": "书面报告",
    "evidence": "证据文件",
    "note": "意见",
    "appeal_id": "书面报告（申诉）编号",
    "level": "评价等级",
    "month": "月份",
    "period": "统计期",
    "version": "版本",
    "xlsx_hash": "Excel 文件散列",
    "csv_hash": "CSV 文件散列",
    "days": "日期",
    "enabled": "启用",
    "window": "窗口",
    "clerk": "工号",
    "matter": "事项",
    "channel": "渠道",
    "flag": "完整性标记",
    "expires_at": "有效期至",
    "name": "名称",
    "old_name": "原名称",
    "device": "设备",
    "year": "年份",
    "file": "文件",
    "state": "状态",
    "kind": "事项类别",
    "points": "分值",
    "day": "日期",
    "first": "起始日期",
    "last": "截止日期",
    "part": "时段",
    "content_hash": "内容散列",
    "clerks": "人数",
    "grades": "等次",
    "event": "事项编号",
    "upheld": "复核成立",
    "correction": "更正",
    "code": "代码",
    "message": "平台说明",
}
METHODS = {"GET": "查看", "POST": "提交"}


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    if action.startswith("case."):
        from sync_server.workflow.machine import STEP_LABELS, Step

        step = action.removeprefix("case.")
        if step in Step.__members__.values():
            return f"差评工单：{STEP_LABELS[Step(step)]}"
    return action


def action_choices() -> list[tuple[str, str]]:
    """(value, label) for the action filter: each known action, and every 差评工单 step as one choice."""
    return [*ACTION_LABELS.items(), (CASE_GROUP, "差评工单办理（全部环节）")]


def _value(key: str, value, names: labels.Names) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if key == "role":
        return ROLES.get(str(value), str(value))
    if key == "department":
        return names.department(str(value))
    if key == "method":
        return METHODS.get(str(value), str(value))
    if key.endswith("_at") and isinstance(value, str):
        return labels.china_time(value)
    if key == "level":
        return labels.level_label(int(value)) if str(value).isdigit() else str(value)
    if isinstance(value, list):
        return "、".join(_value(key, v, names) for v in value)
    if isinstance(value, dict):
        if "name" in value:
            return str(value["name"]) + (f"（SHA-256 {str(value['sha256'])[:12]}…）" if value.get("sha256") else "")
        return "，".join(f"{FIELD_LABELS.get(k, k)}：{_value(k, v, names)}" for k, v in value.items())
    return str(value)


def detail_fields(detail_json: str | None, names: labels.Names) -> list[tuple[str, str]]:
    """The entry's detail as (label, text) pairs a person can read; empty values are left out."""
    detail = json.loads(detail_json or "{}")
    if not isinstance(detail, dict):
        return [("内容", str(detail))]
    return [
        (FIELD_LABELS.get(key, key), _value(key, value, names))
        for key, value in detail.items()
        if value not in (None, "", [], {})
    ]


def parse_audit_filter(q) -> AuditFilter:
    action = (q.get("action") or "").strip()
    if action and action != CASE_GROUP and action not in ACTION_LABELS:
        raise BadInput(f"没有这种操作：{action}", field="action")
    if action == CASE_GROUP:
        from sync_server.workflow.machine import Step

        actions = tuple(f"case.{s.value}" for s in Step) + ("case.withdraw",)
    else:
        actions = (action,) if action else ()
    first, last = _day(q.get("from")), _day(q.get("to"))
    if first and last and last < first:
        raise BadInput("结束日期不能早于开始日期", field="to")
    return AuditFilter(
        actor=(q.get("actor") or "").strip() or None,
        actions=actions,
        target=(q.get("target") or "").strip()[:256] or None,
        first=first,
        last=last,
    )


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"日期格式应为 YYYY-MM-DD：{text}") from None


def _before(text: str | None) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_ROW_ID:
        raise BadInput("分页参数无效")
    return int(text)


FILTER_KEYS = ("actor", "action", "target", "from", "to")
CSV_HEADER = ["序号", "时间（北京时间）", "操作人", "操作", "对象", "详情", "来源地址"]


def router() -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)

    @r.get("/audit")
    def audit_list(request: Request, viewer: OverseerUser):
        from sync_server.console.pages import names_of, page

        q = request.query_params
        f = parse_audit_filter(q)
        before = _before(q.get("before"))
        names = names_of(request)
        with request.app.state.store.read() as conn:
            rows, next_before = audit_page(conn, f, before, PAGE_SIZE)
            total = audit_total(conn, f)
            actors = audit_actors(conn)
        kept = {k: q.get(k) for k in FILTER_KEYS if q.get(k)}
        entries = [(row, action_label(row.action), detail_fields(row.detail, names)) for row in rows]
        return page(
            request,
            "audit.html",
            viewer,
            names=names,
            entries=entries,
            total=total,
            kept=kept,
            actors=actors,
            actions=action_choices(),
            next_url=f"/console/audit?{urlencode({**kept, 'before': next_before})}" if next_before else None,
            first_url=f"/console/audit?{urlencode(kept)}" if before else None,
            export_url=f"/console/audit.csv?{urlencode(kept)}",
        )

    @r.get("/audit.csv")
    def audit_csv(request: Request, viewer: OverseerUser):
        from sync_server.console.pages import names_of

        q = request.query_params
        f = parse_audit_filter(q)
        names = names_of(request)
        app = request.app
        with app.state.store.read() as conn:
            rows = [
                [
                    row.id,
                    labels.china_time(row.at),
                    row.actor,
                    action_label(row.action),
                    row.target or "",
                    "；".join(f"{k}：{v}" for k, v in detail_fields(row.detail, names)),
                    row.address or "",
                ]
                for row in audit_entries(conn, f)
            ]
        kept = {k: q.get(k) for k in FILTER_KEYS if q.get(k)}
        with app.state.store.write() as conn:  # the export itself is an entry (after the read: not in the file)
            write_audit(conn, app.state.clock(), viewer.username, "export", "audit.csv", kept, client_address(request))
        from urllib.parse import quote

        filename = quote("审计日志.csv")
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{filename}", "Cache-Control": "no-store"}
        return Response(csv_text([CSV_HEADER, *rows]), media_type="text/csv; charset=utf-8", headers=headers)

    return r
