"""axe-core (WCAG 2.0/2.1 A and AA rules) in headless Chromium over the pages hall staff and citizens use: the sign-in
page, the dashboard, the ratings list, a 差评工单, the error page, and the phone rating page at 360 px; the phone page
also at the browser's text size 200 %. Any violation fails the test and is written to
``screenshots/axe-<page>.json`` with the screenshot beside it."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest
from console_helpers import PASSWORDS, ROOT, server_process
from sqlalchemy import func, select

SHOTS = ROOT / "screenshots"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def live(tmp_path_factory, seeded_file):
    """A real server over a copy of the seeded hall, with the first 差评工单 and a device's secret for QR links."""
    from sync_server.db import Store
    from sync_server.storage.schema import bad_cases, devices

    source, hall = seeded_file
    path = tmp_path_factory.mktemp("a11y") / "server.db"
    shutil.copy(source, path)
    store = Store.from_url(f"sqlite:///{path}")
    with store.read() as conn:
        case_id = conn.execute(select(func.min(bad_cases.c.id))).scalar_one()
        device = conn.execute(select(devices.c.id, devices.c.secret_hex).where(devices.c.window == "A01")).one()
    store.dispose()
    assert case_id is not None
    with server_process(f"sqlite:///{path}", path.parent / "server.log") as base:
        yield base, case_id, device


@pytest.fixture
def desk(chromium):
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", bypass_csp=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(chromium):
    context = chromium.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, locale="zh-CN", bypass_csp=True
    )
    yield context.new_page()
    context.close()


def axe_violations(page, name: str) -> list[dict]:
    """Run axe-core on the page; keep the screenshot and the violations (if any) under screenshots/."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"a11y-{name}.png"), full_page=True)
    found = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [{"target": n["target"], "summary": n.get("failureSummary", "")} for n in v["nodes"]],
        }
        for v in results.response["violations"]
    ]
    report = SHOTS / f"axe-{name}.json"
    if found:
        report.write_text(json.dumps(found, ensure_ascii=False, indent=1))
    elif report.exists():
        report.unlink()
    return found


def summary(found: list[dict]) -> str:
    return "; ".join(f"{v['id']} ({v['impact']}, {len(v['nodes'])}×): {v['nodes'][0]['target']}" for v in found)


def sign_in(page, base: str, username: str = "admin") -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/dashboard**")


@pytest.mark.slow
def test_sign_in_page_passes_axe(live, desk):
    base, _case, _device = live
    desk.goto(f"{base}/console/login")
    found = axe_violations(desk, "login")
    assert not found, summary(found)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, path",
    [
        ("dashboard", "/console/dashboard?from=2026-11-01&to=2026-11-30"),
        ("ratings", "/console/ratings?from=2026-11-01&to=2026-11-30"),
        ("case", "/console/cases/{case_id}"),
        ("case-list", "/console/cases"),
        ("error-404", "/console/cases/99999999999999999999"),
        ("unrated", "/console/ratings?from=2026-11-01&to=2026-11-30&show=unrated"),
        ("audit", "/console/audit"),
        ("users", "/console/users"),
    ],
)
def test_console_pages_pass_axe(live, desk, name, path):
    base, case_id, _device = live
    sign_in(desk, base)
    desk.goto(base + path.format(case_id=case_id))
    found = axe_violations(desk, name)
    assert not found, summary(found)


def phone_link(base: str, device, case_no: str) -> str:
    from haochaping.qrtoken import make_token

    return f"{base}/r/{make_token(device.id, case_no, datetime.now(UTC), bytes.fromhex(device.secret_hex))}"


@pytest.mark.slow
def test_phone_rating_page_passes_axe_at_360_px(live, phone):
    base, _case, device = live
    phone.goto(phone_link(base, device, "A11Y-1"))
    assert phone.title() == "请为本次服务评价"
    phone.get_by_text("非常不满意", exact=True).click()  # the reasons of a bad rating are checked too
    found = axe_violations(phone, "phone")
    assert not found, summary(found)


@pytest.mark.slow
def test_phone_rating_page_works_at_text_size_200_percent(live, phone):
    base, _case, device = live
    phone.goto(phone_link(base, device, "A11Y-2"))
    normal = phone.eval_on_selector("button[type=submit]", "b => parseFloat(getComputedStyle(b).fontSize)")
    session = phone.context.new_cdp_session(phone)
    session.send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})  # the browser's text size 200 %
    phone.reload()
    large = phone.eval_on_selector("button[type=submit]", "b => parseFloat(getComputedStyle(b).fontSize)")
    assert large == pytest.approx(2 * normal), "the page's text does not follow the browser's text size"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    clipped = phone.evaluate(
        "[...document.querySelectorAll('label, dd, h1, h2, legend, button')]"
        ".filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.trim())"
    )
    assert clipped == []
    phone.get_by_text("非常不满意", exact=True).click()
    phone.get_by_text("服务态度差效率低").click()
    SHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(SHOTS / "qr-page-text-200.png"), full_page=True)
    phone.get_by_role("button", name="提交评价").click()
    phone.wait_for_selector("text=感谢您的评价")
    found = axe_violations(phone, "phone-thanks-text-200")
    assert not found, summary(found)


@pytest.mark.slow
def test_public_board_passes_axe(live, chromium):
    base, _case, _device = live
    context = chromium.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN", bypass_csp=True)
    board = context.new_page()
    board.goto(f"{base}/board")
    found = axe_violations(board, "board")
    context.close()
    assert not found, summary(found)


LINES_OF = """cells => cells.map(td => {
    const range = document.createRange();
    range.selectNodeContents(td);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    return [td.textContent.trim(), lines.size];
})"""


@pytest.mark.slow
def test_ratings_list_at_1366_keeps_level_time_and_clerk_on_one_line(live, desk):
    base, _case, _device = live
    sign_in(desk, base)
    desk.goto(f"{base}/console/ratings?from=2026-11-01&to=2026-11-30")
    assert desk.evaluate("document.documentElement.scrollWidth") <= 1366
    cells = desk.eval_on_selector_all("#ratings tbody td.nowrap", LINES_OF)
    assert len(cells) >= 5 * 15 and any(text == "非常不满意" for text, _ in cells)
    assert any("（1001）" in text for text, _ in cells)
    nav = desk.eval_on_selector_all("header nav a", LINES_OF)
    wrapped = [text for text, lines in cells + nav if lines != 1]
    assert wrapped == []
    desk.screenshot(path=str(SHOTS / "console-ratings-1366.png"), full_page=True)
    desk.goto(f"{base}/console/ratings?from=2026-11-01&to=2026-11-30&show=unrated")
    assert desk.locator("#total").inner_text() == "2"
    desk.screenshot(path=str(SHOTS / "console-unrated-1366.png"), full_page=True)


@pytest.mark.slow
def test_devices_page_issues_a_large_enrolment_code_and_passes_axe(live, desk):
    base, _case, _device = live
    sign_in(desk, base)
    desk.goto(f"{base}/console/devices")
    desk.select_option("#code-form select[name=window]", "A01")
    desk.get_by_role("button", name="生成登记码").click()
    desk.wait_for_selector("#enrol-code")
    code = desk.locator("#enrol-code").inner_text()
    assert len(code) == 14 and code.count("-") == 2
    size = desk.eval_on_selector("#enrol-code", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 40  # readable across a desk while typing it on the kiosk's maintenance screen
    assert desk.locator("#code-expires").inner_text()
    found = axe_violations(desk, "devices-code")
    assert not found, summary(found)


@pytest.mark.slow
def test_a_refused_step_keeps_the_typed_text_and_a_done_step_shows_in_green(live, desk):
    base, case_id, _device = live
    sign_in(desk, base)
    desk.goto(f"{base}/console/cases/{case_id}")
    form = desk.locator("form[action$='/steps/verify_true']")
    typed = "核实：窗口人员态度生硬属实。" + "详" * 1000
    form.locator("textarea[name=text]").fill(typed)
    form.locator("select[name=fix_kind]").select_option("complex")
    form.locator("button").click()
    desk.wait_for_selector("#error-verify_true-text")
    assert desk.locator("#error-verify_true-text").inner_text() == "核实情况最多 1000 字"
    form = desk.locator("form[action$='/steps/verify_true']")
    assert form.locator("textarea[name=text]").input_value() == typed
    assert form.locator("select[name=fix_kind]").input_value() == "complex"
    found = axe_violations(desk, "case-form-error")
    assert not found, summary(found)
    desk.locator("form[action$='/steps/verify_false'] textarea[name=text]").fill("经核实，系群众误解办理时限")
    desk.locator("form[action$='/steps/verify_false'] button").click()
    desk.wait_for_selector("#done")
    assert desk.locator("#done").inner_text() == "已办理：核实：不属实"
    background = desk.eval_on_selector("#done", "e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(232, 247, 239)"  # the success colour, not the error banner's
    desk.screenshot(path=str(SHOTS / "console-case-done.png"), full_page=True)
    desk.goto(f"{base}/console/dashboard?from=2026-11-01&to=2026-11-30")
    yellow = desk.eval_on_selector("#kpi-yellow b", "e => getComputedStyle(e).color")
    assert yellow == "rgb(138, 83, 0)"  # amber, not the green of the good figures
    desk.context.clear_cookies()
    desk.goto(f"{base}/console/login")
    assert "hcp server user add" not in desk.content()


@pytest.mark.slow
def test_published_report_pages_pass_axe(live, desk):
    """已发布的通报: the list with the publish form, one version as published with its 更正, and the form refusing a
    second publication of the same period (the message tied to its field)."""
    base, _case, _device = live
    sign_in(desk, base)
    desk.goto(f"{base}/console/reports/published")
    found = axe_violations(desk, "published-list")
    assert not found, summary(found)
    desk.fill("input[name=period]", "2026-11")
    desk.get_by_role("button", name="发布").click()
    desk.wait_for_url("**/console/reports/published/*")
    assert desk.locator("#hash-check").inner_text().startswith("一致")
    found = axe_violations(desk, "published-one")
    assert not found, summary(found)
    desk.goto(f"{base}/console/reports/published")
    desk.fill("input[name=period]", "2026-11")
    desk.get_by_role("button", name="发布").click()
    desk.wait_for_selector("#error-reason")
    found = axe_violations(desk, "published-refused")
    assert not found, summary(found)


@pytest.mark.slow
def test_the_written_report_and_its_review_pass_axe(live, desk):
    """篇10's order on the 差评工单 page: 核实：不属实 offers the written report (恶意差评/误操作, evidence);
    once filed, the page waiting for 复核 and the hall administrator's review forms."""
    base, _case_id, _device = live
    sign_in(desk, base, "sc_reviewer")
    desk.goto(f"{base}/console/cases?state=pending")
    pending = desk.locator("#cases tbody tr a")
    if pending.count():
        pending.first.click()
        assert desk.locator("#appeal-form").count() == 0  # verify first
        desk.locator("form[action$='/steps/verify_false'] textarea[name=text]").fill("经调阅录像，群众误点")
        desk.locator("form[action$='/steps/verify_false'] button").click()
        desk.wait_for_selector("#done")
    else:  # an earlier test already found the first record 不属实
        desk.goto(f"{base}/console/cases?state=unfounded")
        desk.locator("#cases tbody tr a").first.click()
    form = desk.locator("#appeal-form")
    assert form.count() == 1
    found = axe_violations(desk, "case-report-form")
    assert not found, summary(found)
    form.locator("select[name=category]").select_option(label="误操作")
    form.locator("textarea[name=text]").fill("经核实属误操作：录像显示群众办结后误点“非常不满意”")
    form.locator("input[name=evidence]").set_input_files(
        files=[{"name": "录像截图.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64}]
    )
    form.get_by_role("button", name="书面报告，提请复核").click()
    desk.wait_for_selector("#done")
    assert desk.locator("#case-state").inner_text() == "书面报告待复核"
    case_url = desk.url.split("?")[0]
    found = axe_violations(desk, "case-report-pending")
    assert not found, summary(found)
    desk.context.clear_cookies()
    sign_in(desk, base, "admin")
    desk.goto(case_url)
    assert desk.locator("form[action$='/steps/uphold']").count() == 1
    found = axe_violations(desk, "case-report-review")
    assert not found, summary(found)
