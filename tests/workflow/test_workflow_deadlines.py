"""Working-day deadlines of handling records across real holiday edges (National Day 2026 with its make-up
Saturday 2026-10-10, a year end whose deadline falls in the unconfirmed 2027), the cards, and 按时整改率."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from workflow_helpers import CONFIG_DIR, actor, china, csrf_of, sign_in

from haochaping.cli import main as hcp
from sync_server.app import create_app
from sync_server.console.accounts import Scope
from sync_server.workflow.cases import StepForm, take_step
from sync_server.workflow.deadlines import china_today
from sync_server.workflow.machine import Step
from sync_server.workflow.stats import case_lines, handling

SATISFIED = StepForm("群众表示满意", method="phone", answer="satisfied")  # 回访, by the hall


def line(store, today: date, case_id: int = 1):
    with store.read() as conn:
        return next(ln for ln in case_lines(conn, None, today) if ln.case.id == case_id)


def test_rating_on_the_eve_of_national_day_is_filed_that_day_and_due_after_the_holiday(store, terminals):
    terminals["A01"].rate(1, china(2026, 9, 30, 16))
    first = line(store, date(2026, 9, 30))
    assert first.case.arrival_day == "2026-09-30" and first.case.department == "SC"  # 当日建档
    assert first.due.name == "核实（联系群众）"
    assert first.due.due == date(2026, 10, 9)  # 10-01…10-07 off; 10-08 is day 1, 10-09 day 2
    assert first.due.warning == ""
    assert first.card is None  # two working days left
    assert line(store, date(2026, 10, 5)).card is None  # holiday: still two working days left
    assert line(store, date(2026, 10, 8)).card == "yellow"
    assert line(store, date(2026, 10, 9)).card == "yellow"  # due today
    assert line(store, date(2026, 10, 10)).card == "red"


def test_a_deadline_lands_on_the_make_up_saturday(store, terminals):
    terminals["A01"].rate(2, china(2026, 10, 8, 9))
    assert line(store, date(2026, 10, 8)).due.due == date(2026, 10, 10)  # 10-09 day 1, Saturday 10-10 day 2
    take_step(store, 1, Step.VERIFY_TRUE, actor("sc_reviewer"), china(2026, 10, 10, 11),
              StepForm("窗口未一次性告知材料，属实", fix_kind="simple"))  # fmt: skip
    fix = line(store, date(2026, 10, 10))
    assert [d.step for d in fix.dues] == ["contact", "fix"]
    assert fix.dues[0].on_time is True  # verified on the make-up Saturday itself
    assert fix.due.due == date(2026, 10, 14)  # from receipt (篇10): 10-09, Saturday 10-10, 10-12, 10-13, 10-14


def test_year_end_deadline_falls_in_an_unconfirmed_year_until_the_schedule_is_loaded(
    store, terminals, db_url, tmp_path
):
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from sync_server.app import create_app
    from sync_server.storage.schema import audit_log

    terminals["A01"].rate(1, china(2026, 12, 24, 10))
    take_step(store, 1, Step.VERIFY_TRUE, actor("admin"), china(2026, 12, 25, 10),
              StepForm("业务复杂，需要跨部门协调", fix_kind="complex"))  # fmt: skip
    fix = line(store, date(2026, 12, 25))
    assert fix.due.due.year == 2027 and not fix.due.confirmed
    assert fix.case.fix_due is None  # not kept: computed afresh until the official schedule is loaded
    clock = lambda: china(2026, 12, 25, 12)  # noqa: E731
    with TestClient(create_app(store, clock=clock)) as client:
        assert sign_in(client, "sc_reviewer").status_code == 303
        page = client.get("/console/cases/1")
        assert "截止日期按未确认的节假日安排计算" in page.text
        listing = client.get("/console/cases")
        assert "未确认" in listing.text
    schedule = tmp_path / "2027.toml"
    schedule.write_text(
        'year = 2027\nsource = "国办发明电〔2026〕示例号"\nholidays = ["2027-01-01"]\nworkdays = []\n', encoding="utf-8"
    )
    assert hcp(["server", "workdays", "load", str(schedule), "--db", db_url]) == 0
    loaded = line(store, date(2026, 12, 25))
    assert loaded.due.confirmed and loaded.due.warning == ""
    assert loaded.due.due == date(2027, 1, 15)  # from receipt 12-24: 12-25…12-31 (5), 01-04…01-15 (10)
    with store.read() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "workdays.load")).one()
    assert entry.target == "2027" and entry.actor == "cli"


def test_a_malformed_schedule_file_is_refused_with_file_and_key(store, db_url, tmp_path, capsys):
    bad = tmp_path / "2027.toml"
    bad.write_text('year = 2027\nholidays = ["国庆"]\n', encoding="utf-8")
    assert hcp(["server", "workdays", "load", str(bad), "--db", db_url]) == 2
    err = capsys.readouterr().err
    assert "2027.toml" in err and "holidays.0" in err
    assert (CONFIG_DIR / "workdays" / "README.md").exists()


def test_cards_and_on_time_rectification_rate(store, terminals):
    """Four substantiated records of November: fixed on time, fixed late, overdue unfixed (red), not yet due."""
    a01 = terminals["A01"]
    for day in (2, 3, 4, 24):
        a01.rate(1, china(2026, 11, day, 9))
    for case_id, day in ((1, 2), (2, 3), (3, 4), (4, 24)):
        take_step(store, case_id, Step.VERIFY_TRUE, actor("sc_reviewer"), china(2026, 11, day, 15),
                  StepForm("属实", fix_kind="simple"))  # fmt: skip
    take_step(store, 1, Step.RECTIFY, actor("sc_reviewer"), china(2026, 11, 6, 10), StepForm("已培训窗口人员"))
    take_step(store, 2, Step.RECTIFY, actor("sc_reviewer"), china(2026, 11, 20, 10), StepForm("已补充材料样本"))
    take_step(store, 1, Step.REVISIT, actor("admin"), china(2026, 11, 9, 10), SATISFIED)
    today = date(2026, 11, 27)
    with store.read() as conn:
        h = handling(conn, None, date(2026, 11, 1), date(2026, 11, 30), None, today)
    assert (h.opened, h.substantiated, h.rectified, h.visited) == (4, 4, 2, 1)
    assert (h.fixed_on_time, h.fix_judged) == (1, 3)  # case 2 late, case 3 overdue (red) count against it
    assert h.on_time_rate == pytest.approx(1 / 3)
    assert h.rectify_rate == 0.5 and h.revisit_rate == 0.5
    assert [ln.case.id for ln in h.red] == [3]  # fix due 11-11, still not rectified
    assert [ln.case.id for ln in h.yellow] == [2]  # fixed 11-20: its return visit is due today, 11-27
    with store.read() as conn:
        rs_scope = Scope(department="RS", windows=frozenset({"B03"}))
        assert handling(conn, rs_scope, date(2026, 11, 1), date(2026, 11, 30), None, today).opened == 0
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 27, 15))) as client:
        sign_in(client, "admin")
        board = client.get("/console/dashboard?from=2026-11-01&to=2026-11-30").text
        assert re.search(r'id="kpi-red"><b>1</b>', board) and re.search(r'id="kpi-yellow"><b>1</b>', board)
        assert re.search(r'id="kpi-on-time-rate"><b>33.3%</b>', board)
        assert "差评工单 #3" in board  # listed with its card
        assert "差评工单 #3" in client.get("/console/cases?card=red").text
    assert line(store, today, 4).due.due == date(2026, 12, 1)
    assert line(store, date(2026, 11, 30), 4).card == "yellow"
    assert china_today(china(2026, 11, 27, 23, 30)) == today  # China date, not UTC


def test_the_figures_are_the_same_from_kept_deadlines_and_from_deadlines_worked_out_afresh(store, terminals):
    """The database counts records whose deadlines are kept; records without (an unconfirmed year, or opened
    before deadlines were kept) are worked out in Python. Both must give the same figures and cards."""
    from sqlalchemy import update

    from sync_server.storage.schema import bad_cases

    a01, sc = terminals["A01"], actor("sc_reviewer")
    for day in (2, 3, 4, 5, 6, 24, 25):
        a01.rate(1, china(2026, 11, day, 9))
    steps = [
        (1, Step.VERIFY_TRUE, 2, StepForm("属实", fix_kind="simple")),
        (2, Step.VERIFY_TRUE, 3, StepForm("属实", fix_kind="complex")),
        (3, Step.VERIFY_FALSE, 4, StepForm("不属实")),
        (4, Step.VERIFY_TRUE, 5, StepForm("属实", fix_kind="simple")),
        (1, Step.RECTIFY, 6, StepForm("已整改")),  # on time
        (4, Step.RECTIFY, 20, StepForm("已整改")),  # late
        (1, Step.REVISIT, 9, SATISFIED),
        (5, Step.VERIFY_FALSE, 9, StepForm("不属实")),
        (5, Step.APPEAL, 9, StepForm("误操作", category="mistake")),
        (6, Step.VERIFY_TRUE, 25, StepForm("属实", fix_kind="simple")),
    ]
    for case_id, step, day, form in steps:
        take_step(store, case_id, step, actor("admin") if step == Step.REVISIT else sc, china(2026, 11, day, 15), form)

    def figures(today: date):
        with store.read() as conn:
            h = handling(conn, None, date(2026, 11, 1), date(2026, 11, 30), None, today)
        counts = (h.opened, h.substantiated, h.unfounded, h.rectified, h.visited, h.fix_judged, h.fixed_on_time)
        return counts, sorted(ln.case.id for ln in h.red), sorted(ln.case.id for ln in h.yellow)

    kept = {day: figures(date(2026, 11, day)) for day in (9, 20, 27)}
    assert kept[27][0] == (7, 4, 2, 2, 1, 3, 1)  # case 2 (complex, due 11-24) is judged late by 11-27
    with store.write() as conn:
        conn.execute(update(bad_cases).values(contact_due=None, fix_due=None, revisit_due=None, explain_due=None))
    assert {day: figures(date(2026, 11, day)) for day in (9, 20, 27)} == kept


def test_an_administrator_loads_the_new_year_on_the_console_page(store, terminals):
    from sqlalchemy import select

    from sync_server.storage.schema import audit_log

    clock = lambda: china(2026, 12, 20, 9)  # noqa: E731
    with TestClient(create_app(store, clock=clock)) as admin, TestClient(create_app(store, clock=clock)) as sup:
        sign_in(admin, "admin")
        page = admin.get("/console/workdays").text
        assert re.search(r"2027 年：<span[^>]*>未确认", page)
        token = csrf_of(page)
        broken = admin.post(
            "/console/workdays",
            data={"csrf_token": token},
            files={"schedule": ("2027.toml", b'year = 2027\nholidays = ["2027-02-30"]\n', "text/plain")},
        )
        assert broken.status_code == 400
        beside_the_field = re.search(r'id="error-schedule" role="alert">([^<]*)<', broken.text)
        assert beside_the_field and "holidays.0" in beside_the_field.group(1)
        good = 'year = 2027\nsource = "国办发明电示例"\nholidays = ["2027-01-01"]\nworkdays = ["2027-02-07"]\n'.encode()
        answer = admin.post(
            "/console/workdays", data={"csrf_token": token}, files={"schedule": ("2027.toml", good, "text/plain")}
        )
        assert answer.status_code == 200 and "2027 年：已确认" in answer.text and "国办发明电示例" in answer.text
        sign_in(sup, "supervisor")
        assert "2027 年：已确认" in sup.get("/console/workdays").text
        refused = sup.post("/console/workdays", data={"csrf_token": csrf_of(sup.get("/console/workdays").text)})
        assert refused.status_code == 403
    with store.read() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "workdays.load")).one()
    assert (entry.actor, entry.target) == ("admin", "2027")


def test_the_dashboard_lists_the_ten_most_overdue_cards_first_and_links_to_the_rest(store, terminals):
    a01 = terminals["A01"]
    days = [2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 25]  # none contacted: red from the 3rd working day on
    for day in days:
        a01.rate(2, china(2026, 11, day, 9))
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 27, 15))) as client:
        sign_in(client, "admin")
        board = client.get("/console/dashboard?from=2026-11-01&to=2026-11-30").text
    listed = re.findall(r'<li><a href="/console/cases/(\d+)">', board.split('id="card-list"')[1].split("</ol>")[0])
    assert listed == [str(n) for n in range(1, 11)]  # the earliest deadlines first (case 1 arrived 11-02)
    assert re.search(r'id="kpi-red"><b>12</b>', board) and re.search(r'id="kpi-yellow"><b>1</b>', board)
    more = board.split('id="card-list-more"')[1].split("</p>")[0]
    assert "全部红牌 12 张" in more and "全部黄牌 1 张" in more


def test_a_deadline_is_kept_from_when_its_clock_started_when_the_rules_change(store, terminals, tmp_path):
    """The province shortens its deadlines to 1 and 3 working days: records already running keep theirs."""
    import shutil

    from sync_server.configs import import_config

    a01 = terminals["A01"]
    a01.rate(1, china(2026, 11, 2, 10))  # Monday
    take_step(store, 1, Step.VERIFY_TRUE, actor("sc_reviewer"), china(2026, 11, 3, 10),
              StepForm("属实", fix_kind="simple"))  # fmt: skip
    shorter = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, shorter)
    rules = shorter / "rules" / "default.toml"
    text = rules.read_text(encoding="utf-8").replace("contact_days = 2", "contact_days = 1")
    rules.write_text(text.replace("simple_fix_days = 5", "simple_fix_days = 3"), encoding="utf-8")
    import_config(store, shorter, "rules/default.toml", china(2026, 11, 5, 8))
    a01.rate(2, china(2026, 11, 5, 10))  # Thursday, under the new rules
    take_step(store, 2, Step.VERIFY_TRUE, actor("sc_reviewer"), china(2026, 11, 5, 15),
              StepForm("属实", fix_kind="simple"))  # fmt: skip
    today = date(2026, 11, 5)
    kept = {d.step: d.due for d in line(store, today, 1).dues}
    assert kept == {"contact": date(2026, 11, 4), "fix": date(2026, 11, 9)}  # 2 and 5 working days from 11-02
    new = {d.step: d.due for d in line(store, today, 2).dues}
    assert new == {"contact": date(2026, 11, 6), "fix": date(2026, 11, 10)}  # 1 and 3 working days
    assert line(store, today, 1).case.contact_due == "2026-11-04"


def test_the_list_shows_the_newest_records_while_cards_and_rates_reach_every_old_open_one(store, terminals):
    """An old record still waiting for contact keeps its red card on the dashboard and in the red-card list even
    when 500 newer records push it off the plain list; the period's rates count only the period's records."""
    from sync_server.ingest import ingest
    from sync_server.workflow.views import CASE_LIST_LIMIT

    a01 = terminals["A01"]
    a01.rate(1, china(2026, 10, 12, 9))  # October, never handled: red since mid-October
    batch = []
    for i in range(CASE_LIST_LIMIT):
        case = dict(case_no=f"NOV-{i:04d}", clerk_no="1001", matter_code="11450102MB1234567X4000111")
        prompt = a01.record("prompt", china(2026, 11, 26, 9), **case)
        batch += [prompt, a01.record("rating", china(2026, 11, 26, 9, 1), level=2, prompted_at=prompt["occurred_at"],
                                     **case)]  # fmt: skip
    assert {s for _, s in ingest(store, a01.device_id, batch, china(2026, 11, 26, 10))} == {"stored"}
    with store.read() as conn:
        november = handling(conn, None, date(2026, 11, 1), date(2026, 11, 30), None, date(2026, 11, 27))
    assert november.opened == CASE_LIST_LIMIT  # the October record is not in November's rates
    assert [ln.case.id for ln in november.red] == [1]  # but its card is on November's dashboard
    assert len(november.yellow) == CASE_LIST_LIMIT  # contact due 11-30: within one working day of 11-27
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 27, 15))) as client:
        sign_in(client, "admin")
        plain = client.get("/console/cases").text
        assert 'id="case-1"' not in plain and f'id="case-{CASE_LIST_LIMIT + 1}"' in plain
        assert 'id="cases-more"' in plain
        red = client.get("/console/cases?card=red").text
        assert 'id="case-1"' in red and 'id="cases-more"' not in red
        assert client.get("/console/cases?card=purple").status_code == 400
