"""The rules of 篇10 as the hall is judged by them, on SQLite and PostgreSQL: the "2、5、15" clocks counted from the
day the 差评 was received (or from 核实, by province rule), and an on-time rate for each step."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from workflow_helpers import (
    CONFIG_DIR,
    MATTER_SC,
    actor,
    china,
    prompted,
    rate_by_phone,
    sign_in,
)

from sync_server.app import create_app
from sync_server.workflow.cases import StepForm, take_step
from sync_server.workflow.machine import Step
from sync_server.workflow.stats import handling

NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))
SATISFIED = StepForm("群众满意", method="phone", answer="satisfied")  # 回访, by the hall


def use_rule(store, tmp_path, line: str, now, old: str = 'fix_clock_from = "received"') -> None:
    """Import the example configuration with one line of the rules replaced."""
    from sync_server.configs import import_config

    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config, dirs_exist_ok=True)
    rules = config / "rules" / "default.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace(old, line), encoding="utf-8")
    import_config(store, config, "rules/default.toml", now)


def kept(store, case_id: int) -> tuple[str, str]:
    from sqlalchemy import select

    from sync_server.storage.schema import bad_cases

    with store.read() as conn:
        row = conn.execute(select(bad_cases).where(bad_cases.c.id == case_id)).one()
    return row.contact_due, row.fix_due


def late_verification(store, terminals) -> None:
    """The issue's example: received Monday 11-02, verified 11-20 (late), fixed 11-23."""
    sc = actor("sc_reviewer")
    terminals["A01"].rate(1, china(2026, 11, 2, 10))
    take_step(store, 1, Step.VERIFY_TRUE, sc, china(2026, 11, 20, 10), StepForm("属实", fix_kind="simple"))
    take_step(store, 1, Step.RECTIFY, sc, china(2026, 11, 23, 10), StepForm("已整改"))
    take_step(store, 1, Step.REVISIT, actor("admin"), china(2026, 11, 24, 10), SATISFIED)


def rates(store, today: date) -> dict[str, tuple[int, int]]:
    with store.read() as conn:
        h = handling(conn, None, *NOVEMBER, None, today)
    return {key: (done, judged) for key, _, done, judged, _ in h.step_rates}


def test_the_fix_clock_counts_from_receipt_so_a_late_verification_cannot_make_a_late_fix_on_time(hall):
    store, terminals = hall
    late_verification(store, terminals)
    assert kept(store, 1) == ("2026-11-04", "2026-11-09")  # 2 and 5 working days after 11-02, not after 11-20
    assert rates(store, date(2026, 11, 30)) == {"contact": (0, 1), "fix": (0, 1), "revisit": (1, 1)}
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 30, 15))) as client:
        sign_in(client, "admin")
        board = client.get("/console/dashboard?from=2026-11-01&to=2026-11-30").text
    assert re.search(r'id="kpi-on-time-contact"><b>0.0%</b><span>核实（联系群众）按时率（0/1）', board)
    assert re.search(r'id="kpi-on-time-rate"><b>0.0%</b>', board)


def report_rows(store) -> dict:
    from sync_server.configs import current_config
    from sync_server.console.accounts import Scope
    from sync_server.console.labels import Names
    from sync_server.console.reports import monthly_report
    from sync_server.console.settings import ConsoleSettings

    with store.read() as conn:
        names = Names.of(current_config(conn).config)
        sections = monthly_report(conn, Scope(), "2026-11", None, names, ConsoleSettings())
    return {row[0]: row[1] for row in sections[0].rows}


def test_a_province_may_count_the_fix_from_verification_and_the_late_verification_still_shows(hall, tmp_path):
    store, terminals = hall
    use_rule(store, tmp_path, 'fix_clock_from = "verified"', china(2026, 11, 1, 8))
    late_verification(store, terminals)
    assert kept(store, 1) == ("2026-11-04", "2026-11-27")
    assert rates(store, date(2026, 11, 30)) == {"contact": (0, 1), "fix": (1, 1), "revisit": (1, 1)}
    rows = report_rows(store)
    assert rows["整改期限起算"] == "自核实之日"
    assert rows["核实（联系群众）按时（件/应计）"] == "0/1" and rows["核实（联系群众）按时率"] == 0.0
    assert rows["整改按时率"] == 1.0 and rows["回访按时率"] == 1.0


def test_the_per_step_rates_are_the_same_from_kept_deadlines_and_worked_out_afresh(hall):
    """A record of an unconfirmed year keeps no deadline and is worked out in Python; same figures either way."""
    from sqlalchemy import update

    from sync_server.storage.schema import bad_cases

    store, terminals = hall
    sc = actor("sc_reviewer")
    for day in (2, 3, 4, 5, 26):
        terminals["A01"].rate(1, china(2026, 11, day, 9))
    for case_id, step, day, form in [
        (1, Step.VERIFY_TRUE, 3, StepForm("属实", fix_kind="simple")),  # contact on time
        (2, Step.VERIFY_TRUE, 10, StepForm("属实", fix_kind="complex")),  # contact late, fix due 11-24
        (3, Step.VERIFY_FALSE, 4, StepForm("不属实")),
        (1, Step.RECTIFY, 6, StepForm("已整改")),
        (1, Step.REVISIT, 20, SATISFIED),  # revisit due 11-13: late
    ]:
        take_step(store, case_id, step, actor("admin") if step == Step.REVISIT else sc, china(2026, 11, day, 15), form)
    expected = {"contact": (2, 4), "fix": (1, 2), "revisit": (0, 1)}  # case 4 overdue unverified, case 5 not yet due
    assert rates(store, date(2026, 11, 27)) == expected
    with store.write() as conn:
        conn.execute(update(bad_cases).values(contact_due=None, fix_due=None, revisit_due=None, explain_due=None))
    assert rates(store, date(2026, 11, 27)) == expected


# ---------------------------------------------------------------- §4 default ratings in their own period


def prompt_only(terminal, when, clerk: str = "1001") -> str:
    """A prompted case nobody rated; returns its case number."""
    from workflow_helpers import MATTER_SC

    from sync_server.ingest import ingest

    case_no = f"{terminal.window}-unrated-{terminal.seq}"
    prompt = terminal.record("prompt", when, case_no=case_no, clerk_no=clerk, matter_code=MATTER_SC)
    assert [s for _, s in ingest(terminal.store, terminal.device_id, [prompt], when)] == ["stored"]
    return case_no


def month_figures(store, first: date, last: date):
    from sync_server.console import metrics
    from sync_server.console.accounts import Scope

    with store.read() as conn:
        total = metrics.dashboard(conn, Scope(), first, last).total
    return total.n, total.n - total.active_n, total.prompted


def test_a_default_rating_counts_in_the_period_its_case_became_due_however_late_the_command_runs(hall, tmp_path):
    from sync_server.ratings import apply_default_ratings

    store, terminals = hall
    use_rule(store, tmp_path, "default_rating = 5", china(2026, 10, 1, 8), old="default_rating = 0")
    a01 = terminals["A01"]
    october = prompt_only(a01, china(2026, 10, 20, 10))  # due for a default 10-27: October
    late_october = prompt_only(a01, china(2026, 10, 28, 10))  # due 11-04: November
    a01.rate(5, china(2026, 11, 2, 10))
    assert sorted(apply_default_ratings(store, china(2026, 11, 29, 10))) == sorted([october, late_october])
    assert apply_default_ratings(store, china(2026, 12, 20, 10)) == []  # twice, and late: nothing changes
    oct_, nov = (date(2026, 10, 1), date(2026, 10, 31)), NOVEMBER
    assert month_figures(store, *oct_) == (1, 1, 2)  # (effective, of which default, prompted)
    assert month_figures(store, *nov) == (2, 1, 1)
    from sqlalchemy import select

    from sync_server.storage.schema import records

    with store.read() as conn:
        at = conn.execute(select(records.c.occurred_at).where(records.c.id == f"default:{october}")).scalar()
    assert at.startswith("2026-10-27T02:00")  # the prompt at 10:00 China time + 7 natural days


# ---------------------------------------------------------------- §3 rankings and 多次差评人员


def test_stars_rank_on_citizens_ratings_and_repeated_bad_counts_only_what_was_verified(hall, tmp_path):
    """1001 has 4 good and 2 bad ratings of its own and 20 default 非常满意; 1002 has 6 good and 2 bad of its own.
    By 好评率 with defaults 1001 would lead (24/26); citizens rated 1002 better (6/8 against 4/6). 1001's two 差评
    are verified 属实, 1002's two found 不属实, 1003's three: one 属实, one 不属实, one not verified yet."""
    from sync_server.ratings import apply_default_ratings

    store, terminals = hall
    use_rule(store, tmp_path, "default_rating = 5", china(2026, 10, 1, 8), old="default_rating = 0")
    a01 = terminals["A01"]
    for i in range(20):
        prompt_only(a01, china(2026, 11, 2, 9, i), clerk="1001")  # due for a default on 11-09
    for clerk, good, bad in (("1001", 4, 2), ("1002", 6, 2), ("1003", 0, 3)):
        for i in range(good):
            a01.rate(5, china(2026, 11, 3, 9, i), clerk=clerk)
        for i in range(bad):
            a01.rate(1, china(2026, 11, 4, 9, i), clerk=clerk)
    assert len(apply_default_ratings(store, china(2026, 11, 29, 10))) == 20
    sc = actor("sc_reviewer")
    true, false = StepForm("属实", fix_kind="simple"), StepForm("经查不属实")
    for case_id, form in ((1, true), (2, true), (3, false), (4, false), (5, true), (6, false)):
        step = Step.VERIFY_TRUE if form is true else Step.VERIFY_FALSE
        take_step(store, case_id, step, sc, china(2026, 11, 5, 10), form)
    from sync_server.console import metrics
    from sync_server.console.accounts import Scope
    from sync_server.workflow.stats import bad_by_clerk

    with store.read() as conn:
        board = metrics.dashboard(conn, Scope(), *NOVEMBER)
        bad = bad_by_clerk(conn, Scope(), *NOVEMBER, None)
    assert board.by_clerk["1001"].good_rate > board.by_clerk["1002"].good_rate  # with the defaults
    verified = {k: b.verified for k, b in bad.items()}
    assert [k for k, _ in metrics.ranking(board.by_clerk, 5, verified_bad=verified)] == ["1002", "1001"]
    assert [(k, b.verified) for k, b in metrics.repeated_bad(bad, 2)] == [("1001", 2)]
    assert [(k, b.unverified) for k, b in metrics.unverified_bad(bad)] == [("1003", 1)]
    assert board.total.active_rate == pytest.approx(17 / 37)  # 17 rated by citizens of 37 prompted cases
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 30, 15))) as client:
        sign_in(client, "admin")
        page = client.get("/console/dashboard?from=2026-11-01&to=2026-11-30").text
        lobby = client.get("/board").text
    # the public board's 好评率 is the dashboard's (30 good of 37, defaults included), labelled so, beside the
    # 主动评价好评率 (10 of the citizens' own 17) that the rankings use
    assert re.search(r'id="kpi-good-rate"><b>81.1%</b>', page) and re.search(r'id="good-rate">81.1%<', lobby)
    assert "有效评价 37 条，含系统默认评价 20 条" in lobby
    assert re.search(r'id="kpi-active-good-rate"><b>58.8%</b>', page)
    assert re.search(r'id="active-good-rate">主动评价好评率 58.8%（主动评价 17 条）', lobby)
    stars = re.search(r'<ol class="rank" id="stars">(.*?)</ol>', page).group(1)
    assert stars.index("1002") < stars.index("1001") and "主动评价 8 条" in stars
    assert "1002" not in re.search(r'id="repeated-bad">(.*?)</ol>', page).group(1)
    assert re.search(r'id="unverified-bad">尚未核实：[^<]*1003[^<]* 1 条', page)
    assert re.search(r'id="kpi-active-rate"><b>45.9%</b>', page)
    rows = {(r[0], r[1]): r for r in report_sections(store)["排名"].rows}
    assert rows[("服务之星", 1)][3:6] == [8, 0.75, 0] and rows[("多次差评人员", 1)][5] == 2


def report_sections(store) -> dict:
    from sync_server.configs import current_config
    from sync_server.console.accounts import Scope
    from sync_server.console.labels import Names
    from sync_server.console.reports import monthly_report
    from sync_server.console.settings import ConsoleSettings

    with store.read() as conn:
        names = Names.of(current_config(conn).config)
        return {s.title: s for s in monthly_report(conn, Scope(), "2026-11", None, names, ConsoleSettings())}


# ---------------------------------------------------------------- §7 what a terminal claims is not counted blindly


def push(store, terminal, when, *records, window: str = "A01"):
    """Records pushed as the device API does: with the window the terminal is enrolled at."""
    from sync_server.ingest import ingest

    return ingest(store, terminal.device_id, list(records), when, window)


def test_a_rating_claiming_another_window_counts_for_the_window_its_terminal_is_enrolled_at(hall):
    from sqlalchemy import select

    from sync_server.console import metrics
    from sync_server.console.accounts import Scope
    from sync_server.storage.schema import bad_cases, records

    store, terminals = hall
    a01, when = terminals["A01"], china(2026, 11, 3, 10)
    case = dict(case_no="B03-claimed", clerk_no="1001", window="B03")
    prompt = a01.record("prompt", when, **case)
    rating = a01.record("rating", when, level=1, reasons=[115], prompted_at=prompt["occurred_at"], **case)
    assert [s for _, s in push(store, a01, when, prompt, rating)] == ["stored", "stored"]
    with store.read() as conn:
        stored = conn.execute(select(records.c.window, records.c.flags).where(records.c.id == rating["id"])).one()
        handled = conn.execute(select(bad_cases.c.window, bad_cases.c.department)).one()
        board = metrics.dashboard(conn, Scope(), *NOVEMBER)
    assert stored == ("B03", "window_mismatch")  # kept as sent, flagged
    assert tuple(handled) == ("A01", "SC")  # the 差评工单 goes to the enrolled window's department, not RS
    assert {w: f.n for w, f in board.by_window.items()} == {"A01": 1}
    assert {d: (f.n, f.prompted) for d, f in board.by_department.items()} == {"SC": (1, 1)}


def test_the_ratings_list_and_the_provincial_upload_use_the_enrolled_window_of_a_mismatched_record(hall):
    """A01's terminal claims B03: the ratings list finds it under A01 (never B03), a reviewer of A01's department
    sees it and one of B03's does not, and the upload sends window A01."""
    from sync_server.console.accounts import Scope
    from sync_server.console.labels import Names
    from sync_server.console.period import Period
    from sync_server.console.ratings_view import RatingFilter, list_ratings, load_detail, rating_total
    from sync_server.upstream.sender import should_send

    store, terminals = hall
    a01, b03, when = terminals["A01"], terminals["B03"], china(2026, 11, 3, 10)
    case = dict(case_no="B03-claimed", clerk_no="1001", window="B03")
    prompt = a01.record("prompt", when, **case)
    rating = a01.record("rating", when, level=1, reasons=[115], prompted_at=prompt["occurred_at"], **case)
    push(store, a01, when, prompt, rating)
    own = b03.rate(4, china(2026, 11, 3, 11), clerk="1003")  # B03's own rating stays B03's
    with store.read() as conn:
        from sync_server.configs import current_config

        names = Names.of(current_config(conn).config)
        period = Period(*NOVEMBER)

        def listed(window=None, scope=None, department=None):
            f = RatingFilter(period=period, window=window, department=department)
            rows, _ = list_ratings(conn, f, scope or Scope(), names, None, 50)
            return sorted((r.id, r.window, r.claimed_window) for r in rows), rating_total(
                conn, f, scope or Scope(), names
            )

        assert listed("A01") == ([(rating["id"], "A01", "B03")], 1)  # the list and its total agree
        assert listed("B03") == ([(own, "B03", "B03")], 1)
        assert listed(department="SC")[0] == [(rating["id"], "A01", "B03")]
        sc, rs = Scope("SC", frozenset({"A01"})), Scope("RS", frozenset({"B03"}))
        assert [r[0] for r in listed(scope=sc)[0]] == [rating["id"]]
        assert [r[0] for r in listed(scope=rs)[0]] == [own]
        viewer = type("V", (), {"scope": sc, "sees_contact_of": lambda self, d: True})()
        assert load_detail(conn, rating["id"], viewer, names).record.counted_window == "A01"
        sent = {src: item for item, src, _ in should_send(conn, "2026-11-01", "2026-12-01", "450102")}
    assert sent[rating["id"]]["window"] == "A01" and sent[own]["window"] == "B03"
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 4, 9))) as client:
        sign_in(client, "sc_reviewer")
        page = client.get(f"/console/ratings/{rating['id']}")
        assert page.status_code == 200 and "按登记窗口统计" in page.text
        listing = client.get("/console/ratings?from=2026-11-01&to=2026-11-30&window=A01").text
        assert rating["id"] in listing and "报送 B03" in listing


def test_reason_codes_outside_the_configured_list_are_flagged_and_never_counted(hall):
    from sqlalchemy import select

    from sync_server.storage.schema import integrity_flags

    store, terminals = hall
    a01, when = terminals["A01"], china(2026, 11, 3, 10)
    batch = []
    for n, (level, reasons) in enumerate(((1, [-1, 2**70, 999, 115]), (2, [115]), (1, [113]))):
        case = dict(case_no=f"A01-reasons-{n}", clerk_no="1001")
        prompt = a01.record("prompt", when, **case)
        batch += [prompt, a01.record("rating", when, level=level, reasons=reasons, **case)]
    assert {s for _, s in push(store, a01, when, *batch)} == {"stored"}  # never refused
    with store.read() as conn:
        flags = conn.execute(select(integrity_flags.c.seq, integrity_flags.c.detail).order_by("seq")).all()
    assert [seq for seq, _ in flags] == [2, 4]  # 113 is a 非常不满意 reason: fine
    assert f"-1、{2**70}、999" in flags[0].detail and "115" in flags[1].detail
    sections = report_sections(store)
    assert [row[0] for row in sections["差评原因"].rows] == [113, 115]  # 115 once: on the level-1 rating only
    assert [row[2] for row in sections["差评原因"].rows] == [1, 1]


# ---------------------------------------------------------------- §6 exports that are safe and complete

ATTACK = '=HYPERLINK("http://evil.example/","点此领取补贴")'


def test_every_export_writes_a_formula_like_comment_as_text_and_table_9_has_the_fields(hall):
    import csv
    import io

    from openpyxl import load_workbook

    store, terminals = hall
    a01, when = terminals["A01"], china(2026, 11, 3, 10)
    case = dict(case_no="A01-attack", clerk_no="1001", matter_code=MATTER_SC)
    prompt = a01.record("prompt", when, **case)
    push(store, a01, when, prompt, a01.record("rating", when, level=1, reasons=[115, 999], comment=ATTACK, **case))
    a01.rate(5, china(2026, 11, 3, 11), comment="-1 服务很好")
    files = {}
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 30, 15))) as client:
        sign_in(client, "admin")
        for path in ("export/gbt39046.csv", "export/gbt39046.xlsx", "reports/monthly.csv", "reports/monthly.xlsx"):
            params = {"month": "2026-11"} if "monthly" in path else {"from": "2026-11-01", "to": "2026-11-30"}
            answer = client.get(f"/console/{path}", params=params)
            assert answer.status_code == 200, answer.text
            files[path] = answer.content
    for path in ("export/gbt39046.xlsx", "reports/monthly.xlsx"):
        cells = [c for ws in load_workbook(io.BytesIO(files[path])) for row in ws.iter_rows() for c in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"], path
        assert ATTACK in {c.value for c in cells}, path  # kept whole, as text
    for path in ("export/gbt39046.csv", "reports/monthly.csv"):
        cells = [c for row in csv.reader(io.StringIO(files[path].decode("utf-8-sig"))) for c in row]
        assert "'" + ATTACK in cells and ATTACK not in cells, path
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], path
    rows = list(csv.DictReader(io.StringIO(files["export/gbt39046.csv"].decode("utf-8-sig"))))
    bad = next(r for r in rows if r["满意度"] == "非常不满意")
    assert (bad["测评内容代码"], bad["测评内容"]) == ("115", "服务态度差效率低")  # 999 is not in the list
    assert "配置清单以外" in bad["备注"]
    assert (bad["事项编码"], bad["部门"], bad["行政区划"]) == (MATTER_SC, "市场监管局", "450102")
    assert bad["窗口"].startswith("A01")
    assert bad["事项名称"] and bad["评价次数"] == "1" and bad["评价人"] == "匿名"


# ---------------------------------------------------------------- §7 fraud checks that can fire


def test_thirty_nine_top_ratings_on_staff_typed_numbers_seconds_after_each_prompt_are_flagged(hall):
    """The issue's scenario: with the default 20-second minimum between prompts, 39 非常满意 on case numbers the
    clerk typed, each 2.1 s after its prompt, over 12.7 minutes. Flagged for review; every rating still counts."""

    from sync_server.console import metrics
    from sync_server.console.accounts import Scope
    from sync_server.console.integrity import clerk_signals, review
    from sync_server.console.settings import ConsoleSettings
    from sync_server.storage.rollups import day_bounds

    store, terminals = hall
    a01, start = terminals["A01"], china(2026, 11, 3, 17, 40)
    batch, ids = [], []
    for i in range(39):
        at = start + timedelta(seconds=20.05 * i)
        case = dict(case_no=f"A01-typed-{i}", clerk_no="1002")
        prompt = a01.record("prompt", at, detail={"source": "staff"}, **case)
        rating = a01.record("rating", at + timedelta(seconds=2.1), level=5, prompted_at=prompt["occurred_at"],
                            detail={"source": "staff"}, **case)  # fmt: skip
        batch += [prompt, rating]
        ids.append(rating["id"])
    assert {s for _, s in push(store, a01, start + timedelta(minutes=13), *batch)} == {"stored"}
    lo, hi = day_bounds(date(2026, 11, 3))
    with store.read() as conn:
        _, _, bursts, _ = review(conn, Scope(), lo, hi, ConsoleSettings())
        signals = clerk_signals(conn, Scope(), lo, hi, ConsoleSettings())
        counted = metrics.dashboard(conn, Scope(), *NOVEMBER).by_clerk["1002"].n
    assert bursts and set(ids) == {rid for b in bursts for rid in b.record_ids}
    assert [(d.clerk_no, d.day, d.ratings, d.staff_typed, d.quick) for d in signals] == [
        ("1002", "2026-11-03", 39, 39, 39)
    ]
    assert counted == 39  # never refused, never left out
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 4, 9))) as client:
        sign_in(client, "admin")
        page = client.get("/console/integrity?from=2026-11-03&to=2026-11-03").text
    table = re.search(r'<table id="clerk-signals">(.*?)</table>', page, re.S).group(1)
    assert "clerk=1002" in table and "39（100%）" in table
    assert "140 秒内" in page  # 60 s + 4 × 20 s: a window five prompts can fit in


# ---------------------------------------------------------------- §1 延期 approved by a hall administrator


def test_an_extension_asked_with_a_reason_and_approved_by_another_administrator_moves_the_deadline(hall):
    from sync_server.workflow.errors import OwnAppeal, RoleRefused, StepInputInvalid

    store, terminals = hall
    admin, admin2, sc = actor("admin"), actor("admin2"), actor("sc_reviewer")
    terminals["A01"].rate(1, china(2026, 11, 2, 10))
    terminals["A01"].rate(2, china(2026, 11, 2, 11))
    for case_id in (1, 2):
        take_step(store, case_id, Step.VERIFY_TRUE, sc, china(2026, 11, 3, 10), StepForm("属实", fix_kind="simple"))
    ask = StepForm("需要上级部门出具说明", extend_to="2026-11-16")
    with pytest.raises(StepInputInvalid, match="应晚于现在的截止日期 2026-11-09"):
        take_step(store, 1, Step.EXTEND, admin, china(2026, 11, 5, 10), StepForm("理由", extend_to="2026-11-06"))
    take_step(store, 1, Step.EXTEND, admin, china(2026, 11, 5, 10), ask)  # an administrator asking for SC
    with pytest.raises(OwnAppeal, match="提出申请以外"):
        take_step(store, 1, Step.EXTEND_APPROVE, admin, china(2026, 11, 5, 11), StepForm())
    with pytest.raises(RoleRefused):
        take_step(store, 1, Step.EXTEND_APPROVE, sc, china(2026, 11, 5, 11), StepForm())
    take_step(store, 1, Step.EXTEND_APPROVE, admin2, china(2026, 11, 5, 11), StepForm())
    take_step(store, 2, Step.EXTEND, sc, china(2026, 11, 5, 10), ask)
    with pytest.raises(StepInputInvalid, match="不批准的理由"):
        take_step(store, 2, Step.EXTEND_REFUSE, admin, china(2026, 11, 5, 11), StepForm())
    take_step(store, 2, Step.EXTEND_REFUSE, admin, china(2026, 11, 5, 11), StepForm("理由不充分"))
    for case_id in (1, 2):
        take_step(store, case_id, Step.RECTIFY, sc, china(2026, 11, 13, 10), StepForm("已整改"))
    assert kept(store, 1) == ("2026-11-04", "2026-11-16") and kept(store, 2)[1] == "2026-11-09"
    with store.read() as conn:
        h = handling(conn, None, *NOVEMBER, None, date(2026, 11, 30))
    assert (h.fixed_on_time, h.fix_judged, h.extended) == (1, 2, 1)  # case 1 on time against its extension
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 30, 15))) as client:
        sign_in(client, "admin")
        page = client.get("/console/cases/1").text
        board = client.get("/console/dashboard?from=2026-11-01&to=2026-11-30").text
    assert "2026-11-16" in page and "经批准延期（原截止 2026-11-09，admin2 批准）：需要上级部门出具说明" in page
    assert '<span id="extended">经批准延期 1 件</span>' in board
    assert report_rows(store)["经批准延期（按延期后的期限计）"] == 1


# ---------------------------------------------------------------- §2 four-eyes known at filing time


def test_an_administrator_alone_in_the_hall_is_told_at_filing_that_nobody_else_could_decide_the_appeal(hall):
    from sqlalchemy import update

    from sync_server.storage.schema import appeals, users
    from sync_server.workflow.errors import StepRefused

    store, terminals = hall
    terminals["A01"].rate(1, china(2026, 11, 2, 10))
    with store.write() as conn:  # admin2 leaves: admin is the hall's only administrator
        conn.execute(update(users).where(users.c.username == "admin2").values(disabled_at="2026-11-01T00:00:00Z"))
    take_step(store, 1, Step.VERIFY_FALSE, actor("admin"), china(2026, 11, 3, 9), StepForm("录像显示群众误触"))
    appeal = StepForm("群众误触", category="mistake")
    with pytest.raises(StepRefused, match="本大厅只有一位管理员，申诉无法由他人审核"):
        take_step(store, 1, Step.APPEAL, actor("admin"), china(2026, 11, 3, 10), appeal)
    with store.read() as conn:
        assert conn.execute(appeals.select()).all() == []  # nothing left pending forever
    take_step(store, 1, Step.APPEAL, actor("sc_reviewer"), china(2026, 11, 3, 10), appeal)  # admin can decide it
    take_step(store, 1, Step.UPHOLD, actor("admin"), china(2026, 11, 4, 10), StepForm("属误操作"))


# ---------------------------------------------------------------- §5 quarterly and yearly 通报


def test_the_report_and_the_dashboard_cover_a_quarter_or_a_year_and_the_cards_say_when_they_count(hall, tmp_path):
    from openpyxl import load_workbook

    from haochaping.cli import main as hcp

    store, terminals = hall
    for month, level in ((8, 5), (10, 4), (11, 1), (12, 5)):
        terminals["A01"].rate(level, china(2026, month, 3, 10))
    url = str(store.engine.url.render_as_string(hide_password=False))
    out = tmp_path / "季度通报.xlsx"
    assert hcp(["server", "report", "--db", url, "--quarter", "2026Q4", "--out", str(out)]) == 0
    summary = {r[0]: r[1] for r in load_workbook(out)["概况"].iter_rows(min_row=2, values_only=True)}
    assert summary["统计期"] == "2026 年第四季度（2026-10-01 至 2026-12-31）"
    assert (summary["有效评价数"], summary["差评数"]) == (3, 1)  # October, November, December
    assert hcp(["server", "report", "--db", url, "--year", "2026", "--out", str(out)]) == 0
    assert {r[0]: r[1] for r in load_workbook(out)["概况"].iter_rows(min_row=2, values_only=True)}["有效评价数"] == 4
    assert hcp(["server", "report", "--db", url, "--quarter", "2026Q5", "--out", str(out)]) == 2
    with TestClient(create_app(store, clock=lambda: china(2026, 12, 20, 15))) as client:
        sign_in(client, "admin")
        board = client.get("/console/dashboard", params={"quarter": "2026Q4"}).text
        assert "2026 年第四季度" in board and re.search(r'id="kpi-count"><b>3</b>', board)
        assert "红牌（今日）" in board and "黄牌（今日）" in board  # a report made today counts its cards today too
        yearly = client.get("/console/reports/monthly.csv", params={"year": "2026"})
        assert yearly.status_code == 200 and "2026 年（2026-01-01 至 2026-12-31）" in yearly.text


# ---------------------------------------------------------------- §7 one phone, many cases; ratings out of hours


def signals_of(store, day: date, **settings):
    from sync_server.console.accounts import Scope
    from sync_server.console.integrity import people_signals
    from sync_server.console.settings import ConsoleSettings
    from sync_server.storage.rollups import day_bounds

    with store.read() as conn:
        return people_signals(conn, Scope(), *day_bounds(day), ConsoleSettings(**settings))


def test_one_phone_rating_more_than_n_of_a_clerks_cases_in_a_day_is_listed_and_every_rating_counts(hall):
    import random

    from sqlalchemy import select
    from testkit import FakeClock

    from sync_server.console import metrics
    from sync_server.console.accounts import Scope
    from sync_server.storage.schema import records

    seed = random.randrange(2**32)
    print(f"seed {seed}")  # noqa: T201 - a random test prints its seed
    rng = random.Random(seed)
    store, terminals = hall
    a01, prompt_at = terminals["A01"], china(2026, 11, 3, 10)
    cases = prompted(store, a01, prompt_at, "1002", 7, "phone")
    clock = FakeClock(china(2026, 11, 3, 10, 30))
    app = create_app(store, clock=clock)
    with TestClient(app) as phone_a, TestClient(app) as phone_b:
        for n, case_no in enumerate(cases):
            clock.advance(rng.randint(20, 90))
            phone, level = (phone_a, 5) if n < 4 else (phone_b, rng.choice((3, 4, 5)))
            first = rate_by_phone(phone, store, a01, case_no, prompt_at, level)
            if n == 0:
                cookie = first.headers["set-cookie"]
                assert cookie.startswith("hcp_phone=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
                assert "Path=/r" in cookie and f"Max-Age={400 * 86400}" in cookie and "Secure" not in cookie
                assert len(cookie.split(";")[0].split("=", 1)[1]) >= 22  # a random opaque id
                own = phone_a.cookies["hcp_phone"]
            else:
                assert "set-cookie" not in first.headers or phone is phone_b and n == 4  # set once per phone
    with store.read() as conn:
        rows = conn.execute(select(records.c.id, records.c.detail).where(records.c.source == "qr")).all()
        counted = metrics.dashboard(conn, Scope(), *NOVEMBER).by_clerk["1002"].n
    marks = {r.id: json.loads(r.detail)["phone"] for r in rows}
    assert all(re.fullmatch(r"[0-9a-f]{16}", m) for m in marks.values())
    assert own not in " ".join(r.detail for r in rows)  # only the hash is stored
    assert len({marks[f"qr:{c}"] for c in cases[:4]}) == 1 and len({marks[f"qr:{c}"] for c in cases[4:]}) == 1
    phones, _ = signals_of(store, date(2026, 11, 3))
    assert [(p.clerk_no, p.day, p.phone, p.cases, p.top) for p in phones] == [
        ("1002", "2026-11-03", marks[f"qr:{cases[0]}"], 4, 4)
    ]  # phone B rated 3 cases: not more than 3
    assert signals_of(store, date(2026, 11, 3), phone_max_cases=4)[0] == []  # a higher N: nothing fires
    assert signals_of(store, date(2026, 11, 4))[0] == []
    assert counted == 7  # every rating counts
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 4, 9))) as client:
        sign_in(client, "admin")
        page = client.get("/console/integrity?from=2026-11-03&to=2026-11-03").text
    table = re.search(r'<table id="phone-signals">(.*?)</table>', page, re.S).group(1)
    assert f"手机 {marks[f'qr:{cases[0]}'][:6]}" in table and "4 条评价" in table
    assert all(f"/console/ratings/qr%3A{c}" in table for c in cases[:4])
    assert not any(f"/console/ratings/qr%3A{c}" in table for c in cases[4:])


def test_ratings_outside_office_hours_or_on_a_rest_day_are_listed_per_clerk_and_day(hall):
    """Office hours 09:00–12:00 and 13:00–17:00 (assessment.toml), 15 minutes' grace: a kiosk rating at 12:09 is
    within, 12:19, 18:59 and a Saturday are not, nor a phone rating at 21:00. Seeded ratings within hours never show."""
    import random

    from sync_server.console import metrics
    from sync_server.console.accounts import Scope

    seed = random.randrange(2**32)
    print(f"seed {seed}")  # noqa: T201 - a random test prints its seed
    rng = random.Random(seed)
    store, terminals = hall
    a01 = terminals["A01"]
    inside = []
    for _ in range(12):  # random moments well inside a session of a working day (rate() rates 30 s before)
        day = rng.choice((2, 3, 4, 5, 6))
        start = rng.choice((9 * 60 + 1, 13 * 60 + 1))
        minute = start + rng.randint(0, 170)
        inside.append(a01.rate(rng.choice((3, 4, 5)), china(2026, 11, day, minute // 60, minute % 60), clerk="1002"))
    in_grace = a01.rate(5, china(2026, 11, 3, 12, 10), clerk="1001")  # 12:09:30
    noon = a01.rate(5, china(2026, 11, 3, 12, 20), clerk="1001")  # 12:19:30
    evening = a01.rate(5, china(2026, 11, 3, 19), clerk="1001")  # 18:59:30
    saturday = a01.rate(5, china(2026, 11, 7, 10), clerk="1001")  # 2026-11-07: a Saturday, no make-up day
    (case_no,) = prompted(store, a01, china(2026, 11, 3, 16), "1001", 1, "evening")
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 3, 21))) as phone:
        rate_by_phone(phone, store, a01, case_no, china(2026, 11, 3, 16), 5)
    listed = {}
    for day in (2, 3, 4, 5, 6, 7):
        for d in signals_of(store, date(2026, 11, day))[1]:
            listed[(d.clerk_no, d.day)] = (d.kiosk, d.phone, sorted((o.rating.id, o.why) for o in d.ratings))
    out = "办公时间外"
    assert listed == {
        ("1001", "2026-11-03"): (2, 1, sorted([(noon, out), (evening, out), (f"qr:{case_no}", out)])),
        ("1001", "2026-11-07"): (1, 0, [(saturday, "非工作日")]),
    }
    assert in_grace not in str(listed) and not any(i in str(listed) for i in inside)
    wide = {(d.clerk_no, d.day) for d in signals_of(store, date(2026, 11, 3), office_hours_grace_minutes=120)[1]}
    assert wide == {("1001", "2026-11-03")}  # 12:19 is now within; 18:59 and 21:00 are not
    with store.read() as conn:
        assert metrics.dashboard(conn, Scope(), *NOVEMBER).total.n == 12 + 5  # all counted
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 9, 9))) as client:
        sign_in(client, "admin")
        page = client.get("/console/integrity?from=2026-11-02&to=2026-11-08").text
    table = re.search(r'<table id="off-hours">(.*?)</table>', page, re.S).group(1)
    assert "非工作日" in table and f"/console/ratings/{saturday}" in table and f"/console/ratings/{noon}" in table
    assert f"/console/ratings/{in_grace}" not in table and "办公时间 09:00–12:00、13:00–17:00" in page
