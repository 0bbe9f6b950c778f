"""Published 通报 (issue 10 §5), on SQLite and PostgreSQL: publishing freezes the figures and files with their hashes
in the audit log; a later upheld appeal changes neither the stored files nor their hashes, shows as 更正 in the
console and in the next report of the same kind; a period is published once, again only as a new version with a
更正说明; only a hall administrator publishes; the report's 黄牌/红牌 agree with the dashboard's on the same day."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from workflow_helpers import actor, china, csrf_of, sign_in

from sync_server.app import create_app
from sync_server.storage.schema import audit_log, published_reports
from sync_server.workflow.cases import StepForm, take_step
from sync_server.workflow.machine import Step


def names_of(store):
    from sync_server.configs import current_config
    from sync_server.console.labels import Names

    with store.read() as conn:
        return Names.of(current_config(conn).config)


def publish_as(store, spec: str, now, who: str = "admin", reason: str = "", department: str | None = None):
    from sync_server.console.publish import publish
    from sync_server.console.settings import ConsoleSettings

    person = actor(who)
    return publish(store, spec, department, person.username, person.role, now, names_of(store), ConsoleSettings(),
                   reason)  # fmt: skip


def stored(store, report_id: int):
    with store.read() as conn:
        return conn.execute(select(published_reports).where(published_reports.c.id == report_id)).one()


def audited(store) -> list[dict]:
    with store.read() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "report.publish").order_by(audit_log.c.id))
        return [{"target": r.target, "actor": r.actor, **json.loads(r.detail)} for r in rows]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def summary_of(sections) -> dict:
    return {row[0]: row[1] for row in sections[0]["rows"]}


def november_with_one_bad_rating(terminals) -> None:
    for day in (3, 4, 5):
        terminals["A01"].rate(5, china(2026, 11, day, 10))
    terminals["A01"].rate(1, china(2026, 11, 6, 10))  # 差评工单 #1


def uphold_late_appeal(store) -> None:
    """After publication: the department finds the 差评 不属实 and reports it in writing as 误操作 (篇10's order), and
    an administrator confirms it on 复核."""
    take_step(store, 1, Step.VERIFY_FALSE, actor("sc_reviewer"), china(2026, 12, 3, 9), StepForm("群众误触"))
    take_step(
        store, 1, Step.APPEAL, actor("sc_reviewer"), china(2026, 12, 3, 10), StepForm("群众误触", category="mistake")
    )
    take_step(store, 1, Step.UPHOLD, actor("admin"), china(2026, 12, 4, 10), StepForm("属误操作"))


def test_publishing_freezes_the_figures_and_files_with_their_hashes_in_the_audit_log(hall):
    store, terminals = hall
    november_with_one_bad_rating(terminals)
    done = publish_as(store, "2026-11", china(2026, 12, 2, 9))
    row = stored(store, done.id)
    assert (row.kind, row.period, row.department, row.version) == ("month", "2026-11", "", 1)
    content = json.loads(row.content)
    assert summary_of(content["sections"][:1])["有效评价数"] == 4 and content["as_of"] == "2026-12-02"
    assert sha(row.content.encode()) == row.content_hash == done.content_hash
    assert sha(bytes(row.xlsx)) == row.xlsx_hash and sha(bytes(row.csv)) == row.csv_hash
    (entry,) = audited(store)
    assert entry["actor"] == "admin" and entry["target"] == "通报 2026-11 月度通报第 1 版"
    assert (entry["content_hash"], entry["xlsx_hash"], entry["csv_hash"]) == (
        row.content_hash,
        row.xlsx_hash,
        row.csv_hash,
    )
    book = load_workbook(io.BytesIO(bytes(row.xlsx)))
    cover = {r[0]: r[1] for r in book["发布信息"].iter_rows(min_row=2, values_only=True)}
    assert cover["数据散列（SHA-256，见审计日志）"] == row.content_hash and cover["版本"] == "第 1 版"
    assert {r[0]: r[1] for r in book["概况"].iter_rows(min_row=2, values_only=True)}["有效评价数"] == 4


def test_a_late_appeal_upheld_changes_neither_the_published_files_nor_their_hashes_and_shows_as_correction(hall):
    from sync_server.console.accounts import Scope
    from sync_server.console.publish import changes_since, check
    from sync_server.console.settings import ConsoleSettings

    store, terminals = hall
    november_with_one_bad_rating(terminals)
    done = publish_as(store, "2026-11", china(2026, 12, 2, 9))
    before = stored(store, done.id)
    uphold_late_appeal(store)
    after = stored(store, done.id)
    assert (after.content, bytes(after.xlsx), bytes(after.csv)) == (
        before.content,
        bytes(before.xlsx),
        bytes(before.csv),
    )
    with store.read() as conn:
        assert check(conn, after).ok
        found = changes_since(conn, after, Scope(), names_of(store), ConsoleSettings(), china(2026, 12, 5, 9))
    changed = {c.figure: (c.published, c.current) for c in found}
    assert changed["概况 · 有效评价数"] == (4, 3) and changed["概况 · 差评数"] == (1, 0)
    assert changed["概况 · 申诉成立（已排除）"] == (0, 1)

    nxt = publish_as(store, "2026-12", china(2027, 1, 4, 9))  # the next monthly 通报 lists the 更正
    sections = {s["title"]: s for s in json.loads(stored(store, nxt.id).content)["sections"]}
    corrections = {(r[0], r[1]): (r[2], r[3]) for r in sections["更正"]["rows"]}
    assert corrections[("2026-11 月度通报第 1 版", "概况 · 差评数")] == ("1", "0")
    assert corrections[("2026-11 月度通报第 1 版", "概况 · 好评率")] == ("75.0%", "100.0%")
    assert not any(name.startswith(("概况 · 黄牌", "概况 · 红牌", "概况 · 差评处理判定日")) for _, name in corrections)


def test_a_period_is_published_once_and_again_only_as_a_numbered_version_with_a_reason(hall):
    from sync_server.console.errors import AlreadyPublished

    store, terminals = hall
    november_with_one_bad_rating(terminals)
    first = publish_as(store, "2026-11", china(2026, 12, 2, 9))
    with pytest.raises(AlreadyPublished, match="已发布（第 1 版）"):
        publish_as(store, "2026-11", china(2026, 12, 2, 10))
    uphold_late_appeal(store)
    second = publish_as(store, "2026-11", china(2026, 12, 5, 9), reason="申诉成立，差评不予采纳")
    assert (first.version, second.version) == (1, 2) and second.name == "2026-11 月度通报第 2 版"
    v1, v2 = stored(store, first.id), stored(store, second.id)
    assert v1.content_hash == first.content_hash and v2.reason == "申诉成立，差评不予采纳"
    sections = {s["title"]: s for s in json.loads(v2.content)["sections"]}
    assert summary_of(list(sections.values())[:1])["差评数"] == 0
    assert ["2026-11 月度通报第 1 版", "概况 · 差评数", "1", "0"] in sections["更正"]["rows"]
    assert [e["version"] for e in audited(store)] == [1, 2]
    quarter = publish_as(store, "2026q4", china(2027, 1, 4, 9))  # a quarter and a year are kinds of their own
    assert quarter.name == "2026Q4 季度通报第 1 版"
    assert "更正" not in {s["title"] for s in json.loads(stored(store, quarter.id).content)["sections"]}


def test_only_a_hall_administrator_publishes(hall):
    from sync_server.console.errors import RoleForbidden

    store, terminals = hall
    november_with_one_bad_rating(terminals)
    for who in ("sc_reviewer", "supervisor"):
        with pytest.raises(RoleForbidden):
            publish_as(store, "2026-11", china(2026, 12, 2, 9), who=who)
    with TestClient(create_app(store, clock=lambda: china(2026, 12, 2, 9))) as client:
        sign_in(client, "sc_reviewer")
        token = csrf_of(client.get("/console/reports").text)
        refused = client.post("/console/reports/published", data={"period": "2026-11", "csrf_token": token})
        assert refused.status_code == 403
    assert audited(store) == []
    with store.read() as conn:
        assert conn.execute(select(published_reports.c.id)).all() == []


def test_the_console_publishes_shows_and_serves_the_files_exactly_as_published(hall):
    store, terminals = hall
    november_with_one_bad_rating(terminals)
    clock = {"now": china(2026, 12, 2, 9)}
    with TestClient(create_app(store, clock=lambda: clock["now"])) as client:
        sign_in(client, "admin")
        page = client.get("/console/reports/published")
        form = {"period": "2026-11", "department": "", "reason": "", "csrf_token": csrf_of(page.text)}
        made = client.post("/console/reports/published", data=form, follow_redirects=False)
        assert made.status_code == 303
        url = made.headers["location"]
        again = client.post("/console/reports/published", data=form)
        assert again.status_code == 409 and 'id="error-reason"' in again.text and "已发布（第 1 版）" in again.text
        row = stored(store, int(url.rsplit("/", 1)[1]))
        assert client.get(url + ".xlsx").content == bytes(row.xlsx)
        served = client.get(url + ".csv").content
        assert served == bytes(row.csv) and sha(served) == audited(store)[0]["csv_hash"]
        assert "自发布以来各项数字均无变化" in client.get(url).text
        uphold_late_appeal(store)
        clock["now"] = china(2026, 12, 5, 9)
        sign_in(client, "admin")  # the session of three days ago has expired
        shown = client.get(url).text
        assert 'id="hash-check"><span class="tag">一致</span>' in shown
        assert re.search(r"<td>概况 · 差评数</td><td class=\"num\">1</td><td class=\"num\">0</td>", shown)
        assert client.get(url + ".csv").content == bytes(row.csv)  # unchanged by the appeal
        sign_in(client, "rs_reviewer")  # another department's reviewer sees no hall-wide 通报
        assert client.get(url).status_code == 404 and client.get(url + ".csv").status_code == 404
        assert "尚未发布通报" in client.get("/console/reports/published").text


def test_the_published_csv_and_xlsx_hold_no_formula(hall):
    store, terminals = hall
    terminals["A01"].rate(1, china(2026, 11, 6, 10), comment='=HYPERLINK("http://evil.example/","点此领取补贴")')
    row = stored(store, publish_as(store, "2026-11", china(2026, 12, 2, 9)).id)
    book = load_workbook(io.BytesIO(bytes(row.xlsx)))
    cells = [c for ws in book.worksheets for r in ws.iter_rows() for c in r if c.value is not None]
    assert any("HYPERLINK" in str(c.value) for c in cells) and all(c.data_type != "f" for c in cells)
    text = bytes(row.csv).decode("utf-8-sig")
    values = [v for r in csv.reader(io.StringIO(text)) for v in r]
    assert '\'=HYPERLINK("http://evil.example/","点此领取补贴")' in values
    assert not any(v.startswith(("=", "+", "@")) for v in values)


def test_the_reports_cards_agree_with_the_dashboards_on_the_same_day(hall):
    """Received Wednesday 11-25: contact due Friday 11-27. On Thursday 11-26 it is a 黄牌 on the dashboard; the
    report made that day said 红牌 (counted at 11-30, the month's end, still to come). Both now count today."""
    store, terminals = hall
    terminals["A01"].rate(1, china(2026, 11, 25, 10))
    with TestClient(create_app(store, clock=lambda: china(2026, 11, 26, 15))) as client:
        sign_in(client, "admin")
        board = client.get("/console/dashboard", params={"month": "2026-11"}).text
        report = client.get("/console/reports/monthly.csv", params={"month": "2026-11"}).text
    dashboard_cards = [int(n) for n in re.findall(r'id="kpi-(?:yellow|red)"><b>(\d+)</b>', board)]
    rows = dict(r[:2] for r in csv.reader(io.StringIO(report.lstrip("\ufeff"))) if len(r) >= 2)
    assert dashboard_cards == [1, 0]
    assert [int(rows["黄牌（今日）"]), int(rows["红牌（今日）"])] == dashboard_cards
    assert rows["差评处理判定日"] == "2026-11-26（今日）"
    published = publish_as(store, "2026-11", china(2026, 11, 26, 15))  # frozen with the day it counted on
    summary = summary_of(json.loads(stored(store, published.id).content)["sections"])
    assert (summary["黄牌（今日）"], summary["红牌（今日）"], summary["差评处理判定日"]) == (1, 0, "2026-11-26（今日）")


def test_hcp_server_report_publish(hall, tmp_path, capsys):
    from haochaping.cli import main as hcp

    store, terminals = hall
    november_with_one_bad_rating(terminals)
    url = store.engine.url.render_as_string(hide_password=False)
    out = tmp_path / "通报.xlsx"
    assert hcp(["server", "report", "publish", "--db", url, "--month", "2026-11", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    row = stored(store, 1)
    assert row.content_hash in printed and out.read_bytes() == bytes(row.xlsx)
    assert audited(store)[0]["actor"] == "cli"
    assert hcp(["server", "report", "publish", "--db", url, "--month", "2026-11"]) == 2
    assert "已发布（第 1 版）" in capsys.readouterr().err
    assert hcp(["server", "report", "publish", "--db", url, "--month", "2026-11", "--reason", "补记"]) == 0
    assert hcp(["server", "report", "publish", "--db", url, "--year", "2026"]) == 0
    assert hcp(["server", "report", "publish", "--db", url, "--quarter", "2026Q5"]) == 2
    assert hcp(["server", "report", "--db", url, "--month", "2026-11", "--out", str(tmp_path / "r.csv")]) == 0
    assert [(e["period"], e["version"]) for e in audited(store)] == [("2026-11", 1), ("2026-11", 2), ("2026", 1)]


def test_published_versions_are_never_changed_or_deleted(hall):
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DatabaseError

    store, terminals = hall
    november_with_one_bad_rating(terminals)
    publish_as(store, "2026-11", china(2026, 12, 2, 9))
    for statement in (update(published_reports).values(content="{}"), delete(published_reports)):
        with pytest.raises(DatabaseError), store.write() as conn:
            conn.execute(statement)
    assert stored(store, 1).version == 1


def test_a_quarter_and_a_year_cover_their_months(hall):
    from sync_server.console.period import report_period

    assert (report_period("2026Q4").first, report_period("2026Q4").last) == (date(2026, 10, 1), date(2026, 12, 31))
    store, terminals = hall
    for month in (10, 11, 12):
        terminals["A01"].rate(5, china(2026, month, 2, 10))
    q = json.loads(stored(store, publish_as(store, "2026Q4", china(2027, 1, 4, 9)).id).content)
    y = json.loads(stored(store, publish_as(store, "2026", china(2027, 1, 4, 9)).id).content)
    assert summary_of(q["sections"])["统计期"] == "2026 年第四季度（2026-10-01 至 2026-12-31）"
    assert (summary_of(q["sections"])["有效评价数"], summary_of(y["sections"])["有效评价数"]) == (3, 3)


def test_every_page_with_a_period_takes_a_quarter_or_a_year(hall):
    """The ratings list (and its GB/T 39046 export), 办件对账 and the integrity page take ``quarter=`` and ``year=``
    as the dashboard and the report do, instead of falling back to the current month."""
    store, terminals = hall
    for month in (8, 10, 11, 12):
        terminals["A01"].rate(5, china(2026, month, 2, 10))
    with TestClient(create_app(store, clock=lambda: china(2027, 1, 4, 9))) as client:
        sign_in(client, "admin")
        for query, n in (({"quarter": "2026Q4"}, 3), ({"year": "2026"}, 4), ({"month": "2026-11"}, 1)):
            exported = client.get("/console/export/gbt39046.csv", params=query).text.lstrip("\ufeff")
            assert len(list(csv.reader(io.StringIO(exported)))) == 1 + n, query
        first = 'name="from" value="2026-10-01"'
        for path in ("/console/ratings", "/console/closed-cases", "/console/integrity", "/console/dashboard"):
            page = client.get(path, params={"quarter": "2026Q4"})
            assert page.status_code == 200 and first in page.text, path
        assert 'name="from" value="2026-01-01"' in client.get("/console/ratings", params={"year": "2026"}).text
        assert "本季度" in client.get("/console/dashboard").text  # links to this month, quarter and year
