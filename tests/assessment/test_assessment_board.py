"""``hcp server demo-data`` shows 考核: proposed, confirmed and dismissed events and a closed last year; the public
``/board`` needs no sign-in and shows rankings, rates, the 流动红旗 and the 优秀 list, but no single rating, no
citizen data and no deduction; in Chromium at 1920×1080 it passes axe-core (WCAG 2.1 AA) and is screenshotted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from assessment_helpers import CONFIG_DIR, ROOT, china, server_process
from fastapi.testclient import TestClient

from sync_server.app import create_app
from sync_server.assessment.rules import import_rules
from sync_server.configs import import_config
from sync_server.db import Store, migrate
from sync_server.demo import generate
from sync_server.storage import assessment as db

NOW = china(2026, 11, 27, 18)
PASSWORD = "board-test-pass-1"
SHOTS = ROOT / "screenshots"
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def demo_hall(folder, now: datetime) -> Store:
    store = Store.from_url(f"sqlite:///{folder / 'server.db'}")
    migrate(store)
    import_config(store, CONFIG_DIR, "rules/default.toml", now - timedelta(days=60))
    import_rules(store, CONFIG_DIR, now - timedelta(days=60))
    generate(store, now, 30, 7)
    return store


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = demo_hall(tmp_path_factory.mktemp("board"), NOW)
    yield store
    store.dispose()


def test_demo_data_has_proposed_confirmed_and_dismissed_events_and_a_closed_year(demo):
    with demo.read() as conn:
        events = db.events_between(conn, "2026-10-01", "2026-11-30")
        states = {e.state for e in events}
        sources = {e.source for e in events}
        closed = db.closed_year(conn, 2025)
    assert {"proposed", "confirmed", "dismissed"} <= states
    assert {"attendance_late", "manual"} <= sources
    assert closed is not None and closed.closed_by == "示例-管理员"
    assert any(e.source == "manual" and e.kind == "thanks" for e in events)


def test_the_board_needs_no_sign_in_and_shows_no_single_ratings_or_deductions(demo):
    with TestClient(create_app(demo, clock=lambda: NOW)) as client:
        r = client.get("/board")
    assert r.status_code == 200
    html = r.text
    assert "本月好评率" in html and "本月差评整改率" in html and "流动红旗" in html
    assert "本月最佳服务窗口" in html and "本季度服务之星" in html
    assert re.search(r'id="good-rate">\d+\.\d%<', html)
    assert "2025 年度考核优秀" in html and "李晓梅" in html  # +2 honour: 102, 优秀
    assert "王建国" not in html.split('id="excellent"')[1]  # −11: 89, 称职, not posted
    for word in ("非常满意", "不满意", "扣分", "扣", "办件编号", "手机", "评价内容"):
        assert word not in html, word
    assert 'data-refresh="120"' in html and "/static/board.js" in html


def test_the_board_in_chromium_at_1920_by_1080(tmp_path, chromium):
    from axe_playwright_python.sync_playwright import Axe

    from sync_server.console.accounts import add_user

    now = datetime.now(UTC)  # the server process runs on the real clock
    store = demo_hall(tmp_path, now)
    add_user(store, "admin", "admin", PASSWORD, now, "test")
    store.dispose()
    with server_process(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "server.log") as base:
        context = chromium.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{base}/board")
        assert page.evaluate("document.body.dataset.refresh") == "120"
        assert page.locator("h1").inner_text().startswith("兴宁区政务服务中心")
        size = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        assert size[0] <= 1920 and size[1] <= 1080, f"the board overflows the screen: {size}"
        assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('#good-rate')).fontSize)") >= 72
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "board-1920x1080.png"))
        results = Axe().run(page, options=WCAG_AA)
        assert results.violations_count == 0, results.generate_report()
        console_pages_pass_axe(page, base, now.year)
        context.close()


def console_pages_pass_axe(page, base: str, year: int) -> None:
    """The administrator's 考核与考勤 page (with its forms) and a clerk's page, at WCAG 2.1 AA."""
    from axe_playwright_python.sync_playwright import Axe

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/dashboard**")
    for path in (f"/console/assessment?year={year}", f"/console/assessment/clerks/1001?year={year}"):
        page.goto(base + path)
        assert page.locator("h1").count() == 1
        results = Axe().run(page, options=WCAG_AA)
        assert results.violations_count == 0, f"{path}: {results.generate_report()}"
    page.goto(f"{base}/console/assessment?year={year}")
    assert page.locator("#open tbody tr").count() >= 1  # the demo's proposals wait for confirmation
    page.screenshot(path=str(SHOTS / "console-assessment.png"), full_page=True)
