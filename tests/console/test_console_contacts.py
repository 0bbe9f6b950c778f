"""The number a citizen left, in the console: masked on the 差评工单, the rating, the GB/T 39046 export (CSV and XLSX)
and the monthly report; in full only to whoever does 核实 or 回访 on that 差评工单, by the 查看完整号码 POST, which is
written to the audit log; a GET never shows it."""

from __future__ import annotations

import io
import re

import pytest
from console_helpers import CONTACT, NOV_CASES_EFFECTIVE, csrf_of, sign_in  # noqa: F401
from openpyxl import load_workbook
from sqlalchemy import select

from sync_server.storage.schema import audit_log, bad_cases, contacts

NOV = {"from": "2026-11-01", "to": "2026-11-30"}
MASKED = "138****1234"


def case_of(hall, case_no: str) -> int:
    with hall.store.read() as conn:
        return conn.execute(select(bad_cases.c.id).where(bad_cases.c.case_no == case_no)).scalar_one()


def contact_id(hall) -> int:
    with hall.store.read() as conn:
        return conn.execute(select(contacts.c.id).where(contacts.c.case_no == "C5")).scalar_one()


def reveals(hall) -> list:
    with hall.store.read() as conn:
        query = select(audit_log).where(audit_log.c.action == "contact.reveal").order_by(audit_log.c.id)
        return conn.execute(query).all()


@pytest.mark.parametrize("user", ["admin", "sc_reviewer", "duchá"])
def test_every_page_and_export_shows_the_number_masked(app_client, hall, user):
    sign_in(app_client, user)
    case_page = app_client.get(f"/console/cases/{case_of(hall, 'C5')}").text
    assert MASKED in case_page and CONTACT not in case_page
    assert CONTACT not in app_client.get(f"/console/ratings/{hall.ids['C5']}").text
    csv_export = app_client.get("/console/export/gbt39046.csv", params=NOV).text
    assert MASKED in csv_export and CONTACT not in csv_export
    xlsx = load_workbook(io.BytesIO(app_client.get("/console/export/gbt39046.xlsx", params=NOV).content))
    cells = [str(c) for ws in xlsx for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert MASKED in cells and not any(CONTACT in c for c in cells)
    if user != "sc_reviewer":  # the monthly report is the hall's
        report = load_workbook(io.BytesIO(app_client.get("/console/reports/monthly.xlsx", params=NOV).content))
        assert not any(CONTACT in str(c) for ws in report for row in ws.iter_rows(values_only=True) for c in row)


@pytest.mark.parametrize("user", ["admin", "sc_reviewer"])
def test_who_does_verification_or_revisit_sees_it_in_full_by_the_audited_action(app_client, hall, user):
    sign_in(app_client, user)
    case_id, cid = case_of(hall, "C5"), contact_id(hall)
    page = app_client.get(f"/console/cases/{case_id}").text
    assert "查看完整号码" in page and CONTACT not in page
    token = csrf_of(page)
    assert app_client.get(f"/console/cases/{case_id}/contacts/{cid}/reveal").status_code == 405  # never by GET
    shown = app_client.post(f"/console/cases/{case_id}/contacts/{cid}/reveal", data={"csrf_token": token})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert re.search(rf'id="revealed-{cid}">{CONTACT}<', shown.text)
    (entry,) = reveals(hall)
    assert (entry.actor, entry.target) == (user, f"差评工单 {case_id}") and '"case_no": "C5"' in entry.detail
    assert CONTACT not in entry.detail  # the log says who looked, never the number
    audit_page = app_client.get("/console/audit").text if user == "admin" else ""
    assert user != "admin" or "查看群众完整手机号" in audit_page
    assert CONTACT not in app_client.get(f"/console/cases/{case_id}").text  # the next GET is masked again


def test_a_supervisor_is_refused_and_the_refusal_is_logged(app_client, hall):
    sign_in(app_client, "duchá")
    case_id, cid = case_of(hall, "C5"), contact_id(hall)
    page = app_client.get(f"/console/cases/{case_id}").text
    assert "查看完整号码" not in page and "只向办理本工单核实或回访的人员显示" in page
    refused = app_client.post(f"/console/cases/{case_id}/contacts/{cid}/reveal", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 403 and CONTACT not in refused.text
    assert reveals(hall) == []
    with hall.store.read() as conn:
        actions = conn.execute(select(audit_log.c.action).where(audit_log.c.actor == "duchá")).scalars().all()
    assert "refused" in actions


def test_another_departments_reviewer_cannot_reach_it(app_client, hall):
    sign_in(app_client, "rs_reviewer")
    case_id, cid = case_of(hall, "C5"), contact_id(hall)
    token = csrf_of(app_client.get("/console/cases").text)
    answer = app_client.post(f"/console/cases/{case_id}/contacts/{cid}/reveal", data={"csrf_token": token})
    assert answer.status_code == 404 and CONTACT not in answer.text
    assert reveals(hall) == []
