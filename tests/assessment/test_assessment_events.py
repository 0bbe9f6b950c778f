"""Events from 差评 and confirmation, on SQLite and PostgreSQL: a verified attitude 差评 proposes −2 and an upheld
appeal withdraws it (篇10: a 属实 差评 cannot be reported as 恶意差评/误操作, so that appeal is one filed under
the former rules, kept by migration 0022; in 篇10's order a confirmed 复核 withdraws the 红牌 deduction of a
不属实 差评); a 红牌 step proposes the overdue deduction; four-eyes for 5 points or more; manual events with
evidence; every bad input refused in Chinese with nothing changed."""

from __future__ import annotations

from datetime import date

import pytest
from assessment_helpers import actor, china
from sqlalchemy import select

from sync_server.assessment.errors import InputRejected, SameConfirmer, StateRefused
from sync_server.assessment.events import ManualEvent, Person, add_manual, confirm, dismiss
from sync_server.assessment.proposals import refresh
from sync_server.assessment.rules import current_rules
from sync_server.configs import current_config
from sync_server.storage import assessment as db
from sync_server.storage.schema import bad_cases
from sync_server.workflow.cases import StepForm, take_step
from sync_server.workflow.errors import StepRefused as WorkflowStepRefused
from sync_server.workflow.evidence import Evidence
from sync_server.workflow.machine import Step

ADMIN, ADMIN2 = Person("admin", "admin"), Person("admin2", "admin")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def case_of(store, record_id: str) -> int:
    from sqlalchemy import select

    with store.read() as conn:
        return conn.execute(select(bad_cases.c.id).where(bad_cases.c.record_id == record_id)).scalar_one()


def all_events(store) -> list:
    with store.read() as conn:
        return db.events_between(conn, "2026-01-01", "2026-12-31")


def rules_and_hall(store):
    with store.read() as conn:
        return current_rules(conn), current_config(conn).config.hall


def legacy_appeal(store, case_id: int, filed_by: str, at) -> None:
    """An appeal filed from 整改中 under the former rules, pending, as migration 0022 leaves it in an old database."""
    from sqlalchemy import update

    from sync_server.storage.schema import appeals, utc_iso

    with store.write() as conn:
        record_id = conn.execute(select(bad_cases.c.record_id).where(bad_cases.c.id == case_id)).scalar_one()
        conn.execute(
            appeals.insert().values(
                case_id=case_id,
                record_id=record_id,
                category="mistake",
                statement="群众误操作",
                filed_by=filed_by,
                filed_at=utc_iso(at),
                return_state="rectifying",
                status="pending",
            )
        )  # fmt: skip  (filed_under takes the migration's server default: legacy)
        conn.execute(update(bad_cases).where(bad_cases.c.id == case_id).values(state="appealing"))


def test_verified_attitude_bad_rating_proposes_minus_two_and_an_upheld_appeal_withdraws_it(store, terminals):
    rid = terminals["A01"].rate(1, china(2026, 3, 2, 10), clerk="1001")  # reason 115 服务态度差效率低
    other = terminals["A01"].rate(2, china(2026, 3, 2, 11), clerk="1002")  # reason 213 业务不熟练: not attitude
    case, other_case = case_of(store, rid), case_of(store, other)
    for c in (case, other_case):
        take_step(store, c, Step.VERIFY_TRUE, actor("sc_reviewer"), china(2026, 3, 3, 9),
                  StepForm(text="属实", fix_kind="simple"))  # fmt: skip
    refresh(store, date(2026, 3, 1), date(2026, 3, 31), china(2026, 3, 4, 9))
    (event,) = all_events(store)
    assert (event.clerk_no, event.kind, event.points, event.state, event.source) == (
        "1001", "attitude", -2, "proposed", "bad_rating_attitude"
    )  # fmt: skip
    assert event.rules_version == "xingning-2026-v1"

    with pytest.raises(WorkflowStepRefused, match="核实结论为属实"):  # 篇10: a true 差评 is no 误操作
        take_step(store, case, Step.APPEAL, actor("sc_reviewer"), china(2026, 3, 4, 10),
                  StepForm(text="群众误操作", category="mistake"))  # fmt: skip
    legacy_appeal(store, case, "sc_reviewer", china(2026, 3, 4, 10))
    refresh(store, date(2026, 3, 1), date(2026, 3, 31), china(2026, 3, 4, 11))
    assert all_events(store)[0].state == "proposed"  # a pending appeal withdraws nothing
    take_step(store, case, Step.UPHOLD, actor("admin"), china(2026, 3, 4, 12), StepForm(text="核实为误操作"))
    counts = refresh(store, date(2026, 3, 1), date(2026, 3, 31), china(2026, 3, 4, 13))
    (event,) = all_events(store)
    assert counts.withdrawn == 1 and event.state == "withdrawn" and event.closed_by == "system"


def test_a_red_card_step_proposes_the_overdue_deduction_once_per_case(store, terminals):
    rid = terminals["A01"].rate(2, china(2026, 3, 2, 10), clerk="1002")
    case = case_of(store, rid)
    # contact is due 2 working days after 03-02 (03-04); verified on 03-06: late
    take_step(store, case, Step.VERIFY_TRUE, actor("sc_reviewer"), china(2026, 3, 6, 9),
              StepForm(text="属实", fix_kind="simple"))  # fmt: skip
    refresh(store, date(2026, 3, 1), date(2026, 3, 31), china(2026, 3, 7, 9))
    (event,) = all_events(store)
    assert (event.clerk_no, event.kind, event.points, event.day) == ("1002", "overdue", -5, "2026-03-04")
    assert "红牌" in event.summary


def test_a_confirmed_review_of_a_written_report_withdraws_the_red_card_deduction(store, terminals):
    """篇10's order: 核实 (late: a 红牌 deduction is proposed) found 不属实, the department reports the 误操作 in
    writing, the hall confirms it on 复核: the rating is not adopted and the deduction drawn from it is withdrawn."""
    rid = terminals["A01"].rate(2, china(2026, 3, 2, 10), clerk="1002")
    case = case_of(store, rid)
    take_step(store, case, Step.VERIFY_FALSE, actor("sc_reviewer"), china(2026, 3, 6, 9), StepForm(text="群众误触"))
    refresh(store, date(2026, 3, 1), date(2026, 3, 31), china(2026, 3, 7, 9))
    (event,) = all_events(store)
    assert (event.kind, event.points, event.state) == ("overdue", -5, "proposed")
    take_step(store, case, Step.APPEAL, actor("sc_reviewer"), china(2026, 3, 9, 10),
              StepForm(text="经核实属误操作，录像为证", category="mistake"))  # fmt: skip
    refresh(store, date(2026, 3, 1), date(2026, 3, 31), china(2026, 3, 9, 11))
    assert all_events(store)[0].state == "proposed"  # a report waiting for 复核 withdraws nothing
    take_step(store, case, Step.UPHOLD, actor("admin"), china(2026, 3, 9, 12), StepForm(text="复核属实"))
    counts = refresh(store, date(2026, 3, 1), date(2026, 3, 31), china(2026, 3, 9, 13))
    (event,) = all_events(store)
    assert counts.withdrawn == 1 and event.state == "withdrawn"


def test_four_eyes_for_five_points_and_one_confirmation_below(store, terminals):
    rules, hall = rules_and_hall(store)
    now = china(2026, 3, 10, 9)
    heavy = add_manual(store, ManualEvent("1001", "games", "", "2026-03-09", "工作时间玩电脑游戏，督查拍照"),
                       ADMIN, rules, hall, 2026, now)  # fmt: skip
    light = add_manual(
        store, ManualEvent("1001", "badge", None, "2026-03-09", "未佩证上岗"), ADMIN, rules, hall, 2026, now
    )
    assert confirm(store, light, ADMIN, "属实", rules, now) == "confirmed"
    assert confirm(store, heavy, ADMIN, "属实", rules, now) == "confirming"
    with pytest.raises(SameConfirmer) as refused:
        confirm(store, heavy, ADMIN, "再次确认", rules, now)
    assert "另一位管理员" in refused.value.message
    with store.read() as conn:
        assert db.event(conn, heavy).state == "confirming" and db.event(conn, heavy).second_by is None
    assert confirm(store, heavy, ADMIN2, "复查属实", rules, now) == "confirmed"
    with store.read() as conn:
        row = db.event(conn, heavy)
    assert (row.points, row.first_by, row.second_by) == (-5, "admin", "admin2")
    with pytest.raises(StateRefused):
        dismiss(store, heavy, ADMIN, "不该扣", now)


@pytest.mark.parametrize(
    "event, message",
    [
        (ManualEvent("1001", "sleeping", "", "2026-03-09", "x"), "未知的考核事件类别"),
        (ManualEvent("1001", "attitude", "6", "2026-03-09", "x"), "分值应为 2–5 分"),
        (ManualEvent("1001", "badge", "二", "2026-03-09", "x"), "应为整数"),
        (ManualEvent("1001", "badge", "", "2025-12-31", "x"), "不在 2026 年度考核期内"),
        (ManualEvent("1001", "badge", "", "2026-04-01", "x"), "不能晚于今天"),
        (ManualEvent("1001", "badge", "", "2026-02-30", "x"), "不是有效的日期"),
        (ManualEvent("9999", "badge", "", "2026-03-09", "x"), "不是本大厅的窗口工作人员"),
        (ManualEvent("1001", "badge", "", "2026-03-09", "  "), "请填写事件经过"),
    ],
)
def test_bad_manual_input_is_refused_and_changes_nothing(sqlite_store, event, message):
    rules, hall = rules_and_hall(sqlite_store)
    with pytest.raises(InputRejected) as refused:
        add_manual(sqlite_store, event, ADMIN, rules, hall, 2026, china(2026, 3, 10, 9))
    assert message in refused.value.message
    assert all_events(sqlite_store) == []


def test_manual_event_keeps_its_evidence_and_reviewers_cannot_enter_events(sqlite_store):
    rules, hall = rules_and_hall(sqlite_store)
    thanks = ManualEvent(
        "1003", "thanks", "", "2026-03-09", "群众送来感谢信", (Evidence("感谢信.png", "image/png", PNG),)
    )
    event_id = add_manual(sqlite_store, thanks, ADMIN, rules, hall, 2026, china(2026, 3, 10, 9))
    with sqlite_store.read() as conn:
        files = db.evidence_list(conn, [event_id])[event_id]
        assert db.event(conn, event_id).points == 3
    assert [(f.filename, f.content_type, f.size) for f in files] == [("感谢信.png", "image/png", len(PNG))]
    with pytest.raises(StateRefused):
        add_manual(sqlite_store, thanks, Person("sc_reviewer", "reviewer"), rules, hall, 2026, china(2026, 3, 10, 9))


def test_an_upheld_appeal_stops_confirmation_even_before_the_next_sweep(store, terminals):
    rid = terminals["A01"].rate(1, china(2026, 3, 2, 10), clerk="1001")
    case = case_of(store, rid)
    take_step(store, case, Step.VERIFY_TRUE, actor("sc_reviewer"), china(2026, 3, 3, 9),
              StepForm(text="属实", fix_kind="simple"))  # fmt: skip
    refresh(store, date(2026, 3, 1), date(2026, 3, 31), china(2026, 3, 4, 9))
    (event,) = all_events(store)
    legacy_appeal(store, case, "sc_reviewer", china(2026, 3, 4, 10))
    take_step(store, case, Step.UPHOLD, actor("admin"), china(2026, 3, 4, 12), StepForm(text="核实为误操作"))
    rules, _hall = rules_and_hall(store)
    with pytest.raises(StateRefused, match="申诉成立"):
        confirm(store, event.id, ADMIN, "属实", rules, china(2026, 3, 4, 13))
    (event,) = all_events(store)
    assert (event.state, event.first_by) == ("withdrawn", None)
