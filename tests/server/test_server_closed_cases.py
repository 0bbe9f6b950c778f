"""Closed cases from the case system: ``POST /api/v1/cases/closed`` with the case system's API key, and
``hcp server cases import FILE.csv|FILE.xlsx``; stored once per case number, conflicts kept and flagged, bad
input named and nothing stored (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from server_helpers import CONFIG_DIR, count
from sqlalchemy import select

from haochaping.cli import main
from sync_server.configs import current_config
from sync_server.storage.schema import closed_case_conflicts, closed_cases
from sync_server.triggers import add_case_system

A01_MATTER = "11450102MB1234567X4000111"
B03_MATTER = "11450102MB7654321Y3000201"


def case(case_no: str = "XN-0001", **fields) -> dict:
    body = {
        "case_no": case_no,
        "matter_code": A01_MATTER,
        "window": "A01",
        "clerk_no": "1001",
        "accepted_at": "2026-11-23T09:00:00+08:00",
        "closed_at": "2026-11-24T15:30:00+08:00",
        "promised_days": 3,
    }
    return {**body, **fields}


@pytest.fixture
def key(store, server_clock, configured):
    return add_case_system(store, "一窗综合受理系统", server_clock())


def report(client, key, *cases):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/api/v1/cases/closed", json={"cases": list(cases)}, headers=headers)


def stored(store) -> dict:
    with store.read() as conn:
        return {r.case_no: r for r in conn.execute(select(closed_cases))}


def test_only_a_registered_case_system_may_report(client, key, store):
    assert report(client, None, case()).status_code == 401
    assert report(client, "hcpk_wrong", case()).status_code == 401
    assert count(store, closed_cases) == 0


def test_each_case_is_stored_once_and_other_content_is_kept_and_flagged(client, key, store):
    first = report(client, key, case("XN-1"), case("XN-2", closed_at=None))
    assert first.status_code == 200, first.text
    assert [r["status"] for r in first.json()["results"]] == ["stored", "stored"]
    again = report(client, key, case("XN-1"), case("XN-2"), case("XN-1", clerk_no="1002"))
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "closed", "conflict"]
    rows = stored(store)
    assert rows["XN-1"].clerk_no == "1001" and rows["XN-1"].flags == "conflict"  # the first content stays
    assert rows["XN-1"].department == "SC" and rows["XN-1"].source == "一窗综合受理系统"
    assert rows["XN-1"].accepted_at == "2026-11-23T01:00:00.000+00:00"  # stored in UTC
    assert rows["XN-2"].closed_at == "2026-11-24T07:30:00.000+00:00" and rows["XN-2"].flags == ""
    with store.read() as conn:
        kept = conn.execute(select(closed_case_conflicts)).all()
    assert [(k.case_no, '"clerk_no": "1002"' in k.content) for k in kept] == [("XN-1", True)]
    # the same instant written in another zone is the same content
    same = report(client, key, case("XN-1", accepted_at="2026-11-23T01:00:00Z"))
    assert same.json()["results"][0]["status"] == "duplicate"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"window": "Z99"}, "没有编号为 Z99 的窗口"),
        ({"matter_code": "NO-SUCH-MATTER"}, "没有编码为 NO-SUCH-MATTER 的事项"),
        ({"clerk_no": "9999"}, "没有工号为 9999 的工作人员"),
        ({"closed_at": "2099-01-01T09:00:00+08:00"}, "办结时间晚于当前时间"),
        ({"closed_at": "2026-11-22T09:00:00+08:00"}, "办结时间早于受理时间"),
    ],
)
def test_a_batch_with_a_bad_case_is_refused_whole_and_names_it(client, key, store, fields, message):
    assert report(client, key, case("XN-KEEP")).status_code == 200
    before = stored(store)["XN-KEEP"]
    answer = report(client, key, case("XN-GOOD"), case("XN-BAD", **fields))
    assert answer.status_code == 409  # well-formed, but at odds with the hall configuration or the clock
    assert "第 2 件（XN-BAD）" in answer.json()["error"] and message in answer.json()["error"]
    assert list(stored(store)) == ["XN-KEEP"] and stored(store)["XN-KEEP"] == before


@pytest.mark.parametrize(
    "body",
    [
        {"cases": [case(accepted_at="2026-11-23 09:00")]},  # no time zone
        {"cases": [case(accepted_at="昨天")]},
        {"cases": [case(case_no="bad case no!")]},
        {"cases": [case(promised_days=0)]},
        {"cases": []},
        {"cases": [{k: v for k, v in case().items() if k != "clerk_no"}]},
    ],
)
def test_malformed_batches_get_the_one_error_shape(client, key, store, body):
    answer = client.post("/api/v1/cases/closed", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 422 and answer.json()["ok"] is False and answer.json()["error"]
    assert count(store, closed_cases) == 0


def test_without_a_hall_configuration_the_batch_is_refused(client, store, server_clock):
    key = add_case_system(store, "一窗综合受理系统", server_clock())
    answer = report(client, key, case())
    assert answer.status_code == 503 and "尚未导入大厅配置" in answer.json()["error"]


# ---------------------------------------------------------------- hcp server cases import

HEADER = "办件编号,事项编码,窗口,工号,受理时间,办结时间,承诺办结工作日\n"


def csv_line(case_no: str, window: str = "A01", matter: str = A01_MATTER, closed: str = "2026-11-24 15:30") -> str:
    return f"{case_no},{matter},{window},1001,2026-11-23 09:00:00,{closed},3\n"


def hcp(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_utf8_csv_is_imported_with_china_times(store, db_url, configured, tmp_path, capsys):
    path = tmp_path / "办件.csv"
    path.write_text("\ufeff" + HEADER + csv_line("F-1") + csv_line("F-2", closed="") + "\n", encoding="utf-8")
    code, out = hcp(capsys, "server", "cases", "import", str(path), "--db", db_url)
    assert code == 0 and "2 件（新增 2）" in out and "UTF-8" in out
    rows = stored(store)
    assert rows["F-1"].accepted_at == "2026-11-23T01:00:00.000+00:00" and rows["F-1"].promised_days == 3
    assert rows["F-2"].closed_at is None and rows["F-1"].source == "文件:办件.csv"
    code, out = hcp(capsys, "server", "cases", "import", str(path), "--db", db_url)
    assert code == 0 and "重复（已有） 2" in out


def test_a_gbk_csv_from_excel_is_decoded(store, db_url, configured, tmp_path, capsys):
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + csv_line("G-1")).encode("gbk"))
    code, out = hcp(capsys, "server", "cases", "import", str(path), "--db", db_url)
    assert code == 0 and "GBK" in out and "新增 1" in out
    assert stored(store)["G-1"].window == "A01"


def test_bad_rows_are_named_by_line_and_nothing_is_stored_unless_skip_bad(store, db_url, configured, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    lines = [csv_line("B-1"), csv_line("B-2", window="Z99"), csv_line("B-3", closed="明天"), csv_line("B-4")]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    code, out = hcp(capsys, "server", "cases", "import", str(path), "--db", db_url)
    assert code == 2 and "未导入" in out
    assert "第 3 行（B-2）：没有编号为 Z99 的窗口" in out and "第 4 行（B-3）：办结时间：时间“明天”无法识别" in out
    assert count(store, closed_cases) == 0
    code, out = hcp(capsys, "server", "cases", "import", str(path), "--skip-bad", "--db", db_url)
    assert code == 0 and "新增 2" in out and "跳过 2 处错误" in out and "已跳过 第 3 行" in out
    assert sorted(stored(store)) == ["B-1", "B-4"]


def test_an_xlsx_export_with_date_cells_is_imported(store, db_url, configured, tmp_path, capsys):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["case_no", "matter_code", "window", "clerk_no", "accepted_at", "closed_at", "备注"])
    accepted = datetime(2026, 11, 23, 9, 0)  # Excel keeps no time zone: China time
    sheet.append([20261123001, B03_MATTER, "B03", 1003, accepted, accepted + timedelta(hours=5), "=1+1"])
    path = tmp_path / "export.xlsx"
    book.save(path)
    code, out = hcp(capsys, "server", "cases", "import", str(path), "--db", db_url)
    assert code == 0 and "新增 1" in out, out
    row = stored(store)["20261123001"]
    assert (row.clerk_no, row.department, row.promised_days) == ("1003", "RS", None)
    assert row.closed_at == "2026-11-23T06:00:00.000+00:00"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("cases.txt", b"x", "只能导入 .csv 或 .xlsx 文件"),
        ("cases.xlsx", b"not a zip", "不是有效的 Excel（.xlsx）文件"),
        ("cases.csv", "办件编号,窗口\nX,A01\n".encode(), "缺少列：事项编码、工号、受理时间"),
        ("cases.csv", HEADER.encode(), "只有表头，没有办件"),
        ("cases.csv", b"", "是空文件"),
        ("cases.csv", b"\xff\xfe\x00\x81\x30\xff\x00", "既不是 UTF-8 也不是 GBK"),
    ],
)
def test_files_that_cannot_be_read_get_a_clear_message(
    sqlite_store, sqlite_url, tmp_path, capsys, name, content, message
):
    main(["server", "config", "import", "--config-dir", str(CONFIG_DIR), "--db", sqlite_url])
    path = tmp_path / name
    path.write_bytes(content)
    code, out = hcp(capsys, "server", "cases", "import", str(path), "--db", sqlite_url)
    assert code == 2 and message in out, out
    assert count(sqlite_store, closed_cases) == 0


def test_import_needs_the_hall_configuration(sqlite_url, tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + csv_line("N-1"), encoding="utf-8")
    code, out = hcp(capsys, "server", "cases", "import", str(path), "--db", sqlite_url)
    assert code == 2 and "尚未导入大厅配置" in out


def test_configured_is_the_example_hall(store, configured):
    with store.read() as conn:
        assert current_config(conn).config.hall.window("A01").matters[0] == A01_MATTER


def test_reconciliation_reads_the_same_on_both_databases(client, kiosk, key, store, server_clock):
    """One case prompted and rated at A01, one closed and never prompted, one prompted but never reported."""
    from sync_server.closedcases.reconcile import reconcile
    from sync_server.closedcases.settings import CaseFeedSettings
    from sync_server.console.accounts import Scope
    from sync_server.storage.schema import utc_iso

    now = server_clock()
    prompted = now - timedelta(days=4)
    common = dict(clerk_no="1001", matter_code=A01_MATTER)
    records = [
        kiosk.record("prompt", prompted, case_no="R-1", **common),
        kiosk.record(
            "rating", prompted + timedelta(seconds=20), case_no="R-1", prompted_at=utc_iso(prompted), **common
        ),
        kiosk.record("prompt", prompted, case_no="TYPED-9", **common),
    ]
    assert kiosk.push(records).status_code == 200
    closed = utc_iso(prompted - timedelta(minutes=2))
    accepted = utc_iso(prompted - timedelta(hours=1))
    assert report(client, key, case("R-1", accepted_at=accepted, closed_at=closed)).status_code == 200
    assert report(client, key, case("NEVER", accepted_at=accepted, closed_at=closed)).status_code == 200
    with store.read() as conn:
        found = reconcile(
            conn,
            Scope(),
            utc_iso(now - timedelta(days=10)),
            utc_iso(now),
            now,
            current_config(conn).config,
            CaseFeedSettings(),
            now.date(),
        )
    assert (found.closed, found.prompted, found.rated) == (2, 1, 1)
    assert [c.case_no for c in found.missed] == ["NEVER"] and dict(found.missed_by_clerk) == {"1001": 1}
    assert [c.case_no for c in found.unreported] == ["TYPED-9"]
