"""The audit log as people read it: Chinese action labels, details as named fields, filters by user, action,
object and date with the total, paging back through every entry, a CSV export safe from formula injection, and the
refusals and failed or throttled sign-ins that were not logged before."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from console_helpers import NOW, csrf_of, sign_in
from sqlalchemy import func, select

from sync_server.console.accounts import write_audit
from sync_server.storage.schema import audit_log


def rows_of(html: str) -> list[tuple[str, str]]:
    """(action code, the row's text) of every entry on an audit page."""
    out = []
    for action, body in re.findall(r'<tr data-id="\d+" data-action="([^"]+)">(.*?)</tr>', html, re.S):
        out.append((action, re.sub(r"<[^>]+>", "", body.replace("</td>", " | ").replace("</div>", " "))))
    return out


def test_actions_are_labelled_in_chinese_and_details_are_named_fields(app_client):
    assert sign_in(app_client, "admin", "wrong-password").status_code == 401
    sign_in(app_client, "sc_reviewer")
    assert app_client.get("/console/users").status_code == 403
    app_client.cookies.clear()
    sign_in(app_client, "admin")
    page = app_client.get("/console/audit").text
    rows = rows_of(page)
    by_action = {a: text for a, text in reversed(rows)}
    assert "登录失败" in by_action["signin.failed"]
    assert "操作被拒绝（无权限）" in by_action["refused"] and "您的角色无权访问此页面" in by_action["refused"]
    assert "/console/users" in by_action["refused"] and "请求：查看" in by_action["refused"]
    assert "角色：部门审核员" in by_action["signin"] or "角色：大厅管理员" in by_action["signin"]
    assert "部门：市场监管局" in by_action["user.add"] or "角色：督查" in by_action["user.add"]
    for _action, text in rows:
        assert "=None" not in text and "role=" not in text and "{'" not in text
    assert not [a for a, text in rows if f"| {a} |" in text], "an English action code is shown as the label"


def test_filters_by_user_action_object_and_date_with_the_total(app_client):
    sign_in(app_client, "admin")
    every = int(re.search(r'id="audit-total">(\d+)<', app_client.get("/console/audit").text).group(1))
    page = app_client.get("/console/audit?actor=test&action=user.add").text
    assert re.search(r'id="audit-total">4<', page)  # the four users of the seeded hall
    assert {a for a, _ in rows_of(page)} == {"user.add"}
    page = app_client.get("/console/audit?target=sc_reviewer").text
    assert [a for a, _ in rows_of(page)] == ["user.add"]
    nov_28 = NOW.date().isoformat()
    page = app_client.get(f"/console/audit?from={nov_28}&to={nov_28}").text
    assert {a for a, _ in rows_of(page)} == {"signin"}  # the users were added on 1 November
    total = int(re.search(r'id="audit-total">(\d+)<', page).group(1))
    assert 0 < total < every
    assert app_client.get("/console/audit?action=drop.table").status_code == 400


def test_paging_reaches_every_entry(app_client, hall):
    with hall.store.write() as conn:
        for n in range(250):
            write_audit(conn, NOW - timedelta(minutes=n), "批量", "export", f"monthly-{n}.csv", {"month": "2026-11"})
    sign_in(app_client, "admin")
    seen, url, pages = [], "/console/audit?actor=批量", 0
    while url:
        html = app_client.get(url).text
        assert re.search(r'id="audit-total">250<', html)
        seen += re.findall(r'<tr data-id="(\d+)"', html)
        found = re.search(r'<a href="([^"]+)" id="audit-older">', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 250
    with hall.store.read() as conn:
        ids = {str(i) for i in conn.execute(select(audit_log.c.id).where(audit_log.c.actor == "批量")).scalars()}
    assert set(seen) == ids


def test_csv_export_of_the_filter_is_safe_from_formulas_and_is_itself_audited(app_client, hall):
    with hall.store.write() as conn:
        write_audit(conn, NOW, "=cmd|' /C calc'!A0", "export", '=HYPERLINK("http://x","领补贴")', {"month": "@SUM(1)"})
    sign_in(app_client, "admin")
    answer = app_client.get("/console/audit.csv?action=export")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert table[0] == ["序号", "时间（北京时间）", "操作人", "操作", "对象", "详情", "来源地址"]
    row = next(r for r in table[1:] if "HYPERLINK" in r[4])
    assert row[2].startswith("'=") and row[4].startswith("'=") and row[5] == "月份：@SUM(1)"
    assert row[3] == "导出数据"
    assert all(r[3] == "导出数据" for r in table[1:])
    with hall.store.read() as conn:
        logged = conn.execute(select(func.count()).where(audit_log.c.target == "audit.csv")).scalar_one()
    assert logged == 1


def test_a_throttled_sign_in_is_logged(app_client, hall):
    for _ in range(6):
        sign_in(app_client, "admin", "wrong-password")
    refused = sign_in(app_client, "admin")
    assert refused.status_code == 429
    with hall.store.read() as conn:
        actions = list(
            conn.execute(select(audit_log.c.action).where(audit_log.c.target == "admin").order_by(audit_log.c.id))
        )
    assert [a for (a,) in actions].count("signin.failed") >= 5
    assert actions[-1] == ("signin.throttled",)


def test_a_supervisor_reads_the_log_and_a_reviewer_may_not(app_client):
    sign_in(app_client, "duchá")
    assert app_client.get("/console/audit").status_code == 200
    token = csrf_of(app_client.get("/console/audit").text)
    assert token
    app_client.cookies.clear()
    sign_in(app_client, "sc_reviewer")
    assert app_client.get("/console/audit").status_code == 403
    assert app_client.get("/console/audit.csv").status_code == 403
