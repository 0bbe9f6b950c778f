"""The console's 考核与考勤 pages: an administrator enters a manual event with evidence, two administrators confirm
a heavy one, bad input gets a Chinese message and stores nothing, a reviewer sees only their department and
cannot enter events, and the XLSX/CSV assessment sheets open with openpyxl."""

from __future__ import annotations

import io

import openpyxl
import pytest
from assessment_helpers import china, csrf_of, sign_in
from fastapi.testclient import TestClient

from sync_server.app import create_app
from sync_server.storage import assessment as db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
NOW = china(2026, 6, 10, 15)


@pytest.fixture
def client_for(sqlite_store):
    clients = []

    def make(username: str) -> TestClient:
        c = TestClient(create_app(sqlite_store, clock=lambda: NOW), raise_server_exceptions=False)
        assert sign_in(c, username).status_code == 303
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def post(client, path: str, data: dict, files=None):
    token = csrf_of(client.get("/console/assessment").text)
    return client.post(path, data={"csrf_token": token, "year": "2026", **data}, files=files, follow_redirects=False)


def events(store) -> list:
    with store.read() as conn:
        return db.events_between(conn, "2026-01-01", "2026-12-31")


def test_enter_confirm_and_see_an_event_with_its_evidence(client_for, sqlite_store):
    admin, admin2 = client_for("admin"), client_for("admin2")
    form = {"clerk_no": "1001", "kind": "games", "points": "", "day": "2026-06-09", "summary": "工作时间玩电脑游戏"}
    r = post(admin, "/console/assessment/events", form, files=[("evidence", ("照片.png", PNG, "image/png"))])
    assert r.status_code == 303
    (e,) = events(sqlite_store)
    page = admin.get("/console/assessment?year=2026").text
    assert f'id="event-{e.id}"' in page and "待确认" in page

    assert post(admin, f"/console/assessment/events/{e.id}/confirm", {"note": "督查拍照属实"}).status_code == 303
    again = post(admin, f"/console/assessment/events/{e.id}/confirm", {"note": "再确认"})
    assert again.status_code == 403 and "另一位管理员" in again.text
    assert post(admin2, f"/console/assessment/events/{e.id}/confirm", {"note": "复查属实"}).status_code == 303

    clerk_page = admin.get("/console/assessment/clerks/1001?year=2026").text
    assert "照片.png" in clerk_page and "admin：督查拍照属实" in clerk_page and "admin2：复查属实" in clerk_page
    assert "<b>95</b>" in clerk_page and "优秀" in clerk_page
    with sqlite_store.read() as conn:
        evidence_id = db.evidence_list(conn, [e.id])[e.id][0].id
    assert admin.get(f"/console/assessment/evidence/{evidence_id}").content == PNG


@pytest.mark.parametrize(
    "form, files, message",
    [
        ({"kind": "nap"}, None, "未知的考核事件类别"),
        ({"kind": "attitude", "points": "9"}, None, "分值应为 2–5 分"),
        ({"day": "2025-06-09"}, None, "不在 2026 年度考核期内"),
        ({"clerk_no": "7777"}, None, "不是本大厅的窗口工作人员"),
        ({}, [("evidence", ("信.docx", b"PK\x03\x04word", "application/octet-stream"))], "不是 JPG、PNG 或 PDF 文件"),
    ],
)
def test_bad_input_gets_a_chinese_message_and_stores_nothing(client_for, sqlite_store, form, files, message):
    admin = client_for("admin")
    data = {"clerk_no": "1001", "kind": "thanks", "points": "", "day": "2026-06-09", "summary": "感谢信", **form}
    r = post(admin, "/console/assessment/events", data, files=files)
    assert r.status_code == 400
    assert message in r.text
    assert events(sqlite_store) == []


def test_leave_needs_the_centre_filing_for_a_whole_day(client_for, sqlite_store):
    admin = client_for("admin")
    data = {
        "clerk_no": "1001",
        "first_day": "2026-06-08",
        "last_day": "2026-06-09",
        "part": "day",
        "approved_by": "陈局长",
    }
    r = post(admin, "/console/assessment/leave", data)
    assert r.status_code == 400 and "报政务服务中心主任备案" in r.text
    assert post(admin, "/console/assessment/leave", {**data, "filed_with_centre": "1"}).status_code == 303
    with sqlite_store.read() as conn:
        assert [x.part for x in db.leave_between(conn, "2026-06-01", "2026-06-30")] == ["day"]


def test_a_reviewer_sees_their_department_and_cannot_enter_events(client_for, sqlite_store):
    reviewer = client_for("rs_reviewer")  # 人社局: clerk 1003 only
    page = reviewer.get("/console/assessment?year=2026").text
    assert "1003" in page and "李晓梅" not in page
    token = csrf_of(page)
    data = {"csrf_token": token, "clerk_no": "1003", "kind": "thanks", "day": "2026-06-09", "summary": "x"}
    assert reviewer.post("/console/assessment/events", data=data, follow_redirects=False).status_code == 403
    assert reviewer.get("/console/assessment/clerks/1001?year=2026").status_code == 400
    assert reviewer.get("/console/assessment/sheet.csv?year=2026&department=SC").status_code == 403


def test_the_assessment_sheets_open_in_openpyxl(client_for, sqlite_store):
    admin = client_for("admin")
    r = admin.get("/console/assessment/sheet.xlsx?year=2026&department=SC")
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = rows.index(["部门", "工号", "姓名", "基础分", "扣分", "加分", "复核更正", "得分", "等次", "计入事件数"])
    assert [r[1] for r in rows[header + 1 :]] == ["1001", "1002"]
    assert rows[header + 1][7:9] == [100, "优秀"]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    csv = admin.get("/console/assessment/sheet.csv?year=2026").text
    assert csv.startswith("\ufeff") and "1004" in csv
    assert admin.get("/console/assessment/sheet.pdf?year=2026").status_code == 400


def test_close_the_year_then_a_review_through_the_pages(sqlite_store):
    from sync_server.assessment.events import Person
    from sync_server.assessment.scores import panel_add

    clock = {"now": china(2026, 12, 20, 10)}
    clients = []

    def make(username: str) -> TestClient:
        c = TestClient(create_app(sqlite_store, clock=lambda: clock["now"]), raise_server_exceptions=False)
        assert sign_in(c, username).status_code == 303
        clients.append(c)
        return c

    admin, admin2, supervisor = make("admin"), make("admin2"), make("supervisor")
    form = {"clerk_no": "1002", "kind": "shirking", "points": "", "day": "2026-12-01", "summary": "推诿群众"}
    assert post(admin, "/console/assessment/events", form).status_code == 303
    (e,) = events(sqlite_store)
    post(admin, f"/console/assessment/events/{e.id}/confirm", {"note": "属实"})
    post(admin2, f"/console/assessment/events/{e.id}/confirm", {"note": "属实"})
    early = post(admin, "/console/assessment/close", {})
    assert early.status_code == 409 and "尚未结束" in early.text

    clock["now"] = china(2027, 1, 5, 10)
    admin, supervisor = make("admin"), make("supervisor")  # the sessions of December have expired
    assert post(admin, "/console/assessment/close", {}).status_code == 303
    page = admin.get("/console/assessment?year=2026").text
    assert "年度考核已于" in page and "校验一致" in page
    data = {"clerk_no": "1002", "event_id": str(e.id), "statement": "当事人咨询的事项不属本窗口"}
    assert post(admin, "/console/assessment/objections", data).status_code == 303
    with sqlite_store.read() as conn:
        (objection,) = db.objections(conn, 2026)
    decide = {"outcome": "upheld", "reason": "经查属实，已引导至正确窗口，不属推诿"}
    refused = post(supervisor, f"/console/assessment/objections/{objection.id}", decide)
    assert refused.status_code == 403 and "不在考核领导小组" in refused.text
    panel_add(sqlite_store, "supervisor", Person("admin", "admin"), clock["now"])
    assert post(supervisor, f"/console/assessment/objections/{objection.id}", decide).status_code == 303
    clerk_page = admin.get("/console/assessment/clerks/1002?year=2026").text
    assert "<b>100</b>" in clerk_page and "更正 +10 分" in clerk_page and "复核成立" in clerk_page
    for c in clients:
        c.close()
