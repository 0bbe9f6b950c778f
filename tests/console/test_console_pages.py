"""Integrity review, device health, the GB/T 39046 export, the report command and ``hcp bench console``."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

from console_helpers import MATTER_BDC, NOV_CASES_EFFECTIVE, ROOT, at, iso, sign_in
from openpyxl import load_workbook
from sqlalchemy import select, update

from sync_server.console.integrity import find_bursts, find_fast
from sync_server.storage.schema import devices, records

NOV = {"from": "2026-11-01", "to": "2026-11-30"}


def test_bursts_of_top_ratings_seconds_apart_on_one_terminal_are_found():
    rows = [(f"r{i}", "dev-1", "A01", iso(at(2, 9, 0, i * 5)), 5) for i in range(6)]  # six 5s within 25 s
    rows += [("r9", "dev-1", "A01", iso(at(2, 11)), 5), ("x1", "dev-2", "B03", iso(at(2, 9)), 5)]
    bursts = find_bursts(rows, window_s=60, min_count=5)
    assert [(b.device_id, len(b.record_ids), b.seconds) for b in bursts] == [("dev-1", 6, 25.0)]
    assert find_bursts(rows[:4], window_s=60, min_count=5) == []


def test_ratings_faster_than_reading_are_listed():
    rows = [
        ("a", "d", "A01", iso(at(2, 9, 0, 1)), 5, iso(at(2, 9))),
        ("b", "d", "A01", iso(at(2, 9, 1)), 5, iso(at(2, 9))),
    ]
    assert [f.record_id for f in find_fast(rows, min_read_s=2)] == ["a"]


def test_integrity_page_lists_the_fast_rating_and_flags(app_client, hall):
    sign_in(app_client, "admin")
    page = app_client.get("/console/integrity", params=NOV).text
    fast_table = page.split('id="fast"')[1].split("</table>")[0]
    assert hall.ids["C2"] in fast_table  # rated one second after the prompt
    assert hall.ids["C1"] not in fast_table


def test_a_gap_that_was_filled_later_says_so_and_one_still_open_does_not(app_client, hall):
    """A terminal's batch with record 2 got lost and was sent again later; record 4 never arrived."""
    from testkit import ChainedRecords

    from sync_server.devices import add_enrolment_code, enrol
    from sync_server.ingest import ingest

    code, _ = add_enrolment_code(hall.store, "C05", at(26, 8))
    terminal = ChainedRecords(enrol(hall.store, code, at(26, 8)).id, "C05")
    r1, r2, r3, r4, r5 = (terminal.record("sign_in", at(26, 9, minute)) for minute in range(5))
    ingest(hall.store, terminal.device_id, [r1, r3], at(26, 9, 10))
    ingest(hall.store, terminal.device_id, [r2], at(26, 9, 20))
    ingest(hall.store, terminal.device_id, [r5], at(26, 9, 30))
    sign_in(app_client, "admin")
    table = app_client.get("/console/integrity", params=NOV).text.split('id="flags"')[1].split("</table>")[0]
    rows = {rid: next(row for row in table.split("<tr>") if rid in row) for rid in (r3["id"], r5["id"])}
    assert "序号 2 未收到" in rows[r3["id"]] and "已补齐" in rows[r3["id"]]
    assert "序号 4 未收到" in rows[r5["id"]] and "已补齐" not in rows[r5["id"]]
    assert r4["id"] not in table


def test_a_silent_terminal_stands_out_on_the_devices_page(app_client, hall):
    status = {"outbox_depth": 17, "config_version": "x", "clock_offset_s": -3.5, "app_version": "1.0"}
    with hall.store.write() as conn:
        conn.execute(
            update(devices)
            .where(devices.c.window == "A01")
            .values(last_seen_at=iso(at(28, 9, 55)), last_status=json.dumps(status))
        )
        conn.execute(update(devices).where(devices.c.window == "B03").values(last_seen_at=iso(at(27, 9))))
    sign_in(app_client, "admin")
    page = app_client.get("/console/devices").text
    rows = {w: page.split(f'data-device="{hall.devices[w]}"')[0].rsplit("<tr", 1)[1] for w in ("A01", "B03")}
    assert "silent" not in rows["A01"] and "silent" in rows["B03"]
    a01 = page.split(f'data-device="{hall.devices["A01"]}"')[1].split("</tr>")[0]
    assert "17" in a01 and "-3.5" in a01 and "非最新" in a01


def test_gbt39046_export_has_the_table_9_fields(app_client, hall):
    sign_in(app_client, "admin")
    text = app_client.get("/console/export/gbt39046.csv", params=NOV).text.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[:9] == [
        "办件编号",
        "评价渠道",
        "评价人",
        "评价时间",
        "评价次数",
        "满意度",
        "满意度代码",
        "文字评价",
        "行政区划",
    ]
    by_case = {}
    for r in rows:
        by_case.setdefault(r["办件编号"], []).append(r)
    assert set(by_case) == NOV_CASES_EFFECTIVE | {"C7", "C12"}  # counting ratings; the excluded one marked
    c1 = by_case["C1"][0]
    assert (c1["评价渠道"], c1["评价人"], c1["评价时间"], c1["评价次数"]) == ("4", "匿名", "20261102T090020", "1")
    assert (c1["满意度"], c1["满意度代码"], c1["行政区划"]) == ("非常满意", "1", "450102")
    assert [(r["评价次数"], r["满意度代码"]) for r in by_case["C8"]] == [("1", "1"), ("2", "2")]
    assert "已申诉排除" in by_case["C7"][0]["备注"] and "测试评价" in by_case["C12"][0]["备注"]
    assert by_case["C5"][0]["满意度代码"] == "5" and by_case["C11"][0]["评价渠道"] == "0"
    book = load_workbook(io.BytesIO(app_client.get("/console/export/gbt39046.xlsx", params=NOV).content))
    assert book.active.max_row == len(rows) + 1


def test_hcp_server_report_writes_the_workbook(hall, tmp_path):
    out = tmp_path / "通报.xlsx"
    url = str(hall.store.engine.url)
    hall.store.dispose()
    cmd = [
        sys.executable,
        "-m",
        "haochaping.cli",
        "server",
        "report",
        "--db",
        url,
        "--month",
        "2026-11",
        "--department",
        "RS",
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    summary = {r[0]: r[1] for r in load_workbook(out)["概况"].iter_rows(min_row=2, values_only=True)}
    assert (summary["范围"], summary["有效评价数"], summary["差评数"]) == ("人社局", 3, 1)


def test_hcp_server_user_add_then_sign_in(sqlite_store, tmp_path):
    url = str(sqlite_store.engine.url)
    cmd = [
        sys.executable,
        "-m",
        "haochaping.cli",
        "server",
        "user",
        "add",
        "--db",
        url,
        "--username",
        "first",
        "--role",
        "reviewer",
        "--password-stdin",
    ]
    refused = subprocess.run(cmd, cwd=ROOT, input="long-password\n", capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "必须指定部门" in refused.stderr
    done = subprocess.run(
        cmd + ["--department", "SC"], cwd=ROOT, input="long-password\n", capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    from sync_server.console.accounts import sign_in as open_session
    from sync_server.console.settings import ConsoleSettings

    assert open_session(sqlite_store, "first", "long-password", "127.0.0.1", at(2), ConsoleSettings())


def _bench_console(db: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "haochaping.cli", "bench", "console", "--ratings", "2000", "--requests", "4"]
    return subprocess.run(cmd + ["--db", db, *extra], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _printed(done: subprocess.CompletedProcess) -> dict[str, str]:
    assert done.returncode == 0, done.stderr
    return {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()}


def _bench_dashboard(url: str) -> dict[str, list[str]]:
    """What the bench's administrator reads on the dashboard for the whole generated year: the KPIs (好评率 and
    the counts beside them), every figure of the tables by department, window, clerk and matter, and the 差评处理
    panel (its rates, card counts and the earliest cards)."""
    from bench.console import signed_in_client
    from sync_server.db import Store

    store = Store.from_url(url)
    try:
        page = signed_in_client(store).get(
            "/console/dashboard", params={"from": "2025-11-01", "to": "2026-11-30", "by": "month"}
        )
    finally:
        store.dispose()
    assert page.status_code == 200
    kpis = re.findall(r'<div class="kpi[^"]*" id="(kpi-[a-z-]+)"><b>([^<]*)</b><span>([^<]*)</span>', page.text)
    panel = page.text.partition('<section class="card" id="case-handling">')[2].partition("</ol>")[0]
    return {
        "kpis": kpis,
        "tables": re.findall(r'<td class="num">([^<]*)</td>', page.text),
        "handling": dict(re.findall(r'<div class="kpi[^"]*" id="(kpi-[a-z-]+)"><b>([^<]*)</b>', panel)),
        "cards": re.findall(r'<li><a href="/console/cases/(\d+)">[^<]*</a><span>([^<]*)</span>', panel),
    }


def _bench_handling_rows(url: str) -> dict[str, int]:
    """What the bench generated besides the ratings: handling records, the counting 差评 they handle, exclusions."""
    from sqlalchemy import func

    from sync_server.db import Store
    from sync_server.storage.schema import bad_cases, rating_exclusions, ratings

    store = Store.from_url(url)
    bad = select(func.count()).select_from(ratings).where(ratings.c.role == "counting", ratings.c.level <= 2)
    try:
        with store.read() as conn:
            return {
                "bad_cases": conn.execute(select(func.count()).select_from(bad_cases)).scalar_one(),
                "bad_ratings": conn.execute(bad).scalar_one(),
                "excluded": conn.execute(select(func.count()).select_from(rating_exclusions)).scalar_one(),
            }
    finally:
        store.dispose()


def _assert_handling_panel(board: dict) -> None:
    """The 差评处理 panel is on the page with its rates worked out (records opened, rectified, fixed on time)."""
    handling = board["handling"]
    assert handling["kpi-rectify-rate"].endswith("%") and handling["kpi-on-time-rate"].endswith("%"), handling
    assert handling["kpi-revisit-rate"].endswith("%") and int(handling["kpi-cases"]) > 0, handling
    assert board["cards"], "the unfinished records carry cards"


def test_hcp_bench_console_prints_its_figures(tmp_path):
    figures = _printed(_bench_console(str(tmp_path / "bench.db")))
    assert figures["console.database"] == "sqlite"
    assert float(figures["console.ratings"]) == 2000
    held = _bench_handling_rows(f"sqlite:///{tmp_path / 'bench.db'}")
    assert held["bad_cases"] == held["bad_ratings"] == int(figures["console.bad_cases"]) > 0
    assert 0 < float(figures["console.dashboard_p95_ms"])
    assert 0 < float(figures["console.ratings_list_p95_ms"])
    # the baseline: a tenth of the ratings over the same days, beside the measured file, measured in turns with it
    assert figures["console.baseline_ratings"] == "200" and (tmp_path / "bench-baseline.db").exists()
    assert float(figures["console.dashboard_growth_2k_over_200"]) > 0
    assert float(figures["console.year_view_growth_2k_over_200"]) > 0
    again = _printed(_bench_console(str(tmp_path / "bench.db"), "--reuse", "--baseline", "0"))
    assert "console.generate_s" not in again and not any("growth" in name for name in again)


def test_hcp_bench_console_on_postgresql_serves_the_same_dashboard_as_on_sqlite(tmp_path):
    from testkit import fresh_pg_database

    from bench.console import generate

    sqlite_url = f"sqlite:///{tmp_path / 'bench.db'}"
    generate(sqlite_url, 2000)
    on_sqlite = _bench_dashboard(sqlite_url)
    held_on_sqlite = _bench_handling_rows(sqlite_url)
    with fresh_pg_database("hcp_bench") as url:
        figures = _printed(_bench_console(url))
        on_postgresql = _bench_dashboard(url)
        held = _bench_handling_rows(url)
        again = _bench_console(url)
        reused = _printed(_bench_console(url, "--reuse"))
    assert figures["console.database"] == "postgresql"
    assert float(figures["console.ratings"]) == 2000
    assert 0 < float(figures["console.dashboard_p95_ms"])
    assert 0 < float(figures["console.ratings_list_p95_ms"])
    kpis = {key: (value, label) for key, value, label in on_postgresql["kpis"]}
    assert kpis["kpi-count"][0] == str(2000 - held["excluded"]) and kpis["kpi-good-rate"][0].endswith("%")
    assert len(on_postgresql["tables"]) == 9 * (10 + 30 + 60 + 60)  # departments, windows, clerks, matters
    assert held == held_on_sqlite and held["bad_cases"] == held["bad_ratings"] == int(figures["console.bad_cases"])
    _assert_handling_panel(on_sqlite)
    _assert_handling_panel(on_postgresql)
    assert on_postgresql == on_sqlite  # same 好评率, same counts, table by table, same 差评处理 figures and cards
    assert again.returncode == 1 and "已有 2000 条评价" in again.stderr and "--reuse" in again.stderr
    assert reused["console.ratings"] == "2000" and "console.generate_s" not in reused


def test_the_integrity_flag_filter_reads_the_flagged_records_alone(db_url):
    """A year of ratings with a few flagged: the 完整性标记 filter lists exactly those, from ix_records_flagged
    (migration 0008) on both databases, instead of walking every rating of the period (10 million: 1 s → 5 ms)."""
    from datetime import date

    from bench.console import generate
    from sync_server.console.accounts import Scope
    from sync_server.console.labels import Names
    from sync_server.console.period import Period
    from sync_server.console.ratings_view import RatingFilter, conditions, list_ratings
    from sync_server.db import Store

    generate(db_url, 2000)
    store = Store.from_url(db_url)
    flagged = ["b000000100", "b000001500"]
    with store.write() as conn:
        conn.execute(update(records).where(records.c.id.in_(flagged)).values(flags="gap"))
    year = Period(date(2025, 11, 1), date(2026, 11, 30))
    for flag in ("any", "gap"):
        f = RatingFilter(period=year, flag=flag)
        query = select(records.c.id).where(*conditions(f, Scope(), Names())).order_by(records.c.occurred_at.desc())
        sql = str(query.limit(51).compile(store.engine, compile_kwargs={"literal_binds": True}))
        explain = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
        with store.read() as conn:
            plan = " ".join(str(row) for row in conn.exec_driver_sql(explain + sql))
            rows, _ = list_ratings(conn, f, Scope(), Names(), None, 50)
        assert "ix_records_flagged" in plan, plan
        assert [r.id for r in rows] == flagged[::-1]
    store.dispose()


def test_the_silence_limit_is_a_server_setting(hall):
    from console_helpers import NOW, FakeClock
    from fastapi.testclient import TestClient

    from sync_server.app import create_app
    from sync_server.console.settings import ConsoleSettings
    from sync_server.settings import ServerSettingsFile

    with hall.store.write() as conn:
        conn.execute(update(devices).where(devices.c.window == "A01").values(last_seen_at=iso(at(28, 9, 55))))
    app = create_app(
        hall.store,
        clock=FakeClock(NOW),
        settings_file=ServerSettingsFile(console=ConsoleSettings(device_silent_minutes=3)),
    )
    with TestClient(app) as client:
        sign_in(client, "admin")
        page = client.get("/console/devices").text
    assert "超过 3 分钟未联系" in page
    a01_row = page.split(f'data-device="{hall.devices["A01"]}"')[0].rsplit("<tr", 1)[1]
    assert "silent" in a01_row  # seen 5 minutes ago


def test_the_ratings_list_pages_by_keyset_without_repeats_or_gaps(app_client, hall):
    from console_helpers import FakeClock  # noqa: F401 - same clock as the app

    from sync_server.console.settings import ConsoleSettings

    app_client.app.state.console_settings = ConsoleSettings(page_size=10)
    sign_in(app_client, "admin")
    first = app_client.get("/console/ratings", params=NOV).text
    more = re.search(r'href="([^"]+)" id="more"', first).group(1).replace("&amp;", "&")
    second = app_client.get(more).text
    assert 'id="more"' not in second and "回到第一页" in second
    ids_1, ids_2 = _row_ids(first), _row_ids(second)
    assert len(ids_1) == 10 and len(ids_2) == 5 and not set(ids_1) & set(ids_2)
    assert set(ids_1) | set(ids_2) >= {hall.ids[c] for c in NOV_CASES_EFFECTIVE}


def _row_ids(html: str) -> list[str]:
    return re.findall(r'data-id="([^"]+)"', html)


def test_a_sequence_gap_is_flagged_and_filterable(app_client, hall):
    from console_helpers import MATTER_RS, Terminal

    from sync_server.ingest import ingest

    term = Terminal(hall.devices["C05"], "C05")
    term.seq = 40  # the terminal's records 1..40 never arrived
    rating = term.record("rating", at(26, 9), case_no="G1", clerk_no="1004", matter_code=MATTER_RS, level=5)
    assert ingest(hall.store, hall.devices["C05"], [rating], at(26, 10)) == [(rating["id"], "stored")]
    sign_in(app_client, "admin")
    integrity = app_client.get("/console/integrity", params=NOV).text
    assert "序号缺失" in integrity and "序号 40 未收到" in integrity
    flagged = _row_ids(app_client.get("/console/ratings", params={**NOV, "flag": "gap"}).text)
    assert len(flagged) == 1 and "G1" in app_client.get(f"/console/ratings/{flagged[0]}").text


def test_hcp_server_rollup_rebuild_restores_emptied_rollups_and_a_day_recompute_changes_nothing(hall):
    from datetime import date

    from sqlalchemy import delete

    from sync_server.console.accounts import Scope
    from sync_server.console.metrics import dashboard
    from sync_server.storage.schema import (
        case_rollup,
        case_rollup_month,
        case_trend,
        rating_rollup,
        rating_rollup_month,
        rating_trend,
    )

    def figures():
        with hall.store.read() as conn:
            month = dashboard(conn, Scope(), date(2026, 11, 1), date(2026, 11, 30)).total
            day = dashboard(conn, Scope(), date(2026, 11, 2), date(2026, 11, 2)).total
        return (month.n, month.bad, month.prompted, month.rated), (day.n, day.prompted)

    before = figures()
    assert before == ((11, 2, 14, 12), (3, 3))
    with hall.store.write() as conn:
        for table in (rating_rollup, rating_rollup_month, rating_trend, case_rollup, case_rollup_month, case_trend):
            conn.execute(delete(table))
    assert figures() == ((0, 0, 0, 0), (0, 0))
    url = str(hall.store.engine.url)
    base = [sys.executable, "-m", "haochaping.cli", "server", "rollup", "rebuild", "--db", url]
    for cmd in (base, base + ["--day", "2026-11-02"]):
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert figures() == before


def test_bad_taps_left_without_a_reason_are_counted_per_clerk_and_the_held_one_flagged(app_client, hall):
    """One 差评 counted with 测评内容 未选择 (rule count) and one held on its timeout record (rule hold), both by 1002:
    the integrity page counts them per clerk, the held one is flagged, the counted one shows 未选择."""
    from testkit import ChainedRecords

    from sync_server.devices import add_enrolment_code, enrol
    from sync_server.ingest import ingest

    code, _ = add_enrolment_code(hall.store, "C05", at(26, 8))
    terminal = ChainedRecords(enrol(hall.store, code, at(26, 8)).id, "C05")
    common = dict(clerk_no="1002", matter_code=MATTER_BDC, prompted_at=iso(at(26, 9)))
    counted = [
        terminal.record("prompt", at(26, 9), case_no="N1", **common),
        terminal.record(
            "rating", at(26, 9, 0, 5), case_no="N1", level=1, detail={"bad_without_reason": "count"}, **common
        ),
    ]
    held = [
        terminal.record("prompt", at(26, 9, 5), case_no="N2", **dict(common, prompted_at=iso(at(26, 9, 5)))),
        terminal.record(
            "timeout",
            at(26, 9, 7),
            case_no="N2",
            detail={"stage": "reasons", "tapped_level": 2, "bad_without_reason": "hold"},
            **dict(common, prompted_at=iso(at(26, 9, 5))),
        ),
    ]
    ingest(hall.store, terminal.device_id, counted + held, at(26, 9, 10))
    sign_in(app_client, "admin")
    page = app_client.get("/console/integrity", params=NOV).text
    table = page.split('id="no-reason"')[1].split("</table>")[0]
    row = next(r for r in table.split("<tr>") if "1002" in r)
    assert re.findall(r"<td>(\d+)</td>", row) == ["1", "1", "2"]
    flags = page.split('id="flags"')[1].split("</table>")[0]
    assert "差评未选原因" in flags and held[1]["id"] in flags and counted[1]["id"] not in flags
    detail = app_client.get(f"/console/ratings/{counted[1]['id']}").text
    assert "未选择" in detail
