"""Handling records in the database and on the console: opened as the bad rating settles, moved step by step with
history and audit, appeals that exclude a rating without deleting it, evidence files, and refusals on the pages."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from workflow_helpers import actor, china, csrf_of, empty_pg, make_hall, post_step, sign_in, signed_in_clients

from sync_server.app import create_app
from sync_server.console import metrics
from sync_server.console.accounts import Scope
from sync_server.storage.schema import appeal_evidence, audit_log, bad_cases, rating_exclusions, records
from sync_server.workflow.auditchain import verify_chain
from sync_server.workflow.cases import StepForm, history, load_case, take_step
from sync_server.workflow.errors import EvidenceRejected, OwnAppeal, StepInputInvalid, StepRefused
from sync_server.workflow.evidence import Evidence, accept
from sync_server.workflow.machine import State, Step
from sync_server.workflow.settings import WorkflowSettings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NOV = china(2026, 11, 2, 9)


def case_state(store, case_id: int = 1) -> str:
    with store.read() as conn:
        return load_case(conn, case_id)[0].state


def good_rate(store) -> float:
    with store.read() as conn:
        return metrics.dashboard(conn, Scope(), date(2026, 11, 1), date(2026, 11, 30)).total.good_rate


def test_only_counting_bad_ratings_open_a_record_the_day_they_arrive(store, terminals):
    a01 = terminals["A01"]
    bad = a01.rate(1, NOV)
    a01.rate(5, NOV)
    a01.rate(2, NOV, detail={"test": True})  # a test rating never opens one
    with store.read() as conn:
        rows = conn.execute(select(bad_cases)).all()
        assert [(r.record_id, r.state, r.department, r.window, r.arrival_day) for r in rows] == [
            (bad, "pending", "SC", "A01", "2026-11-02")
        ]
        assert [(e.step, e.actor, e.to_state) for e in history(conn, rows[0].id)] == [("open", "system", "pending")]


def test_substantiated_path_to_closure_with_history_and_chained_audit(store, terminals):
    terminals["A01"].rate(1, NOV)
    sc, admin = actor("sc_reviewer"), actor("admin")
    with pytest.raises(StepInputInvalid, match="核实情况"):
        take_step(store, 1, Step.VERIFY_TRUE, sc, NOV, StepForm("", fix_kind="simple"))
    with pytest.raises(StepInputInvalid, match="问题类型"):
        take_step(store, 1, Step.VERIFY_TRUE, sc, NOV, StepForm("属实"))
    assert case_state(store) == "pending"  # a refused step changes nothing
    steps = [
        (Step.VERIFY_TRUE, sc, StepForm("已电话联系群众，窗口未一次性告知，属实", fix_kind="simple"), "rectifying"),
        (Step.RECTIFY, sc, StepForm("补充一次性告知清单并培训"), "rectified"),
        (Step.REVISIT, admin, StepForm("群众表示满意", method="phone", answer="satisfied"), "revisited"),
        (Step.CLOSE, admin, StepForm(""), "closed"),
    ]
    for step, who, form, state in steps:
        assert take_step(store, 1, step, who, NOV, form) == State(state)
    with store.read() as conn:
        events = history(conn, 1)
        assert [e.step for e in events] == ["open", "verify_true", "rectify", "revisit", "close"]
        assert json.loads(events[1].detail)["fix_kind"] == "简单问题"
        actions = [r.action for r in conn.execute(select(audit_log.c.action).where(audit_log.c.action.like("case.%")))]
        assert actions == ["case.verify_true", "case.rectify", "case.revisit", "case.close"]
        assert verify_chain(conn)[1] is None


def test_unfounded_path_explains_then_closes(store, terminals):
    terminals["B03"].rate(2, NOV, clerk="1003", matter="11450102MB7654321Y3000201")
    rs = actor("rs_reviewer")
    assert take_step(store, 1, Step.VERIFY_FALSE, rs, NOV, StepForm("调取录像，窗口按规定办理")) == State.UNFOUNDED
    assert take_step(store, 1, Step.EXPLAIN, rs, NOV, StepForm("已向群众说明政策")) == State.EXPLAINED
    with pytest.raises(StepRefused):  # 不属实 too: the hall's 回访 comes before 办结
        take_step(store, 1, Step.CLOSE, actor("admin2"), NOV, StepForm(""))
    revisit = StepForm("电话回访，群众理解", method="phone", answer="basically")
    assert take_step(store, 1, Step.REVISIT, actor("revisitor"), NOV, revisit) == State.REVISITED
    assert take_step(store, 1, Step.CLOSE, actor("admin2"), NOV, StepForm("")) == State.CLOSED


def test_upheld_appeal_excludes_the_rating_and_the_reversal_brings_it_back(store, terminals):
    a01 = terminals["A01"]
    for level in (5, 4, 3):
        a01.rate(level, NOV)
    bad = a01.rate(1, NOV)
    assert good_rate(store) == 0.75
    appeal = StepForm(
        "同一人当天连续恶意差评，录像为证", category="malicious", evidence=(Evidence("录像截图.png", "image/png", PNG),)
    )
    take_step(store, 1, Step.VERIFY_FALSE, actor("admin"), NOV, StepForm("录像显示服务规范，差评不属实"))
    take_step(store, 1, Step.APPEAL, actor("admin"), NOV, appeal)
    assert case_state(store) == "appealing"
    with pytest.raises(OwnAppeal):
        take_step(store, 1, Step.UPHOLD, actor("admin"), NOV, StepForm("成立"))
    take_step(store, 1, Step.UPHOLD, actor("admin2"), NOV, StepForm("录像显示与服务无关"))
    assert case_state(store) == "upheld"
    assert good_rate(store) == 1.0
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(records).where(records.c.id == bad)).scalar_one() == 1
        excl = conn.execute(select(rating_exclusions).where(rating_exclusions.c.record_id == bad)).one()
        assert excl.reason == "复核属实，不予采纳：恶意差评（录像显示与服务无关）" and excl.lifted_at is None
        ev = conn.execute(select(appeal_evidence)).one()
        assert ev.sha256 == hashlib.sha256(PNG).hexdigest() and ev.content == PNG
    take_step(store, 1, Step.REVIEW_REVERSE, actor("supervisor"), NOV, StepForm("证据不足以认定恶意"))
    assert case_state(store) == "unfounded"  # back where it was, its deadlines still running
    assert good_rate(store) == 0.75
    with store.read() as conn:
        assert conn.execute(select(rating_exclusions.c.lifted_at)).scalar_one() is not None


def test_rejected_appeal_returns_and_a_reversal_on_review_applies_the_exclusion(store, terminals):
    a01 = terminals["A01"]
    a01.rate(5, NOV)
    a01.rate(2, NOV)
    take_step(store, 1, Step.VERIFY_FALSE, actor("sc_reviewer"), NOV, StepForm("群众称点错了"))
    take_step(store, 1, Step.APPEAL, actor("sc_reviewer"), NOV, StepForm("群众误触", category="mistake"))
    take_step(store, 1, Step.REJECT, actor("admin"), NOV, StepForm("录像显示群众有意选择"))
    assert case_state(store) == "unfounded" and good_rate(store) == 0.5
    take_step(store, 1, Step.REVIEW_REVERSE, actor("supervisor"), NOV, StepForm("复查确认为误操作"))
    assert case_state(store) == "upheld" and good_rate(store) == 1.0


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("a.png", b"MZ\x90\x00 not an image", "不是 JPG、PNG 或 PDF"),
        ("notes.pdf", b"just text pretending", "不是 JPG、PNG 或 PDF"),
        ("big.jpg", b"\xff\xd8\xff" + b"\x00" * 2048, "超过"),
        ("empty.png", b"", "空的"),
    ],
)
def test_evidence_files_are_checked_by_content_and_size(name, content, problem):
    with pytest.raises(EvidenceRejected, match=problem):
        accept(name, content, WorkflowSettings(evidence_max_bytes=1024))
    assert accept("../../etc/证据.pdf", b"%PDF-1.7", WorkflowSettings()).filename == "证据.pdf"


# ---------------------------------------------------------------- the pages


@pytest.fixture
def client_for(store, terminals):
    terminals["A01"].rate(1, NOV)
    with signed_in_clients(store) as make:
        yield make


def test_a_reviewer_of_another_department_neither_sees_nor_acts(client_for, store):
    rs = client_for("rs_reviewer")
    assert rs.get("/console/cases/1").status_code == 404
    assert "差评工单 #1" not in rs.get("/console/cases").text
    token = csrf_of(rs.get("/console/cases").text)
    refused = rs.post("/console/cases/1/steps/appeal", data={"csrf_token": token, "category": "malicious", "text": "x"})
    assert refused.status_code == 404 and case_state(store) == "pending"


def test_appeal_with_evidence_through_the_page_and_four_eyes_on_the_decision(client_for, store):
    sc = client_for("sc_reviewer")
    page = sc.get("/console/cases/1").text
    assert "核实：属实" in page and 'id="appeal-form"' not in page  # 篇10: verify first
    assert post_step(sc, "verify_false", {"text": "录像显示服务规范"}).status_code == 303
    assert 'id="appeal-form"' in sc.get("/console/cases/1").text
    files = [("evidence", ("监控截图.png", PNG, "image/png"))]
    answer = post_step(sc, "appeal", {"category": "malicious", "text": "该群众多次恶意差评"}, files)
    assert answer.status_code == 303
    page = sc.get(answer.headers["location"]).text
    assert "书面报告待复核" in page and "监控截图.png" in page and hashlib.sha256(PNG).hexdigest()[:16] in page
    download = sc.get("/console/cases/1/evidence/1")
    assert download.content == PNG and download.headers["content-type"] == "image/png"
    assert "attachment" in download.headers["content-disposition"]
    bad = post_step(client_for("admin2"), "appeal", {"category": "malicious", "text": "again"})
    assert bad.status_code == 409 and "只能书面报告一次" in bad.text
    sup = client_for("supervisor")
    assert post_step(sup, "uphold", {"text": "ok"}).status_code == 403
    admin = client_for("admin")
    assert post_step(admin, "uphold", {"text": "成立"}).status_code == 303
    assert "该评价已排除出全部统计" in admin.get("/console/cases/1").text


def test_rejected_upload_and_missing_csrf_change_nothing(client_for, store):
    sc = client_for("sc_reviewer")
    files = [("evidence", ("virus.png", b"MZ\x90\x00", "image/png"))]
    answer = post_step(sc, "appeal", {"category": "malicious", "text": "x"}, files)
    assert answer.status_code == 400 and "不是 JPG、PNG 或 PDF" in answer.text
    no_csrf = sc.post("/console/cases/1/steps/verify_false", data={"text": "不属实"}, follow_redirects=False)
    assert no_csrf.status_code == 403
    assert case_state(store) == "pending"


def test_dashboard_and_monthly_report_show_the_handling_figures(client_for, store):
    from sync_server.console.labels import Names
    from sync_server.console.reports import monthly_report
    from sync_server.console.settings import ConsoleSettings

    admin = client_for("admin")
    board = admin.get("/console/dashboard?from=2026-11-01&to=2026-11-30").text
    assert 'id="kpi-on-time-rate"' in board and "差评整改率" in board and "回访率" in board
    with store.read() as conn:
        rows = dict(
            (r[0], r[1]) for r in monthly_report(conn, Scope(), "2026-11", None, Names(), ConsoleSettings())[0].rows
        )
    assert rows["差评工单数"] == 1 and rows["差评整改率"] is None and "按时整改率" in rows and "回访率" in rows


def test_evidence_larger_than_the_api_body_limit_still_uploads(client_for, store):
    """Photos are bigger than the 1 MiB device-API limit: the appeal form has its own (32 MiB)."""
    sc = client_for("sc_reviewer")
    take_step(store, 1, Step.VERIFY_FALSE, actor("sc_reviewer"), NOV, StepForm("群众点错了"))
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * (3 * 1024 * 1024)
    files = [("evidence", ("现场照片.jpg", photo, "image/jpeg"))]
    assert post_step(sc, "appeal", {"category": "mistake", "text": "群众点错了"}, files).status_code == 303
    with store.read() as conn:
        assert conn.execute(select(appeal_evidence.c.size)).scalar_one() == len(photo)
    too_big = b"\xff\xd8\xff\xe0" + b"\x00" * (6 * 1024 * 1024)
    files = [("evidence", ("太大.jpg", too_big, "image/jpeg"))]
    answer = post_step(client_for("admin"), "appeal", {"category": "mistake", "text": "x"}, files)
    assert answer.status_code == 400 and "超过 5 MiB" in answer.text


def test_the_appeal_path_on_postgresql(pg_url):
    """The same transactions on PostgreSQL: record opened while settling, row lock, exclusion and its lifting."""
    from sync_server.db import Store, migrate

    empty_pg(pg_url)
    store = Store.from_url(pg_url)
    migrate(store)
    a01 = make_hall(store, china(2026, 11, 1))["A01"]
    a01.rate(5, NOV)
    a01.rate(1, NOV)
    a01.rate(1, NOV)  # a second bad rating: a second record
    assert good_rate(store) == pytest.approx(1 / 3)
    take_step(store, 2, Step.VERIFY_FALSE, actor("sc_reviewer"), NOV, StepForm("同一群众重复点差评"))
    take_step(store, 2, Step.APPEAL, actor("sc_reviewer"), NOV, StepForm("恶意重复差评", category="malicious"))
    take_step(store, 2, Step.UPHOLD, actor("admin"), NOV, StepForm("同一群众恶意差评"))
    assert good_rate(store) == 0.5 and case_state(store, 2) == "upheld" and case_state(store, 1) == "pending"
    take_step(store, 2, Step.REVIEW_REVERSE, actor("supervisor"), NOV, StepForm("并非同一办件"))
    assert good_rate(store) == pytest.approx(1 / 3)
    with store.read() as conn:
        assert verify_chain(conn)[1] is None
    store.dispose()


def test_history_and_evidence_cannot_be_edited_or_deleted_in_the_database(store, terminals):
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    terminals["A01"].rate(1, NOV)
    appeal = StepForm("误操作", category="mistake", evidence=(Evidence("a.png", "image/png", PNG),))
    take_step(store, 1, Step.VERIFY_FALSE, actor("sc_reviewer"), NOV, StepForm("群众点错了"))
    take_step(store, 1, Step.APPEAL, actor("sc_reviewer"), NOV, appeal)
    for sql in (
        "UPDATE case_events SET actor = 'someone' WHERE case_id = 1",
        "DELETE FROM case_events WHERE case_id = 1",
        "UPDATE appeal_evidence SET sha256 = 'x'",
        "DELETE FROM appeal_evidence",
        "DELETE FROM appeals",
        "DELETE FROM bad_cases",
    ):
        with pytest.raises(DatabaseError, match="append-only"), store.write() as conn:
            conn.execute(text(sql))
    with store.read() as conn:
        assert len(history(conn, 1)) == 3


def test_a_bad_phone_rating_displaced_by_an_earlier_kiosk_rating_has_its_record_withdrawn(store, terminals):
    """The kiosk was offline: the citizen tapped 非常满意 at 10:00:30, then rated 非常不满意 by phone at 10:05.
    The phone rating arrives first and opens a record; when the kiosk syncs at 11:00 its earlier rating counts
    and the phone rating becomes the 追评, so the record is withdrawn by the system, kept with its history."""
    import re

    from haochaping.qrtoken import make_token
    from sync_server.ingest import ingest
    from sync_server.storage.schema import devices

    a01 = terminals["A01"]
    with store.read() as conn:
        secret = bytes.fromhex(conn.execute(select(devices.c.secret_hex)).scalars().first())
    case = dict(case_no="A01-OFFLINE-1", clerk_no="1001", matter_code="11450102MB1234567X4000111")
    prompt = a01.record("prompt", china(2026, 11, 2, 10), **case)
    tapped = china(2026, 11, 2, 10) + timedelta(seconds=30)
    kiosk_rating = a01.record("rating", tapped, level=5, prompted_at=prompt["occurred_at"], **case)
    phone_time = china(2026, 11, 2, 10, 5)
    app = create_app(store, clock=lambda: phone_time)
    with TestClient(app) as phone:
        token = make_token(a01.device_id, case["case_no"], china(2026, 11, 2, 10), secret)
        nonce = re.search(r'name="nonce" value="([^"]+)"', phone.get(f"/r/{token}").text).group(1)
        sent = phone.post(f"/r/{token}", data={"level": "1", "reasons": ["115"], "comment": "态度差", "nonce": nonce})
        assert sent.status_code == 200 and "感谢您的评价" in sent.text
    assert case_state(store) == "pending"  # 当日建档 for the phone rating

    results = ingest(store, a01.device_id, [prompt, kiosk_rating], china(2026, 11, 2, 11))
    assert {s for _, s in results} == {"stored"}
    with store.read() as conn:
        cases = conn.execute(select(bad_cases)).all()
        assert [(c.id, c.record_id, c.state) for c in cases] == [(1, f"qr:{case['case_no']}", "withdrawn")]
        events = history(conn, 1)
        assert [(e.step, e.actor, e.from_state, e.to_state) for e in events] == [
            ("open", "system", None, "pending"),
            ("withdraw", "system", "pending", "withdrawn"),
        ]
        assert json.loads(events[1].detail)["counting_rating"] == kiosk_rating["id"]
        assert events[1].at.startswith("2026-11-02T03:00")  # when the earlier rating arrived (11:00 China time)
        audit = conn.execute(select(audit_log.c.action, audit_log.c.actor).where(audit_log.c.action.like("case.%")))
        assert audit.all() == [("case.withdraw", "system")]
        assert verify_chain(conn)[1] is None
        assert conn.execute(select(func.count()).select_from(records)).scalar() == 3  # nothing deleted
    for step, who in [(Step.VERIFY_TRUE, "sc_reviewer"), (Step.APPEAL, "sc_reviewer"), (Step.CLOSE, "admin")]:
        with pytest.raises(StepRefused, match="已撤销"):
            take_step(store, 1, step, actor(who), phone_time, StepForm("x", fix_kind="simple", category="malicious"))
    assert good_rate(store) == 1.0  # the kiosk's 非常满意 counts; the phone's 追评 does not


def test_a_withdrawn_record_shows_as_withdrawn_carries_no_card_and_is_counted_apart(store, terminals):
    from sync_server.ingest import ingest
    from sync_server.workflow.stats import handling

    a01 = terminals["A01"]
    case = dict(case_no="A01-LATE-2", clerk_no="1001", matter_code="11450102MB1234567X4000111")
    prompt = a01.record("prompt", china(2026, 11, 2, 9), **case)
    early = a01.record("rating", china(2026, 11, 2, 9, 1), level=4, prompted_at=prompt["occurred_at"], **case)
    late = a01.record("rating", china(2026, 11, 2, 9, 2), level=2, prompted_at=prompt["occurred_at"], **case)
    ingest(store, a01.device_id, [prompt, late], china(2026, 11, 2, 9, 5))  # the later rating arrives first
    appeal = StepForm("群众随后在窗口改评满意", category="mistake")
    take_step(store, 1, Step.VERIFY_FALSE, actor("sc_reviewer"), china(2026, 11, 2, 9, 5, 20), StepForm("误触"))
    take_step(store, 1, Step.APPEAL, actor("sc_reviewer"), china(2026, 11, 2, 9, 5, 30), appeal)
    ingest(store, a01.device_id, [early], china(2026, 11, 2, 9, 6))
    assert case_state(store) == "withdrawn"  # from 书面报告待复核: the report is moot
    with pytest.raises(StepRefused, match="已撤销"):
        take_step(store, 1, Step.UPHOLD, actor("admin"), china(2026, 11, 2, 10), StepForm(""))
    with store.read() as conn:
        figures = handling(conn, Scope(), date(2026, 11, 1), date(2026, 11, 30), None, date(2026, 11, 30))
    assert (figures.opened, figures.withdrawn, figures.substantiated, figures.red) == (1, 1, 0, [])
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 30, 15))) as c:
        assert sign_in(c, "sc_reviewer").status_code == 303
        page = c.get("/console/cases/1")
        assert "已撤销（评价已被取代）" in page.text and "更早的评价取代" in page.text
        assert 'id="actions"' not in page.text and "红牌" not in page.text
        assert "工单已撤销，无需复核" in page.text and "待大厅管理员复核" not in page.text
        listed = c.get("/console/cases?state=withdrawn")
        assert "#1" in listed.text
