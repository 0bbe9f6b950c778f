"""办件对账: the case system's closed cases against the seeded month's prompts and ratings (NOW is 2026-11-28,
a Saturday): 漏评 per window and clerk, 参评率 over both denominators, 限时办结 with its cards, 办件系统无此件 on the
integrity page after the grace period, and the line a hall without a case system sees."""

from __future__ import annotations

import re

import pytest
from console_helpers import MATTER_RS, MATTER_SC, NOW, at, sign_in

from sync_server.closedcases.intake import ClosedCase, take_in
from sync_server.closedcases.reconcile import reconcile
from sync_server.closedcases.settings import CaseFeedSettings
from sync_server.configs import current_config
from sync_server.console.accounts import Scope
from sync_server.console.labels import Names
from sync_server.console.reports import monthly_report
from sync_server.console.settings import ConsoleSettings
from sync_server.storage.rollups import day_bounds
from sync_server.triggers import add_case_system

MATTER_SC_10 = "11450102MB1234567X4000112"  # 食品经营许可: 10 working days in config/hall.toml

CLOSED = [
    # prompted 2 Nov 09:00 at A01 and rated: accepted on a Sunday, due the third working day after (4 Nov)
    ClosedCase("C1", MATTER_SC, "A01", "1001", at(1, 9), at(2, 8, 55)),
    # never prompted at A01: 漏评 of clerk 1002; due 16 Nov (10 working days after 2 Nov), closed on time
    ClosedCase("X-MISS", MATTER_SC_10, "A01", "1002", at(2, 9), at(10, 15)),
    # never prompted at B03, and closed late: the case system says 2 working days, due 18 Nov, closed 20 Nov
    ClosedCase("X-LATE", MATTER_RS, "B03", "1003", at(16, 9), at(20, 16), promised_days=2),
    ClosedCase("C9", MATTER_RS, "B03", "1003", at(2, 8), at(2, 8, 50)),  # prompted 09:00 and rated
    ClosedCase("C11", MATTER_RS, "B03", "1003", at(3, 8), at(3, 10, 59)),  # prompted; only a 系统默认评价
    # still open: due 25 Nov → 红牌; due Monday 30 Nov, the next working day → 黄牌; due in December → no card
    ClosedCase("O-RED", MATTER_SC, "A01", "1001", at(20, 9)),
    ClosedCase("O-YELLOW", MATTER_RS, "B03", "1003", at(27, 9)),
    ClosedCase("O-FINE", MATTER_SC_10, "A01", "1002", at(27, 9)),
]


@pytest.fixture
def reported(hall):
    add_case_system(hall.store, "一窗综合受理系统", at(1, 8))
    with hall.store.read() as conn:
        config = current_config(conn).config
    assert {s for _, s in take_in(hall.store, CLOSED, "一窗综合受理系统", NOW, config.hall)} == {"stored"}
    return hall


def month(store, scope: Scope | None = None, settings: CaseFeedSettings | None = None):
    scope, settings = scope or Scope(), settings or CaseFeedSettings()
    start, end = day_bounds(at(1).date())[0], day_bounds(at(28).date())[1]
    with store.read() as conn:
        return reconcile(conn, scope, start, end, NOW, current_config(conn).config, settings, NOW.date())


def test_missed_prompts_rates_over_closed_cases_and_time_limits(reported):
    found = month(reported.store)
    assert (found.closed, found.prompted, found.rated) == (5, 3, 2)
    assert (found.participation_rate, found.unrated_rate) == (0.4, 0.6)
    assert sorted(c.case_no for c in found.missed) == ["X-LATE", "X-MISS"]
    assert dict(found.missed_by_window) == {"A01": 1, "B03": 1}
    assert dict(found.missed_by_clerk) == {"1002": 1, "1003": 1}
    assert (found.with_due, found.on_time, found.on_time_rate) == (5, 4, 0.8)
    assert [(c.case_no, c.due.isoformat()) for c in found.late] == [("X-LATE", "2026-11-18")]
    assert dict(found.late_by_department_matter) == {("RS", MATTER_RS): 1}
    assert [(c.case_no, c.due.isoformat()) for c in found.red] == [("O-RED", "2026-11-25")]
    assert [(c.case_no, c.due.isoformat()) for c in found.yellow] == [("O-YELLOW", "2026-11-30")]


def test_a_reviewer_reconciles_only_its_departments_windows(reported):
    found = month(reported.store, Scope("SC", frozenset({"A01"})))
    assert (found.closed, [c.case_no for c in found.missed], [c.case_no for c in found.red]) == (
        2,
        ["X-MISS"],
        ["O-RED"],
    )
    assert found.yellow == []


def test_prompted_case_numbers_the_case_system_never_reported_are_flagged_after_the_grace_period(reported):
    flagged = {c.case_no for c in month(reported.store).unreported}
    assert "C3" in flagged and "C6" in flagged  # C6 was prompted 25 Nov 09:00, 73 hours before NOW
    assert not flagged & {c.case_no for c in CLOSED}
    later = {
        c.case_no for c in month(reported.store, settings=CaseFeedSettings(unknown_case_grace_hours=80)).unreported
    }
    assert "C6" not in later and "C3" in later


def test_the_console_shows_the_reconciliation_and_the_integrity_flags(app_client, reported):
    sign_in(app_client, "admin")
    page = app_client.get("/console/closed-cases?from=2026-11-01&to=2026-11-28")
    assert page.status_code == 200
    text = re.sub(r"<[^>]+>", " ", page.text)
    assert "办件系统报送的办结办件" in text and "评价器发起评价的办件" in text and "40.0%" in text
    assert "X-MISS" in page.text and "X-LATE" in page.text and "按时办结率" in text and "80.0%" in text
    assert "O-RED" in page.text and "红牌" in text and "O-YELLOW" in page.text and "黄牌" in text
    assert 'id="not-connected"' not in page.text
    integrity = app_client.get("/console/integrity?from=2026-11-01&to=2026-11-28")
    assert "办件系统无此件" in integrity.text and ">C3<" not in integrity.text
    assert re.search(r"办件系统无此件</span> C3", integrity.text)
    dashboard = app_client.get("/console/dashboard?from=2026-11-01&to=2026-11-28")
    assert "/console/closed-cases?from=2026-11-01" in dashboard.text


def test_a_hall_without_a_case_system_sees_its_figures_and_a_line_saying_so(app_client, hall):
    sign_in(app_client, "admin")
    page = app_client.get("/console/closed-cases?from=2026-11-01&to=2026-11-28")
    assert 'id="not-connected"' in page.text and "办件系统未接入" in page.text
    assert "X-MISS" not in page.text and "评价器发起评价的办件" in page.text
    dashboard = app_client.get("/console/dashboard?from=2026-11-01&to=2026-11-28")
    assert "办件系统未接入" in dashboard.text and 'id="kpi-participation"' in dashboard.text
    assert 'id="unreported-not-connected"' in app_client.get("/console/integrity").text


def test_the_monthly_report_carries_the_reconciliation(reported, hall):
    with reported.store.read() as conn:
        sections = monthly_report(conn, Scope(), "2026-11", None, Names(), ConsoleSettings())
    rows = dict((r[0], r[1]) for r in sections[-1].rows)
    assert sections[-1].title == "办件对账"
    assert rows["参评率（以办结办件为分母）"] == 0.4 and rows["按时办结率"] == 0.8 and rows["超时办结"] == 1
    assert rows["漏评（办结后未发起评价）"] == 2 and rows["红牌：超期未办结（统计期末）"] >= 1


def test_the_monthly_report_says_when_no_case_system_is_connected(hall):
    with hall.store.read() as conn:
        sections = monthly_report(conn, Scope(), "2026-11", None, Names(), ConsoleSettings())
    assert sections[-1].rows == [["办件系统", sections[-1].rows[0][1]]] and "未接入" in sections[-1].rows[0][1]
