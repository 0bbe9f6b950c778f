"""Appeals in the order of 篇10, on SQLite and PostgreSQL: the department verifies (核实); a rating found 不属实 as
恶意差评 or 误操作 is reported in writing with evidence (书面报告); a hall administrator other than the reporter
reviews it (复核). Confirmed: the rating is not adopted (不予采纳: excluded from every figure, still stored and
listed) and the outcome is what the provincial upload sends. Not confirmed: back to 不属实 and the department's
解释说明 → 办结, with the history kept. Every refusal in Chinese; the report form only where the machine allows it;
appeals stored before migration 0022 keep showing as what they were."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from workflow_helpers import actor, china, empty_pg, make_hall, post_step, sign_in, signed_in_clients

from sync_server.app import create_app
from sync_server.console import metrics
from sync_server.console.accounts import Scope
from sync_server.console.auditview import action_label
from sync_server.storage.schema import appeal_evidence, appeals, audit_log, bad_cases, rating_exclusions, records
from sync_server.upstream.sender import should_send
from sync_server.workflow.auditchain import verify_chain
from sync_server.workflow.cases import StepForm, history, load_case, take_step
from sync_server.workflow.errors import OutsideDepartment, OwnAppeal, RoleRefused, StepInputInvalid, StepRefused
from sync_server.workflow.evidence import Evidence
from sync_server.workflow.machine import State, Step

NOV = china(2026, 11, 2, 9)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7 written report"


def month_with_one_bad(terminals) -> str:
    """Ratings 5, 4, 5 and a 1 (差评工单 1) at window A01; returns the bad rating's id."""
    a01 = terminals["A01"]
    for n, level in enumerate((5, 4, 5)):
        a01.rate(level, NOV + timedelta(minutes=n))
    return a01.rate(1, NOV + timedelta(minutes=10))


def state_of(store, case_id: int = 1) -> str:
    with store.read() as conn:
        return load_case(conn, case_id)[0].state


def figures(store):
    with store.read() as conn:
        return metrics.dashboard(conn, Scope(), date(2026, 11, 1), date(2026, 11, 30)).total


def appeal_items(store) -> list[dict]:
    with store.read() as conn:
        found = should_send(conn, "2026-10-01T00:00:00Z", "2026-12-31T00:00:00Z", "450102")
    return [item for item, _, _ in found if item["kind"] == "appeal"]


def report(text_: str = "经核实属误操作：录像显示群众办结后误点", category: str = "mistake", files=()) -> StepForm:
    return StepForm(text_, category=category, evidence=tuple(files))


# ---------------------------------------------------------------- the legal transitions


def test_a_confirmed_review_excludes_the_rating_and_produces_the_appeal_the_upload_sends(hall):
    store, terminals = hall
    bad = month_with_one_bad(terminals)
    assert (figures(store).good_rate, figures(store).bad) == (0.75, 1)
    sc = actor("sc_reviewer")
    assert take_step(store, 1, Step.VERIFY_FALSE, sc, NOV + timedelta(hours=1), StepForm("群众误点")) == "unfounded"
    files = (Evidence("录像截图.png", "image/png", PNG), Evidence("书面报告.pdf", "application/pdf", PDF))
    assert take_step(store, 1, Step.APPEAL, sc, NOV + timedelta(hours=2), report(files=files)) == State.APPEALING
    assert figures(store).good_rate == 0.75  # a report waiting for 复核 changes nothing yet
    assert appeal_items(store) == []
    admin = actor("admin")
    assert take_step(store, 1, Step.UPHOLD, admin, NOV + timedelta(hours=3), StepForm("复核属实")) == State.UPHELD

    total = figures(store)
    assert (total.good_rate, total.bad, total.n) == (1.0, 0, 3)  # gone from 好评率 and the 差评 count
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(records).where(records.c.id == bad)).scalar_one() == 1
        excl = conn.execute(select(rating_exclusions)).one()
        assert (excl.record_id, excl.reason, excl.lifted_at) == (bad, "复核属实，不予采纳：误操作（复核属实）", None)
        row = conn.execute(select(appeals)).one()
        assert (row.category, row.filed_under, row.return_state, row.status) == (
            "mistake",
            "report",
            "unfounded",
            "upheld",
        )
        assert (row.filed_by, row.decided_by) == ("sc_reviewer", "admin")
        stored = conn.execute(select(appeal_evidence.c.filename, appeal_evidence.c.content_type)).all()
        assert sorted(stored) == [("书面报告.pdf", "application/pdf"), ("录像截图.png", "image/png")]
        steps = [(e.step, e.from_state, e.to_state) for e in history(conn, 1)]
        assert steps == [
            ("open", None, "pending"),
            ("verify_false", "pending", "unfounded"),
            ("appeal", "unfounded", "appealing"),
            ("uphold", "appealing", "upheld"),
        ]
        audit = conn.execute(select(audit_log.c.action, audit_log.c.detail).where(audit_log.c.action.like("case.%")))
        audit = [(a, json.loads(d)) for a, d in audit]
        assert verify_chain(conn)[1] is None
    assert [action_label(a) for a, _ in audit] == [
        "差评工单：核实：不属实",
        "差评工单：书面报告（恶意差评/误操作）",
        "差评工单：复核属实：不予采纳",
    ]
    assert audit[1][1]["category"] == "误操作" and [f["name"] for f in audit[1][1]["evidence"]] == [
        "录像截图.png",
        "书面报告.pdf",
    ]
    assert audit[2][1]["to"] == "不予采纳（复核属实，评价已排除）"

    (item,) = appeal_items(store)
    assert item == {
        "id": f"appeal:{row.id}:upheld:",
        "kind": "appeal",
        "case_no": item["case_no"],
        "region_code": "450102",
        "department": "SC",
        "step_at": item["step_at"],
        "outcome": "申诉成立",
        "appeal_type": "误操作",
        "note": "复核属实",
    }
    assert item["case_no"].startswith("A01-") and item["step_at"] == "20261102T120000"


def test_a_review_that_does_not_confirm_sends_the_record_back_to_explanation_with_the_history_kept(hall):
    store, terminals = hall
    month_with_one_bad(terminals)
    sc = actor("sc_reviewer")
    take_step(store, 1, Step.VERIFY_FALSE, sc, NOV, StepForm("工作人员按规定办理"))
    take_step(store, 1, Step.APPEAL, sc, NOV, report("该群众声称办不成就给差评", "malicious"))
    with pytest.raises(StepInputInvalid, match="请填写复核不属实的理由"):
        take_step(store, 1, Step.REJECT, actor("admin"), NOV, StepForm(""))
    assert take_step(store, 1, Step.REJECT, actor("admin"), NOV, StepForm("录像不能证明恶意")) == State.UNFOUNDED
    assert figures(store).good_rate == 0.75  # the rating still counts
    assert appeal_items(store) == []  # stays in the hall: nothing to appeal to the province
    with pytest.raises(StepRefused, match="每张工单只能书面报告一次"):
        take_step(store, 1, Step.APPEAL, sc, NOV, report())
    assert take_step(store, 1, Step.EXPLAIN, sc, NOV, StepForm("已向群众说明办理条件")) == State.EXPLAINED
    visited = StepForm("群众表示理解", method="phone", answer="satisfied")  # the hall's 回访, as for any 不属实
    assert take_step(store, 1, Step.REVISIT, actor("revisitor"), NOV, visited) == State.REVISITED
    assert take_step(store, 1, Step.CLOSE, actor("admin2"), NOV, StepForm("")) == State.CLOSED
    with store.read() as conn:
        steps = [e.step for e in history(conn, 1)]
    assert steps == ["open", "verify_false", "appeal", "reject", "explain", "revisit", "close"]


def test_a_supervisor_reversing_a_confirmed_review_sends_the_correction(hall):
    store, terminals = hall
    month_with_one_bad(terminals)
    take_step(store, 1, Step.VERIFY_FALSE, actor("sc_reviewer"), NOV, StepForm("群众误点"))
    take_step(store, 1, Step.APPEAL, actor("sc_reviewer"), NOV, report())
    take_step(store, 1, Step.UPHOLD, actor("admin2"), NOV, StepForm("复核属实"))
    later = NOV + timedelta(days=1)
    assert take_step(store, 1, Step.REVIEW_REVERSE, actor("supervisor"), later, StepForm("证据不足")) == "unfounded"
    assert figures(store).good_rate == 0.75
    (item,) = appeal_items(store)
    assert (item["outcome"], item["id"].endswith(":upheld:reversed")) == ("复核改判：申诉不成立", True)


# ---------------------------------------------------------------- the refused transitions


@pytest.mark.parametrize(
    "before, who, form, refusal, message",
    [
        ([], "sc_reviewer", report(), StepRefused,
         "请先核实：经核实属恶意差评或误操作的（核实结论为不属实），才能书面报告大厅复核"),
        ([(Step.VERIFY_TRUE, StepForm("属实", fix_kind="simple"))], "sc_reviewer", report(), StepRefused,
         "核实结论为属实，不能再以恶意差评或误操作书面报告；请按期整改、回访"),
        ([(Step.VERIFY_FALSE, StepForm("不属实")), (Step.EXPLAIN, StepForm("已解释"))], "sc_reviewer", report(),
         StepRefused, "工单当前为“已解释说明”，不能“书面报告（恶意差评/误操作）”"),
        ([(Step.VERIFY_FALSE, StepForm("不属实"))], "sc_reviewer", report(category="duplicate"), StepInputInvalid,
         "请选择核实认定的类别：恶意差评或误操作"),
        ([(Step.VERIFY_FALSE, StepForm("不属实"))], "sc_reviewer", report(" "), StepInputInvalid,
         "请填写书面报告（核实情况与认定理由）"),
        ([(Step.VERIFY_FALSE, StepForm("不属实"))], "rs_reviewer", report(), OutsideDepartment,
         "部门审核员只能办理本部门的差评工单"),
        ([(Step.VERIFY_FALSE, StepForm("不属实"))], "supervisor", report(), RoleRefused,
         "“书面报告（恶意差评/误操作）”须由大厅管理员或本部门审核员办理"),
    ],
)  # fmt: skip
def test_a_written_report_is_refused_out_of_order_with_the_reason(hall, before, who, form, refusal, message):
    store, terminals = hall
    month_with_one_bad(terminals)
    for step, step_form in before:
        take_step(store, 1, step, actor("sc_reviewer"), NOV, step_form)
    state = state_of(store)
    with pytest.raises(refusal) as refused:
        take_step(store, 1, Step.APPEAL, actor(who), NOV, form)
    assert refused.value.message == message
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(appeals)).scalar_one() == 0
    assert state_of(store) == state


@pytest.mark.parametrize(
    "who, step, refusal, message",
    [
        ("admin", Step.UPHOLD, OwnAppeal, "书面报告须由报告人以外的大厅管理员复核"),
        ("admin", Step.REJECT, OwnAppeal, "书面报告须由报告人以外的大厅管理员复核"),
        ("sc_reviewer", Step.UPHOLD, RoleRefused, "“复核属实：不予采纳”须由大厅管理员办理"),
        ("supervisor", Step.REJECT, RoleRefused, "“复核不属实：退回部门”须由大厅管理员办理"),
    ],
)
def test_review_by_the_reporter_or_outside_the_hall_authority_is_refused(hall, who, step, refusal, message):
    store, terminals = hall
    month_with_one_bad(terminals)
    take_step(store, 1, Step.VERIFY_FALSE, actor("admin"), NOV, StepForm("群众误点"))
    take_step(store, 1, Step.APPEAL, actor("admin"), NOV, report())  # the reporter is a hall administrator
    with pytest.raises(refusal) as refused:
        take_step(store, 1, step, actor(who), NOV, StepForm("复核"))
    assert refused.value.message == message
    assert state_of(store) == "appealing" and figures(store).good_rate == 0.75
    take_step(store, 1, Step.UPHOLD, actor("admin2"), NOV, StepForm("复核属实"))
    with pytest.raises(StepRefused, match="工单当前为“不予采纳（复核属实，评价已排除）”"):  # only once
        take_step(store, 1, Step.UPHOLD, actor("admin2"), NOV, StepForm("复核属实"))


# ---------------------------------------------------------------- the 差评工单 page


@pytest.fixture
def page_as(hall):
    store, terminals = hall
    month_with_one_bad(terminals)
    with signed_in_clients(store) as make:
        yield make


def report_form(html: str) -> str | None:
    found = re.search(r'<form[^>]*id="appeal-form".*?</form>', html, re.S)
    return found.group(0) if found else None


def test_the_report_form_is_offered_only_after_verification_found_the_rating_unfounded(page_as, hall):
    store, _ = hall
    sc, admin, admin2 = page_as("sc_reviewer"), page_as("admin"), page_as("admin2")
    for client in (sc, admin):  # 待核实: verify first
        page = client.get("/console/cases/1").text
        assert report_form(page) is None and "steps/verify_false" in page
    assert post_step(sc, "verify_false", {"text": "录像显示服务规范"}).status_code == 303
    form = report_form(sc.get("/console/cases/1").text)
    assert form is not None and "steps/explain" in sc.get("/console/cases/1").text  # both paths from 不属实
    options = re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', form)
    assert options == [("malicious", "恶意差评"), ("mistake", "误操作")]  # no other category is offered
    assert 'name="evidence"' in form and "书面报告（核实情况与认定理由）" in form

    answer = post_step(sc, "appeal", {"category": "mistake", "text": "群众误点"}, [("evidence", ("截图.png", PNG))])
    assert answer.status_code == 303
    for client in (sc, admin, admin2):  # waiting for 复核: no second report anywhere
        assert report_form(client.get("/console/cases/1").text) is None
    page = sc.get("/console/cases/1").text
    assert "书面报告待复核" in page and "steps/uphold" not in page  # the department does not review itself
    page = admin.get("/console/cases/1").text
    assert "steps/uphold" in page and "steps/reject" in page and "待大厅管理员复核（报告人以外）" in page

    refused = post_step(admin, "appeal", {"category": "malicious", "text": "again"})
    assert refused.status_code == 409 and "每张工单只能书面报告一次" in refused.text

    assert post_step(admin, "uphold", {"text": "复核属实"}).status_code == 303
    page = admin.get("/console/cases/1").text
    assert "不予采纳（复核属实，评价已排除）" in page and report_form(page) is None
    assert "该评价已排除出全部统计（评价本身保留可查），复核结论作为申诉报省好差评平台更正" in page
    listed = admin.get("/console/ratings?from=2026-11-01&to=2026-11-30").text
    assert "不予采纳（申诉排除）" in listed  # still listed, marked
    assert state_of(store) == "upheld"


def test_the_report_form_is_not_offered_after_a_true_finding(page_as):
    sc = page_as("sc_reviewer")
    assert post_step(sc, "verify_true", {"text": "属实", "fix_kind": "simple"}).status_code == 303
    assert report_form(sc.get("/console/cases/1").text) is None
    refused = post_step(sc, "appeal", {"category": "mistake", "text": "群众误点"})
    assert refused.status_code == 409 and "核实结论为属实，不能再以恶意差评或误操作书面报告" in refused.text


# ---------------------------------------------------------------- appeals stored before migration 0022


FILED_UNDER_MIGRATION = "0022"  # adds appeals.filed_under


def alembic_config():
    from alembic.config import Config

    from sync_server.db import ALEMBIC_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    return cfg


def revision_before_the_new_order() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_revision(FILED_UNDER_MIGRATION).down_revision


def upgrade_to(store, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    with store.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store(request, tmp_path):
    """A database at the revision before migration 0022 holding two appeals filed under the former rules: one
    pending from 待核实 (category 重复评价), one upheld from 整改中 (误操作)."""
    from sync_server.db import Store

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        empty_pg(url)
    store = Store.from_url(url)
    upgrade_to(store, revision_before_the_new_order())
    terminals = make_hall(store, china(2026, 9, 1))
    a01 = terminals["A01"]
    a01.rate(5, NOV)
    ids = [a01.rate(1, NOV), a01.rate(2, NOV)]
    with store.write() as conn:
        conn.execute(
            text(
                "INSERT INTO appeals (case_id, record_id, category, statement, filed_by, filed_at, return_state,"
                " status, decided_by, decided_at, decision_note) VALUES"
                " (1, :r1, 'duplicate', '同一群众重复评价', 'sc_reviewer', '2026-11-02T02:00:00Z', 'pending',"
                "  'pending', NULL, NULL, NULL),"
                " (2, :r2, 'mistake', '群众误点', 'sc_reviewer', '2026-11-02T02:00:00Z', 'rectifying',"
                "  'upheld', 'admin', '2026-11-02T03:00:00Z', '录像为证')"
            ),
            {"r1": ids[0], "r2": ids[1]},
        )
        conn.execute(text("UPDATE bad_cases SET state = 'appealing' WHERE id = 1"))
        conn.execute(text("UPDATE bad_cases SET state = 'upheld', fix_kind = 'simple' WHERE id = 2"))
        conn.execute(
            text(
                "INSERT INTO case_events (case_id, at, actor, role, step, from_state, to_state, detail) VALUES"
                " (1, '2026-11-02T02:00:00Z', 'sc_reviewer', 'reviewer', 'appeal', 'pending', 'appealing', '{}'),"
                " (2, '2026-11-02T03:00:00Z', 'admin', 'admin', 'uphold', 'appealing', 'upheld', '{}')"
            )
        )
    yield store
    store.dispose()


def test_appeals_stored_before_the_new_order_upgrade_and_show_as_what_they_were(old_store):
    from sync_server.db import current_revision, migrate
    from sync_server.storage.exclusions import exclude_rating

    store = old_store
    with store.write() as conn:  # the old upheld appeal had excluded its rating
        rid = conn.execute(select(bad_cases.c.record_id).where(bad_cases.c.id == 2)).scalar_one()
        exclude_rating(conn, rid, "申诉成立：误操作（录像为证）", NOV, appeal_id="2")
    migrate(store)
    from alembic.script import ScriptDirectory

    assert current_revision(store) == ScriptDirectory.from_config(alembic_config()).get_current_head()
    with store.read() as conn:
        rows = conn.execute(select(appeals.c.id, appeals.c.filed_under, appeals.c.status).order_by(appeals.c.id))
        assert rows.all() == [(1, "legacy", "pending"), (2, "legacy", "upheld")]
    assert figures(store).good_rate == 0.5  # 5 and the pending appeal's 1; the upheld one stays excluded

    with TestClient(create_app(store, clock=lambda: china(2026, 11, 2, 15))) as admin:
        assert sign_in(admin, "admin").status_code == 303
        pending = admin.get("/console/cases/1").text
        assert "申诉（原规则）" in pending and "重复评价（原规则）" in pending and 'id="appeal-legacy"' in pending
        assert "申诉中（原规则）" in pending and "提出申诉（原规则）" in pending
        assert "steps/uphold" in pending and report_form(pending) is None  # still decidable, never re-offered
        upheld = admin.get("/console/cases/2").text
        assert "申诉成立（评价已排除）" in upheld and "误操作" in upheld and "录像为证" in upheld
    take_step(store, 1, Step.REJECT, actor("admin"), NOV, StepForm("并非重复评价"))
    assert state_of(store, 1) == "pending"  # back where the former rules had it: 待核实
    items = {i["id"]: i["outcome"] for i in appeal_items(store)}
    assert items == {"appeal:1:rejected:": "申诉不成立", "appeal:2:upheld:": "申诉成立"}  # sent as before
    from sqlalchemy.exc import DatabaseError

    with pytest.raises(DatabaseError, match="append-only"), store.write() as conn:  # migration 0006's guard holds
        conn.execute(text("DELETE FROM appeals WHERE id = 1"))
