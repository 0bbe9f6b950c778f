"""Scores, the frozen year and 复核, on SQLite and PostgreSQL: a closed year's content hash is in the audit log, a
复核 is decided only by a 考核领导小组 member who did not confirm the event, and an upheld objection changes the
frozen score only through a recorded correction."""

from __future__ import annotations

import json
from datetime import date

import pytest
from assessment_helpers import china
from sqlalchemy import select

from sync_server.assessment.errors import NotOnPanel, StateRefused
from sync_server.assessment.events import ManualEvent, Person, add_manual, confirm
from sync_server.assessment.rules import current_rules
from sync_server.assessment.scores import (
    close_year,
    content_hash_ok,
    decide_objection,
    file_objection,
    panel_add,
    scores,
    year_scores,
)
from sync_server.configs import current_config
from sync_server.storage import assessment as db
from sync_server.storage.schema import audit_log

ADMIN, ADMIN2, SUPERVISOR = Person("admin", "admin"), Person("admin2", "admin"), Person("supervisor", "supervisor")


def context(store):
    with store.read() as conn:
        return current_rules(conn), current_config(conn).config.hall


def entered(store, clerk, kind, points, day, confirmers=(ADMIN,)) -> int:
    rules, hall = context(store)
    event_id = add_manual(store, ManualEvent(clerk, kind, points, day, "经核实"), ADMIN, rules, hall, 2026,
                          china(2026, 12, 20))  # fmt: skip
    for who in confirmers:
        confirm(store, event_id, who, "属实", rules, china(2026, 12, 20))
    return event_id


def score_of(store, clerk: str, year: int = 2026):
    rules, hall = context(store)
    with store.read() as conn:
        return next(s for s in year_scores(conn, rules, hall, year)[0] if s.clerk_no == clerk)


def test_frozen_year_and_a_review_correction(store):
    games = entered(store, "1001", "games", "", "2026-03-09", (ADMIN, ADMIN2))  # −5, four-eyes
    entered(store, "1001", "thanks", "", "2026-05-09")  # +3
    entered(store, "1002", "badge", "", "2026-06-01")  # −1
    rules, hall = context(store)
    with pytest.raises(StateRefused, match="尚未结束"):
        close_year(store, 2026, ADMIN, rules, hall, china(2026, 12, 31, 18))
    digest = close_year(store, 2026, ADMIN, rules, hall, china(2027, 1, 5))
    with store.read() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "assessment.year.close")).first()
        assert json.loads(entry.detail)["content_hash"] == digest
        assert content_hash_ok(conn, 2026)
    assert (score_of(store, "1001").score, score_of(store, "1001").grade) == (98, "优秀")
    with pytest.raises(StateRefused, match="已结束"):
        entered(store, "1001", "badge", "", "2026-06-02")

    objection = file_objection(store, 2026, "1001", games, "当时是单位培训用的演示程序", ADMIN, hall, china(2027, 1, 6))
    with pytest.raises(NotOnPanel, match="不在考核领导小组"):
        decide_objection(store, objection, True, "成立", SUPERVISOR, china(2027, 1, 7))
    panel_add(store, "admin2", ADMIN, china(2027, 1, 6))
    panel_add(store, "supervisor", ADMIN, china(2027, 1, 6))
    with pytest.raises(NotOnPanel, match="确认过该事件"):
        decide_objection(store, objection, True, "成立", ADMIN2, china(2027, 1, 7))
    decide_objection(store, objection, True, "经查为培训演示，不属于玩游戏", SUPERVISOR, china(2027, 1, 7))

    s = score_of(store, "1001")
    assert (s.score, s.corrected) == (103, 5)
    with store.read() as conn:
        assert content_hash_ok(conn, 2026)  # the frozen content itself is untouched
        (corr,) = db.corrections(conn, 2026)
        assert (corr.points, corr.event_id, corr.corrected_by) == (5, games, "supervisor")
        assert db.event(conn, games).state == "confirmed"  # the frozen year's event stays as it was
        assert db.objection(conn, objection).status == "upheld"
    with pytest.raises(StateRefused, match="已有决定"):
        decide_objection(store, objection, False, "维持", SUPERVISOR, china(2027, 1, 8))


@pytest.mark.parametrize(
    "deductions, score, grade",
    [([], 100, "优秀"), (["games"], 95, "优秀"), (["games", "badge"], 94, "称职"), (["shirking", "games"], 85, "称职"),
     (["shirking", "games", "badge"], 84, "基本称职"), (["discipline", "shirking"], 70, "基本称职"),
     (["discipline", "shirking", "badge"], 69, "不称职")],
)  # fmt: skip
def test_grade_boundaries_from_confirmed_events(sqlite_store, deductions, score, grade):
    for i, kind in enumerate(deductions):
        entered(
            sqlite_store, "1003", kind, "", f"2026-04-{i + 1:02d}", (ADMIN, ADMIN2) if kind != "badge" else (ADMIN,)
        )
    rules, hall = context(sqlite_store)
    with sqlite_store.read() as conn:
        s = next(s for s in scores(conn, rules, hall, date(2026, 1, 1), date(2026, 12, 31)) if s.clerk_no == "1003")
    assert (s.score, s.grade) == (score, grade)


def test_unconfirmed_events_count_nothing_and_block_closing(sqlite_store):
    rules, hall = context(sqlite_store)
    add_manual(sqlite_store, ManualEvent("1001", "badge", "", "2026-06-01", "未佩证"), ADMIN, rules, hall, 2026,
               china(2026, 12, 1))  # fmt: skip
    assert score_of(sqlite_store, "1001").score == 100
    with pytest.raises(StateRefused, match="尚有 1 条待确认"):
        close_year(sqlite_store, 2026, ADMIN, rules, hall, china(2027, 1, 5))
    with sqlite_store.read() as conn:
        assert db.closed_year(conn, 2026) is None
