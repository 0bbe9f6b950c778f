"""Access rules a hall would check: a department reviewer reaches nothing of another department by any page, list,
export, detail URL or crafted parameter; forms need the session's CSRF token; comments show as text; contact data
is masked for roles that need not call back; failed sign-ins are throttled; every change is in the audit log."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from console_helpers import CONTACT, csrf_of, sign_in
from openpyxl import load_workbook
from sqlalchemy import select, text

from sync_server.storage.schema import audit_log

NOV = {"from": "2026-11-01", "to": "2026-11-30"}
SC_CASES = {"C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8"}
OTHER_CASES = {"C9", "C10", "C11", "C12", "C13", "C14"}
PAGES = [
    "/console/dashboard",
    "/console/ratings",
    "/console/integrity",
    "/console/devices",
    "/console/reports",
    "/console/users",
    "/console/audit",
    "/console/reports/monthly.xlsx",
    "/console/export/gbt39046.csv",
]


def audit_actions(store) -> list[tuple[str, str]]:
    with store.read() as conn:
        return [(r.actor, r.action) for r in conn.execute(select(audit_log).order_by(audit_log.c.id))]


def listed_ids(html: str) -> set[str]:
    return set(re.findall(r'<tr class="[^"]*" data-id="([^"]+)"', html))


def test_every_console_page_sends_a_stranger_to_the_sign_in_page(app_client):
    for path in PAGES:
        r = app_client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next="), path


def test_reviewer_sees_only_its_department_everywhere(app_client, hall):
    assert sign_in(app_client, "sc_reviewer").status_code == 303
    dash = app_client.get("/console/dashboard", params=NOV).text
    assert "市场监管局" in dash and "人社局" not in dash and "B03 社保窗口" not in dash
    ids = listed_ids(app_client.get("/console/ratings", params=NOV).text)
    assert ids and ids <= {hall.ids[c] for c in SC_CASES - {"C6"}} | {hall.ids["C8-follow-up"]}
    for crafted in ({"window": "B03"}, {"clerk": "1003"}, {"matter": "11450102MB7654321Y3000201"}):
        assert listed_ids(app_client.get("/console/ratings", params={**NOV, **crafted}).text) == set()
    rows = list(
        csv.reader(io.StringIO(app_client.get("/console/export/gbt39046.csv", params=NOV).text.lstrip("\ufeff")))
    )
    assert {r[0] for r in rows[1:]} <= SC_CASES and rows[1:]
    book = load_workbook(
        io.BytesIO(app_client.get("/console/reports/monthly.xlsx", params={"month": "2026-11"}).content)
    )
    assert [row[0] for row in book["按部门"].iter_rows(min_row=2, values_only=True)] == ["市场监管局"]
    assert "人社局" not in app_client.get("/console/reports/monthly.csv", params={"month": "2026-11"}).text


@pytest.mark.parametrize(
    "path, params",
    [
        ("/console/dashboard", {"department": "RS"}),
        ("/console/ratings", {"department": "RS"}),
        ("/console/export/gbt39046.csv", {"department": "RS"}),
        ("/console/export/gbt39046.xlsx", {"department": "BDC"}),
        ("/console/reports/monthly.xlsx", {"month": "2026-11", "department": "RS"}),
        ("/console/reports/monthly.csv", {"month": "2026-11", "department": "RS"}),
        ("/console/integrity", {}),
        ("/console/devices", {}),
        ("/console/users", {}),
        ("/console/audit", {}),
    ],
)
def test_reviewer_is_refused_other_departments_and_hall_pages(app_client, path, params):
    sign_in(app_client, "sc_reviewer")
    r = app_client.get(path, params=params)
    assert r.status_code == 403
    assert "无权访问" in r.text


def test_reviewer_cannot_open_another_departments_rating_by_url(app_client, hall):
    sign_in(app_client, "sc_reviewer")
    for case in OTHER_CASES:
        r = app_client.get(f"/console/ratings/{hall.ids[case]}")
        assert r.status_code == 404, case
        assert "不在您的查看范围内" in r.text
    assert app_client.get(f"/console/ratings/{hall.ids['C1']}").status_code == 200


def test_a_script_comment_shows_as_text(app_client, hall):
    sign_in(app_client, "admin")
    for page in (app_client.get(f"/console/ratings/{hall.ids['C5']}"), app_client.get("/console/ratings", params=NOV)):
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;态度差" in page.text
        assert "<script>" not in page.text
    assert "script-src" not in app_client.get("/console/dashboard").headers["content-security-policy"]


@pytest.mark.parametrize("user", ["admin", "sc_reviewer", "duchá"])
def test_contact_is_masked_on_the_rating_and_in_the_export_for_every_role(app_client, hall, user):
    sign_in(app_client, user)
    page = app_client.get(f"/console/ratings/{hall.ids['C5']}").text
    assert re.search(r'<dd id="contact">([^<]*)</dd>', page).group(1) == "138****1234"
    assert CONTACT not in page  # in full only on the 差评工单, by 查看完整号码
    export = app_client.get("/console/export/gbt39046.csv", params=NOV).text
    assert CONTACT not in export and "138****1234" in export  # 评价人 is always masked in the export


def test_forms_without_the_sessions_csrf_token_are_refused(app_client, hall):
    sign_in(app_client, "admin")
    new_user = {"username": "new_one", "password": "long-enough-1", "role": "supervisor", "department": ""}
    assert app_client.post("/console/users", data=new_user).status_code == 403
    assert app_client.post("/console/users", data={**new_user, "csrf_token": "forged"}).status_code == 403
    assert app_client.post("/console/logout", data={}).status_code == 403
    token = csrf_of(app_client.get("/console/users").text)
    r = app_client.post("/console/users", data={**new_user, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert ("admin", "user.add") in audit_actions(hall.store)
    assert "new_one" in app_client.get("/console/users").text


def test_sign_in_form_without_its_token_is_refused(app_client):
    r = app_client.post("/console/login", data={"username": "admin", "password": "admin-pass-1"})
    assert r.status_code == 403 and "登录表单已失效" in r.text


def test_a_supervisor_reads_everything_but_changes_nothing(app_client):
    sign_in(app_client, "duchá")
    assert app_client.get("/console/integrity").status_code == 200
    assert app_client.get("/console/audit").status_code == 200
    token = csrf_of(app_client.get("/console/dashboard").text)
    data = {"username": "x_user", "password": "long-enough-1", "role": "admin", "csrf_token": token}
    assert app_client.post("/console/users", data=data).status_code == 403


def test_failed_sign_ins_are_throttled_per_username_and_audited(app_client, hall):
    for _ in range(5):
        r = sign_in(app_client, "admin", "wrong-password")
        assert r.status_code == 401 and "用户名或密码不正确" in r.text
    r = sign_in(app_client, "admin")  # the right password no longer helps
    assert r.status_code == 429 and "登录失败次数过多" in r.text
    assert sign_in(app_client, "duchá").status_code == 303  # another user from the same address still may
    assert audit_actions(hall.store).count(("admin", "signin.failed")) == 5


def test_a_refused_sign_in_keeps_the_user_name_but_never_the_password(app_client):
    r = sign_in(app_client, "admin", "wrong-password")
    assert r.status_code == 401
    assert re.search(r'name="username"[^>]*value="admin"', r.text)
    assert "wrong-password" not in r.text
    assert 'id="login-error" role="alert"' in r.text and 'aria-describedby="login-error"' in r.text


def test_sessions_expire_after_idle_time_and_sign_out_ends_them(app_client, hall):
    sign_in(app_client, "admin")
    assert app_client.get("/console/dashboard", follow_redirects=False).status_code == 200
    app_client.app.state.clock.now += timedelta(hours=8, minutes=1)
    assert app_client.get("/console/dashboard", follow_redirects=False).status_code == 303
    sign_in(app_client, "admin")
    token = csrf_of(app_client.get("/console/dashboard").text)
    assert app_client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert app_client.get("/console/dashboard", follow_redirects=False).status_code == 303
    actions = [a for _, a in audit_actions(hall.store)]
    assert actions.count("signin") == 2 and "signout" in actions


def test_exports_are_audited_and_the_audit_log_refuses_changes(app_client, hall):
    sign_in(app_client, "admin")
    app_client.get("/console/export/gbt39046.xlsx", params=NOV)
    assert ("admin", "export") in audit_actions(hall.store)
    with pytest.raises(Exception, match="append-only"), hall.store.write() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    with pytest.raises(Exception, match="append-only"), hall.store.write() as conn:
        conn.execute(text("DELETE FROM audit_log"))


def test_failed_sign_ins_are_throttled_per_address_too(app_client):
    for i in range(20):
        assert sign_in(app_client, f"guess{i}", "wrong-password").status_code == 401
    r = sign_in(app_client, "duchá")
    assert r.status_code == 429 and r.headers["retry-after"] == "900"


def test_a_disabled_user_loses_its_open_session_and_cannot_sign_in(app_client, hall):
    from fastapi.testclient import TestClient

    with TestClient(app_client.app) as reviewer:
        sign_in(reviewer, "rs_reviewer")
        assert reviewer.get("/console/dashboard", follow_redirects=False).status_code == 200
        sign_in(app_client, "admin")
        token = csrf_of(app_client.get("/console/users").text)
        r = app_client.post(
            "/console/users/disable", data={"username": "rs_reviewer", "csrf_token": token}, follow_redirects=False
        )
        assert r.status_code == 303
        assert reviewer.get("/console/dashboard", follow_redirects=False).status_code == 303
        assert sign_in(reviewer, "rs_reviewer").status_code == 401
    assert ("admin", "user.disable") in audit_actions(hall.store)
