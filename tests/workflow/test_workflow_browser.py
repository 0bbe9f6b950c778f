"""The whole path in headless Chromium against a real server process on 127.0.0.1: a bad rating arrives from a
kiosk as a signed batch, the department reviewer verifies it (不属实) and reports it in writing as 恶意差评 with a
photo, an administrator confirms it on 复核 (不予采纳) and the dashboard's 好评率 rises; a supervisor reverses it and
好评率 falls back."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import httpx
import pytest
from PIL import Image
from workflow_helpers import PASSWORDS, ROOT, ServerKiosk, server_process

SHOTS = ROOT / "screenshots"
MATTER = "11450102MB1234567X4000111"


def real_clock() -> datetime:
    return datetime.now(UTC)


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def live(store, db_url, tmp_path):
    with server_process(db_url, tmp_path / "server.log") as base:
        yield base


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def kiosk_pushes_a_day(base: str, store) -> None:
    """A kiosk at window A01 enrols and pushes prompts and ratings 5, 4, 3 and 1 (with reason and comment)."""
    with httpx.Client(base_url=base, timeout=10) as http:
        kiosk = ServerKiosk(http, real_clock, window="A01", store=store)
        batch = []
        for n, level in enumerate((5, 4, 3, 1), 1):
            case = dict(case_no=f"BR-{n}", clerk_no="1001", matter_code=MATTER)
            prompt = kiosk.record("prompt", **case)
            extra = dict(reasons=[115], comment="等了一个小时，态度很差") if level == 1 else {}
            batch += [prompt, kiosk.record("rating", level=level, prompted_at=prompt["occurred_at"], **case, **extra)]
        answer = kiosk.push(batch)
        assert answer.status_code == 200
        assert {r["status"] for r in answer.json()["results"]} == {"stored"}


def sign_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/dashboard**")


def good_rate(page, base: str) -> str:
    page.goto(f"{base}/console/dashboard")
    return page.locator("#kpi-good-rate b").inner_text()


def step(page, name: str, text: str) -> None:
    form = page.locator(f"form[action$='/steps/{name}']")
    form.locator("textarea[name=text]").fill(text)
    form.locator("button").click()
    page.wait_for_selector("#done")


@pytest.mark.slow
def test_a_report_confirmed_on_review_then_reversed_moves_the_good_rate(live, store, browser_page):
    base, page = live, browser_page
    kiosk_pushes_a_day(base, store)

    sign_in(page, base, "sc_reviewer")
    page.goto(f"{base}/console/cases")
    row = page.locator("#cases tbody tr").first
    assert "待核实" in row.inner_text() and "非常不满意" in row.inner_text()  # 当日建档: listed the day it arrives
    row.get_by_role("link").click()
    assert page.locator("#case-state").inner_text() == "待核实"
    assert page.get_by_text("等了一个小时，态度很差").is_visible()
    assert page.locator("#appeal-form").count() == 0  # 篇10: the department verifies first
    step(page, "verify_false", "监控显示办理顺利，工作人员服务规范")
    assert page.locator("#case-state").inner_text() == "不属实（待解释说明）"
    form = page.locator("#appeal-form")
    form.locator("select[name=category]").select_option(label="恶意差评")
    form.locator("textarea[name=text]").fill("该群众当天在三个窗口均给出非常不满意，监控显示办理顺利")
    form.locator("input[name=evidence]").set_input_files(
        files=[{"name": "监控截图.png", "mimeType": "image/png", "buffer": photo()}]
    )
    form.get_by_role("button", name="书面报告，提请复核").click()
    page.wait_for_selector("#done")
    assert page.locator("#case-state").inner_text() == "书面报告待复核"
    assert page.locator("#evidence a").inner_text() == "监控截图.png"
    case_url = page.url.split("?")[0]

    sign_in(page, base, "admin")
    assert good_rate(page, base) == "75.0%"
    page.goto(case_url)
    step(page, "uphold", "监控录像显示服务规范，认定为恶意差评")
    assert page.locator("#case-state").inner_text() == "不予采纳（复核属实，评价已排除）"
    assert "该评价已排除出全部统计" in page.locator("#appeal-effect").inner_text()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "case-appeal-upheld.png"), full_page=True)
    assert good_rate(page, base) == "100.0%"
    assert page.locator("#kpi-cases b").inner_text() == "1"  # 本期差评工单, one excluded by the appeal
    page.locator("#case-handling").screenshot(path=str(SHOTS / "dashboard-case-handling.png"))
    page.goto(f"{base}/console/ratings")
    assert page.get_by_text("等了一个小时，态度很差").count() == 1  # excluded, still stored and visible

    sign_in(page, base, "supervisor")
    page.goto(case_url)
    step(page, "review_reverse", "复查认为证据不足以认定恶意差评")
    assert page.locator("#case-state").inner_text() == "不属实（待解释说明）"
    assert "改判" in page.locator("#review").inner_text()
    history = page.locator("#history tbody").inner_text()
    for stage in ("建档", "核实：不属实", "书面报告（恶意差评/误操作）", "复核属实：不予采纳", "督查复查：改判"):
        assert stage in history
    page.screenshot(path=str(SHOTS / "case-appeal-reversed.png"), full_page=True)
    assert good_rate(page, base) == "75.0%"


@pytest.mark.slow
def test_integrity_page_with_every_signal_showing_passes_axe(live, store, terminals, browser_page):
    """On 2026-11-03 one phone rates four of 1002's cases and a terminal rates at 19:00 and on Saturday: the page
    shows both signals with their ratings opened, in Chinese, at WCAG 2.1 AA."""
    from axe_playwright_python.sync_playwright import Axe
    from fastapi.testclient import TestClient
    from testkit import FakeClock
    from workflow_helpers import china, prompted, rate_by_phone

    from sync_server.app import create_app

    a01 = terminals["A01"]
    cases = prompted(store, a01, china(2026, 11, 3, 10), "1002", 4, "axe")
    with TestClient(create_app(store, clock=FakeClock(china(2026, 11, 3, 10, 30)))) as phone:
        for case_no in cases:
            rate_by_phone(phone, store, a01, case_no, china(2026, 11, 3, 10), 5)
    a01.rate(5, china(2026, 11, 3, 19), clerk="1001")
    a01.rate(4, china(2026, 11, 7, 10), clerk="1001")
    page = browser_page
    sign_in(page, live, "admin")
    page.goto(f"{live}/console/integrity?from=2026-11-02&to=2026-11-08")
    assert page.locator("#phone-signals tbody tr").count() == 1
    assert page.locator("#off-hours tbody tr").count() == 2
    for summary in page.locator("#phone-signals summary, #off-hours summary").all():
        summary.click()
    assert page.locator("#phone-signals details a").count() == 4
    assert "非工作日" in page.locator("#off-hours").inner_text()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-integrity-signals.png"), full_page=True)
    results = Axe().run(
        page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    )
    assert results.violations_count == 0, results.generate_report()
