"""The console in headless Chromium against a real ``hcp server`` process on 127.0.0.1: an administrator signs in,
reads the dashboard figures of the hand-made month (conftest.py), filters to one department, drills down to the
ratings of a window and one rating, and downloads the monthly workbook, read back with openpyxl."""

from __future__ import annotations

import shutil

import pytest
from console_helpers import PASSWORDS, ROOT, server_process
from openpyxl import load_workbook

SHOTS = ROOT / "screenshots"


@pytest.fixture
def console_server(seeded_file, tmp_path):
    source, hall = seeded_file
    path = tmp_path / "server.db"
    shutil.copy(source, path)
    with server_process(f"sqlite:///{path}", tmp_path / "server.log") as base:
        yield base, hall


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True, locale="zh-CN")
    yield context.new_page()
    context.close()


def kpi(page, name: str) -> str:
    return page.locator(f"#kpi-{name} b").inner_text()


@pytest.mark.slow
def test_admin_reads_figures_filters_drills_down_and_downloads_the_report(console_server, browser_page, tmp_path):
    base, hall = console_server
    page = browser_page
    page.goto(f"{base}/console/dashboard?from=2026-11-01&to=2026-11-30")
    assert page.title() == "登录 · 好差评管理后台"
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORDS["admin"])
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector("#kpi-count")
    # 11 effective ratings: 9 good, 2 bad, levels summing to 43; 14 prompted cases, 12 rated by a citizen.
    assert kpi(page, "count") == "11"
    assert kpi(page, "good-rate") == "81.8%"
    assert kpi(page, "active-good-rate") == "80.0%"
    assert kpi(page, "bad-rate") == "18.2%"
    assert kpi(page, "participation") == "85.7%"
    assert kpi(page, "unrated") == "14.3%"
    assert kpi(page, "mean") == "3.91"
    left_out = page.locator("#left-out").inner_text()
    assert "不予采纳（申诉排除） 1 条" in left_out and "测试评价 1 条" in left_out and "追评（不计入） 1 条" in left_out
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-dashboard.png"), full_page=True)

    page.select_option("select[name=department]", "SC")
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("h1:has-text('市场监管局')")
    assert kpi(page, "count") == "6"
    assert kpi(page, "good-rate") == "83.3%"
    assert kpi(page, "participation") == "87.5%"  # 7 of 8 prompted cases rated (C6 timed out)

    page.locator("#by-window a", has_text="A01 综合受理窗口").click()
    page.wait_for_selector("#ratings")
    rows = page.locator("#ratings tbody tr")
    assert rows.count() == 8  # 6 effective, the excluded C7 and the 追评 of C8, each marked
    assert page.locator("#ratings .tag.warn", has_text="申诉排除").count() == 1
    assert page.locator("#ratings .tag.warn", has_text="追评").count() == 1
    page.screenshot(path=str(SHOTS / "console-ratings.png"), full_page=True)

    page.locator("#ratings tr", has_text="态度差").locator("td a").first.click()
    page.wait_for_selector("#rating-detail")
    assert page.locator("#comment").inner_text() == "<script>alert('x')</script>态度差"
    assert "115 服务态度差效率低" in page.locator("#rating-detail").inner_text()

    page.goto(f"{base}/console/reports")
    page.fill("input[name=month]", "2026-11")
    with page.expect_download() as info:
        page.locator("#download-xlsx").click()
    saved = tmp_path / "report.xlsx"
    info.value.save_as(saved)
    book = load_workbook(saved)
    summary = {row[0]: row[1] for row in book["概况"].iter_rows(min_row=2, values_only=True)}
    assert summary["有效评价数"] == 11
    assert summary["好评率"] == pytest.approx(9 / 11)
    assert summary["主动评价好评率"] == pytest.approx(0.8)
    assert summary["未评办件数"] == 2
    bad = list(book["差评汇总"].iter_rows(min_row=2, values_only=True))
    assert sorted(r[5] for r in bad) == ["C10", "C5"]  # the excluded C7 is not in the bad-rating summary
