"""A 差评工单 step the server refuses comes back on the same page: the message next to the field that was wrong,
what was typed kept in the form, nothing stored; refusals by role or four-eyes are written to the audit log."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from sqlalchemy import select
from workflow_helpers import china, post_step, signed_in_clients

from sync_server.storage.schema import audit_log
from sync_server.workflow.cases import load_case

NOV = china(2026, 11, 2, 9)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def client_for(store, terminals):
    terminals["A01"].rate(1, NOV)
    with signed_in_clients(store) as make:
        yield make


def state(store) -> str:
    with store.read() as conn:
        return load_case(conn, 1)[0].state


def textarea(html: str, step: str) -> str:
    form = re.search(rf'<form[^>]*steps/{step}".*?</form>', html, re.S).group(0)
    return unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", form, re.S).group(1))


def test_a_too_long_finding_is_shown_at_its_field_with_the_text_and_choice_kept(client_for, store):
    sc = client_for("sc_reviewer")
    typed = "核实：窗口人员态度生硬<b>属实</b>" + "。" * 1000
    answer = post_step(sc, "verify_true", {"text": typed, "fix_kind": "complex"})
    assert answer.status_code == 400
    assert "<h1>差评工单 #1" in answer.text  # the case page again, not an error page
    assert re.search(r'id="error-verify_true-text"[^>]*>核实情况最多 1000 字<', answer.text)
    assert textarea(answer.text, "verify_true") == typed
    assert '<option value="complex" selected>' in answer.text
    assert 'id="done"' not in answer.text
    assert state(store) == "pending"


def test_a_rejected_evidence_file_is_shown_at_the_file_field_with_category_and_statement_kept(client_for, store):
    sc = client_for("sc_reviewer")
    assert post_step(sc, "verify_false", {"text": "录像显示服务规范"}).status_code == 303
    files = [("evidence", ("virus.png", b"MZ\x90\x00", "image/png"))]
    answer = post_step(sc, "appeal", {"category": "mistake", "text": "群众误触了非常不满意"}, files)
    assert answer.status_code == 400
    assert re.search(r'id="error-appeal-evidence"[^>]*>证据文件“virus.png”不是 JPG、PNG 或 PDF 文件<', answer.text)
    assert textarea(answer.text, "appeal") == "群众误触了非常不满意"
    assert '<option value="mistake" selected>' in answer.text
    assert state(store) == "unfounded"


def test_four_eyes_refusal_is_shown_on_the_page_and_audited(client_for, store):
    admin = client_for("admin")
    assert post_step(admin, "verify_false", {"text": "录像显示服务规范"}).status_code == 303
    assert (
        post_step(
            admin, "appeal", {"category": "malicious", "text": "恶意差评"}, [("evidence", ("a.png", PNG, "image/png"))]
        ).status_code
        == 303
    )  # noqa: E501
    answer = post_step(admin, "uphold", {"text": "我自己批准"})
    assert answer.status_code == 403
    assert "书面报告须由报告人以外的大厅管理员复核" in answer.text
    assert state(store) == "appealing"
    with store.read() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "refused")).all()
    assert [(r.actor, r.target) for r in rows] == [("admin", "/console/cases/1/steps/uphold")]
    assert json.loads(rows[0].detail)["reason"] == "书面报告须由报告人以外的大厅管理员复核"


def test_a_reviewers_forbidden_page_is_audited(client_for, store):
    sc = client_for("sc_reviewer")
    assert sc.get("/console/audit").status_code == 403
    assert sc.get("/console/dashboard?department=RS").status_code == 403
    with store.read() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "refused")).all()
    assert [(r.actor, r.target) for r in rows] == [
        ("sc_reviewer", "/console/audit"),
        ("sc_reviewer", "/console/dashboard"),
    ]


def test_the_two_findings_of_a_pending_case_are_labelled_by_their_outcome(client_for, store):
    page = client_for("sc_reviewer").get("/console/cases/1").text
    verify_true = re.search(r'<form[^>]*steps/verify_true".*?</form>', page, re.S).group(0)
    verify_false = re.search(r'<form[^>]*steps/verify_false".*?</form>', page, re.S).group(0)
    assert "<label>核实情况（属实）<textarea" in verify_true
    assert "<label>核实情况（不属实）<textarea" in verify_false
