"""``hcp server demo-data``: sample activity for the demo hall, built through the server's own paths and checked as an
administrator would check it (dashboard, 差评工单 and their handling, reasons, integrity), then the command run as a
real process."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from server_helpers import CONFIG_DIR, ROOT
from sqlalchemy import func, select

from haochaping.chain import RECORD_FIELDS, first_break
from haochaping.config import load_hall_config
from sync_server.configs import import_config
from sync_server.console.accounts import ADMIN, REVIEWER, REVISITOR, Scope
from sync_server.console.integrity import review
from sync_server.console.metrics import dashboard
from sync_server.console.settings import ConsoleSettings
from sync_server.db import Store
from sync_server.demo import DemoDataRefused, generate
from sync_server.errors import NotConfigured
from sync_server.storage.exclusions import is_excluded
from sync_server.storage.rollups import CHINA, china_day
from sync_server.storage.schema import (
    appeal_evidence,
    appeals,
    bad_cases,
    case_events,
    cases,
    devices,
    enrolment_codes,
    integrity_flags,
    ratings,
    record_conflicts,
    records,
)
from sync_server.workdays import WorkdayCalendar
from sync_server.workflow.auditchain import verify_chain
from sync_server.workflow.deadlines import RED
from sync_server.workflow.stats import case_lines, handling

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=CHINA).astimezone(UTC)  # a Friday evening, after office hours
DAYS, SEED = 14, 7
FIRST, LAST = date(2026, 11, 14), date(2026, 11, 27)


def configured_copy(template, folder) -> Store:
    shutil.copy(template, folder / "server.db")
    store = Store.from_url(f"sqlite:///{folder / 'server.db'}")
    import_config(store, CONFIG_DIR, "rules/default.toml", NOW - timedelta(days=60))
    return store


@pytest.fixture(scope="module")
def demo(sqlite_template, tmp_path_factory):
    """One generated hall, shared by the read-only checks below."""
    store = configured_copy(sqlite_template, tmp_path_factory.mktemp("demo"))
    summary = generate(store, NOW, DAYS, SEED)
    yield store, summary
    store.dispose()


def rating_rows(store: Store) -> list:
    with store.read() as conn:
        return conn.execute(select(records).where(records.c.kind == "rating")).all()


def test_the_dashboard_shows_a_believable_fortnight(demo):
    store, summary = demo
    with store.read() as conn:
        total = dashboard(conn, Scope(), FIRST, LAST).total
    assert 0.8 < total.good_rate < 0.99
    upheld = summary.handling.upheld  # an upheld appeal takes its rating out of the statistics
    assert total.n == summary.ratings - upheld and summary.ratings == len(rating_rows(store))
    assert (total.prompted, total.bad) == (summary.cases, summary.bad - upheld)
    assert 0 < summary.bad < 0.05 * summary.ratings and 0 < summary.timeouts < 0.1 * summary.cases
    assert total.by_level[5] + total.by_level[4] > 0.8 * total.n
    workdays = [
        FIRST + timedelta(days=k) for k in range(DAYS) if WorkdayCalendar().is_working_day(FIRST + timedelta(k))
    ]
    assert summary.working_days == len(workdays) == 10 and summary.windows == 3


def test_cases_fall_on_working_days_in_office_hours_with_the_windows_own_clerks_and_matters(demo):
    store, _ = demo
    hall = load_hall_config(CONFIG_DIR, "rules/default.toml").hall
    calendar, per_window_day = WorkdayCalendar(), {}
    with store.read() as conn:
        rows = conn.execute(select(cases)).all()
    for case in rows:
        window, prompted = hall.window(case.window), datetime.fromisoformat(case.prompted_at).astimezone(CHINA)
        assert calendar.is_working_day(prompted.date()) and 9 <= prompted.hour < 17
        assert case.matter_code in window.matters
        assert hall.clerk(case.clerk_no).department == window.department
        key = (case.window, prompted.date())
        per_window_day[key] = per_window_day.get(key, 0) + 1
    assert len(per_window_day) == 3 * 10 and all(10 <= n <= 40 for n in per_window_day.values())


def test_every_bad_rating_has_a_handling_record_and_every_rating_reasons_of_its_level(demo):
    store, summary = demo
    reasons = load_hall_config(CONFIG_DIR, "rules/default.toml").reasons
    for rating in rating_rows(store):
        chosen = set(json.loads(rating.reasons))
        assert chosen <= {r.code for r in reasons.for_level(rating.level)}
        assert chosen or rating.level >= 3
    with store.read() as conn:
        bad = {r.record_id for r in conn.execute(select(ratings.c.record_id).where(ratings.c.level <= 2))}
        handled = {r.record_id: r for r in conn.execute(select(bad_cases))}
        lines = case_lines(conn, Scope(), LAST)
    assert bad and set(handled) == bad and summary.bad_cases == len(bad) == summary.bad
    assert all(china_day(r.opened_at) == r.arrival_day for r in handled.values())
    assert sum(line.card == RED for line in lines) < len(lines) / 2  # a few overdue, not a hall that lags behind


def test_the_handling_panel_shows_a_hall_that_works_its_bad_ratings(demo):
    store, summary = demo
    with store.read() as conn:
        figures = handling(conn, Scope(), FIRST, LAST, None, LAST)
        states = [r.state for r in conn.execute(select(bad_cases.c.state))]
    assert figures.opened == summary.bad_cases and figures.appealed_away == summary.handling.upheld == 1
    assert 0.4 <= figures.rectify_rate <= 1 and 0.6 <= figures.on_time_rate <= 1 and 0.3 <= figures.revisit_rate <= 1
    assert len(figures.red) < figures.opened / 2
    h = summary.handling
    assert (h.closed, h.upheld, h.open) == (states.count("closed"), 1, len(states) - h.closed - 1)
    assert h.closed >= 3 and "pending" in states  # most older ones closed, the newest still 待核实


def events_by_case(conn) -> dict[int, list]:
    by_case: dict[int, list] = {}
    for event in conn.execute(select(case_events).order_by(case_events.c.id)):
        by_case.setdefault(event.case_id, []).append(event)
    return by_case


def test_sample_actors_take_each_step_at_office_hours_after_the_rating_in_their_own_department(demo):
    store, _ = demo
    hall, calendar = load_hall_config(CONFIG_DIR, "rules/default.toml").hall, WorkdayCalendar()
    with store.read() as conn:
        handled = {r.id: r for r in conn.execute(select(bad_cases))}
        by_case = events_by_case(conn)
    steps = 0
    for case_id, events in by_case.items():
        case, moments = handled[case_id], [e.at for e in events]
        assert events[0].step == "open" and moments == sorted(moments) and len(set(moments)) == len(moments)
        for event in events[1:]:
            at = datetime.fromisoformat(event.at).astimezone(CHINA)
            assert calendar.is_working_day(at.date()) and 9 <= at.hour < 17 and at.date().isoformat() > case.arrival_day
            assert event.actor.startswith("示例-") and event.role in (ADMIN, REVIEWER, REVISITOR)
            if event.role == REVIEWER:  # a department's reviewer, of the window's department in the hall config
                assert case.department == hall.window(case.window).department
                assert event.actor == f"示例-审核员-{case.department}"
            steps += 1
    assert steps > len(handled)


def test_an_unfounded_record_is_explained_and_closed(demo):
    store, _ = demo
    with store.read() as conn:
        courses = [[e.step for e in events] for events in events_by_case(conn).values()]
    assert ["open", "verify_false", "explain", "revisit", "close"] in courses
    assert ["open", "verify_true", "rectify", "revisit", "close"] in courses


def test_the_hall_revisits_with_the_citizens_answers_and_a_reopening(demo):
    from sync_server.storage.schema import case_revisits

    store, _ = demo
    with store.read() as conn:
        kept = conn.execute(select(case_revisits)).all()
        courses = [[e.step for e in events] for events in events_by_case(conn).values()]
        figures = handling(conn, Scope(), FIRST, LAST, None, LAST)
    assert {v.role for v in kept} <= {ADMIN, REVISITOR} and REVISITOR in {v.role for v in kept}
    assert {"satisfied", "basically"} <= {v.answer for v in kept} and "reopened" in {v.outcome for v in kept}
    assert any(c[c.index("revisit") :][:3] == ["revisit", "rectify", "revisit"] for c in courses if "revisit" in c)
    assert 0.5 <= figures.revisit_rate <= 1 and 0.6 <= figures.satisfaction_rate <= 1


def test_one_appeal_in_the_order_of_pian10_is_confirmed_and_its_rating_excluded_but_kept(demo):
    """核实：不属实 → the department's 书面报告 (误操作 or 恶意差评) → 复核属实 by a hall administrator: 不予采纳."""
    store, _ = demo
    with store.read() as conn:
        (appeal,) = conn.execute(select(appeals)).all()
        case = conn.execute(select(bad_cases).where(bad_cases.c.id == appeal.case_id)).one()
        course = [e.step for e in events_by_case(conn)[appeal.case_id]]
        assert conn.execute(select(func.count()).select_from(appeal_evidence)).scalar_one() == 0
        assert is_excluded(conn, appeal.record_id)
        assert conn.execute(select(records.c.level).where(records.c.id == appeal.record_id)).scalar_one() <= 2
    assert appeal.status == "upheld" and appeal.category in ("malicious", "mistake") and appeal.statement
    assert (appeal.filed_by, appeal.decided_by) == (f"示例-审核员-{case.department}", "示例-管理员2")
    assert case.state == "upheld" and appeal.filed_at < appeal.decided_at and appeal.filed_under == "report"
    assert course == ["open", "verify_false", "appeal", "uphold"] and appeal.return_state == "unfounded"


def test_the_audit_chain_holds_every_step(demo):
    store, _ = demo
    with store.read() as conn:
        steps = conn.execute(select(func.count()).select_from(case_events).where(case_events.c.step != "open"))
        checked, broken = verify_chain(conn)
    assert broken is None and checked >= steps.scalar_one() > 0


def test_phone_ratings_rate_cases_that_timed_out_at_the_window(demo):
    store, summary = demo
    with store.read() as conn:
        phone = conn.execute(select(records).where(records.c.channel == 3)).all()
        timed_out = {r.case_no for r in conn.execute(select(records.c.case_no).where(records.c.kind == "timeout"))}
    assert len(phone) == summary.phone > 0
    assert all(r.source == "qr" and r.case_no in timed_out for r in phone)
    assert all(datetime.fromisoformat(r.occurred_at) < NOW for r in phone)


def test_no_integrity_flag_and_every_terminal_chain_holds(demo):
    store, _ = demo
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(integrity_flags)).scalar_one() == 0
        year = ("2026-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00")
        assert review(conn, Scope(), *year, ConsoleSettings()) == ([], {}, [], [])  # no burst, no too-fast rating
        assert conn.execute(select(func.count()).select_from(record_conflicts)).scalar_one() == 0
        terminals = conn.execute(select(devices)).all()
        for device in terminals:
            rows = conn.execute(select(records).where(records.c.device_id == device.id).order_by(records.c.seq)).all()
            chain = [
                {k: getattr(r, k) for k in RECORD_FIELDS}
                | {"reasons": json.loads(r.reasons), "detail": json.loads(r.detail)}
                for r in rows
                if r.seq is not None
            ]
            assert chain and first_break(chain) is None
            assert max(r.received_at for r in rows) <= device.last_seen_at <= NOW.isoformat()
    assert sorted(d.window for d in terminals) == ["A01", "B03", "C05"]


def test_a_second_run_refuses_and_changes_nothing(demo):
    store, _ = demo

    def counts():
        with store.read() as conn:
            tables = (records, devices, enrolment_codes, bad_cases, cases)
            return [conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables]

    before = counts()
    with pytest.raises(DemoDataRefused, match="已有评价"):
        generate(store, NOW + timedelta(days=1), DAYS, SEED)
    assert counts() == before


def test_the_same_seed_makes_the_same_hall(sqlite_template, tmp_path, demo):
    (tmp_path / "a").mkdir()
    store = configured_copy(sqlite_template, tmp_path / "a")
    again = generate(store, NOW, DAYS, SEED)
    rows = sorted((r.case_no, r.kind, r.level, r.reasons) for r in rating_rows(store))
    handled = handling_history(store)
    store.dispose()
    assert again == demo[1]
    assert rows == sorted((r.case_no, r.kind, r.level, r.reasons) for r in rating_rows(demo[0]))
    assert handled == handling_history(demo[0])


def handling_history(store: Store) -> list:
    with store.read() as conn:
        states = conn.execute(select(bad_cases.c.case_no, bad_cases.c.state).order_by(bad_cases.c.case_no)).all()
        events = conn.execute(select(case_events.c.at, case_events.c.step, case_events.c.actor, case_events.c.detail))
        return [tuple(r) for r in states] + sorted(tuple(e) for e in events)


def test_an_unconfigured_database_is_refused(sqlite_store):
    with pytest.raises(NotConfigured, match="hcp server config import"):
        generate(sqlite_store, NOW)


def hcp(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "haochaping.cli", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_hcp_server_demo_data_fills_a_fresh_database_once(tmp_path):
    db = f"sqlite:///{tmp_path / 'server.db'}"
    assert hcp("server", "migrate", "--db", db).returncode == 0
    assert hcp("server", "config", "import", "--db", db, "--config-dir", str(CONFIG_DIR)).returncode == 0
    done = hcp("server", "demo-data", "--db", db, "--days", "14", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"示例数据：近 14 天中的 \d+ 个工作日，3 个窗口，共 \d+ 件，评价 \d+ 条.*\n", done.stdout)
    again = hcp("server", "demo-data", "--db", db)
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr == "hcp: 数据库中已有评价，示例数据只用于新建的数据库，本次未做任何改动\n"


def test_the_reports_cards_agree_with_the_dashboards_on_demo_data(demo):
    """Issue 10 §5: on the same day the report said 3 红牌/黄牌 and the dashboard 2 — the report counted them on the
    month's last day, still to come. A report made today counts today, as the dashboard; a report that counts
    on the period's end says so."""
    from sync_server.configs import current_config
    from sync_server.console.dashboard_view import workflow_handling
    from sync_server.console.labels import Names, china_today
    from sync_server.console.period import report_period
    from sync_server.console.reports import monthly_report

    store, _ = demo
    with store.read() as conn:
        names = Names.of(current_config(conn).config)
        board = workflow_handling(conn, Scope(), report_period("2026-11"), None, NOW)

        def summary(today=None) -> dict:
            sections = monthly_report(conn, Scope(), "2026-11", None, names, ConsoleSettings(), today)
            return {r[0]: r[1] for r in sections[0].rows}

        made_today, at_end = summary(china_today(NOW)), summary()
    assert (made_today["黄牌（今日）"], made_today["红牌（今日）"]) == (board.yellow_count, board.red_count)
    assert made_today["差评处理判定日"] == "2026-11-27（今日）" and at_end["差评处理判定日"] == "2026-11-30（统计期末）"
    assert "黄牌（今日）" not in at_end and "黄牌（统计期末）" in at_end
    print("demo data, 2026-11-27: dashboard", (board.yellow_count, board.red_count),
          "report at 统计期末", (at_end["黄牌（统计期末）"], at_end["红牌（统计期末）"]))  # fmt: skip
