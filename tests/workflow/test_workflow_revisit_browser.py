"""The 回访 form in headless Chromium against a real server process: the 回访员 opens a rectified 差评工单, records
that the citizen was reached by phone and answered 基本满意, and sees the 回访 listed; the 工单 page before and after,
and the dashboard with 回访率 and 回访满意率 and their definitions, pass axe-core WCAG 2.1 AA."""

from __future__ import annotations

import json

import pytest
from workflow_helpers import PASSWORDS, ROOT, actor, china, server_process

from sync_server.workflow.cases import StepForm, take_step
from sync_server.workflow.machine import Step

SHOTS = ROOT / "screenshots"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture
def live(store, terminals, db_url, tmp_path):
    terminals["A01"].rate(1, china(2026, 11, 2, 9))
    sc = actor("sc_reviewer")
    take_step(store, 1, Step.VERIFY_TRUE, sc, china(2026, 11, 2, 15), StepForm("属实", fix_kind="simple"))
    take_step(store, 1, Step.RECTIFY, sc, china(2026, 11, 3, 15), StepForm("已整改"))
    with server_process(db_url, tmp_path / "server.log") as base:
        yield base


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def violations(page, name: str) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"a11y-{name}.png"), full_page=True)
    found = [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in results.response["violations"]]
    if found:
        (SHOTS / f"axe-{name}.json").write_text(json.dumps(found, ensure_ascii=False, indent=1))
    return found


@pytest.mark.slow
def test_the_revisitor_records_a_revisit_and_the_pages_pass_axe(live, page):
    page.goto(f"{live}/console/login")
    page.fill("input[name=username]", "revisitor")
    page.fill("input[name=password]", PASSWORDS["revisitor"])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/dashboard**")
    page.goto(f"{live}/console/cases/1")
    assert page.locator("#revisit-form").is_visible()
    assert violations(page, "case-revisit-form") == []
    form = page.locator("#revisit-form")
    form.get_by_label("电话").check()
    form.get_by_label("基本满意").check()
    form.locator("textarea[name=text]").fill("电话联系群众，群众表示基本满意")
    form.get_by_role("button", name="记录回访").click()
    page.wait_for_selector("#done")
    assert page.locator("#case-state").inner_text() == "已回访"
    row = page.locator("#revisit-list tbody tr").first.inner_text()
    assert "电话" in row and "基本满意" in row and "revisitor" in row
    assert violations(page, "case-revisited") == []
    page.goto(f"{live}/console/dashboard?from=2026-11-01&to=2026-11-30")
    assert page.locator("#kpi-revisit-rate b").inner_text() == "100.0%"
    assert page.locator("#kpi-satisfaction-rate b").inner_text() == "100.0%"
    assert "有回答的回访" in page.locator("#revisit-definitions").inner_text()
    assert violations(page, "dashboard-revisit") == []
