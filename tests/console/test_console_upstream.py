"""The 上报 page: counts by state and day, the rejected items with the platform's code and message and a button
to resend them (administrators only, audited), the failures being retried; in headless Chromium against a real
``hcp server`` process it passes axe-core (WCAG 2.1 AA) and the resend button puts the item back in the queue."""

from __future__ import annotations

import shutil

import pytest
from console_helpers import NOW, PASSWORDS, ROOT, server_process, sign_in
from sqlalchemy import select

from sync_server.storage import upstream as storage
from sync_server.storage.schema import audit_log, upstream_items, utc_iso

SHOTS = ROOT / "screenshots"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def queue(store) -> None:
    """Three accepted items, one rejected by the platform, one failing and retried."""
    items = [({"id": f"rating:r{i}", "kind": "rating"}, f"r{i}", "2026-11-27") for i in range(5)]
    now = utc_iso(NOW)
    with store.write() as conn:
        storage.enqueue(store, conn, items, now)
    outcomes = [{"id": i, "outcome": "accepted", "attempts": 1, "http_status": 200} for i in (1, 2, 3)]
    outcomes.append(
        {"id": 4, "outcome": "rejected", "attempts": 1, "http_status": 200, "code": "E207", "message": "缺少事项编码"}
    )
    outcomes.append(
        {"id": 5, "outcome": "failed", "attempts": 1, "message": "省平台应答不是 JSON", "next_attempt_at": now}
    )
    storage.lease(store, "test", now, utc_iso(NOW.replace(year=2027)), 10)
    storage.record_outcomes(store, "test", outcomes, now)


def test_the_page_counts_by_state_and_day_and_resends_a_rejected_item(app_client, hall):
    queue(hall.store)
    sign_in(app_client, "admin")
    page = app_client.get("/console/upstream")
    assert page.status_code == 200
    assert '<div class="kpi" id="kpi-accepted"><b>3</b>' in page.text and 'id="kpi-rejected"><b>1</b>' in page.text
    assert '<td>2026-11-27</td><td class="num">1</td><td class="num">3</td><td class="num">1</td>' in page.text
    assert "E207" in page.text and "缺少事项编码" in page.text and "省平台应答不是 JSON" in page.text
    assert "未配置省平台地址" in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    done = app_client.post("/console/upstream/4/resend", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    with hall.store.read() as conn:
        assert conn.execute(select(upstream_items.c.state).where(upstream_items.c.id == 4)).scalar() == "pending"
        assert conn.execute(select(audit_log.c.target).where(audit_log.c.action == "upstream.resend")).scalar() == (
            "rating:r3"
        )
    again = app_client.post("/console/upstream/4/resend", data={"csrf_token": token})
    assert again.status_code == 400 and "无需重新上报" in again.text
    assert app_client.post("/console/upstream/1/resend", data={"csrf_token": "wrong"}).status_code == 403


def test_a_supervisor_reads_the_page_without_the_button_and_a_reviewer_not_at_all(app_client, hall):
    queue(hall.store)
    sign_in(app_client, "duchá")
    page = app_client.get("/console/upstream")
    assert page.status_code == 200 and "E207" in page.text and "/resend" not in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert app_client.post("/console/upstream/4/resend", data={"csrf_token": token}).status_code == 403
    app_client.post("/console/logout", data={"csrf_token": token})
    sign_in(app_client, "sc_reviewer")
    assert app_client.get("/console/upstream").status_code == 403


@pytest.fixture
def live(seeded_file, tmp_path):
    from sync_server.db import Store

    source, _ = seeded_file
    path = tmp_path / "server.db"
    shutil.copy(source, path)
    store = Store.from_url(f"sqlite:///{path}")
    queue(store)
    store.dispose()
    with server_process(f"sqlite:///{path}", tmp_path / "server.log") as base:
        yield base


@pytest.mark.slow
def test_in_chromium_the_page_passes_axe_and_the_button_requeues(live, chromium):
    from axe_playwright_python.sync_playwright import Axe

    context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live}/console/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORDS["admin"])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/dashboard**")
    page.get_by_role("link", name="上报").click()
    page.wait_for_selector("#rejected")
    assert page.locator("#kpi-rejected b").inner_text() == "1"
    assert page.locator("#rejected tbody tr", has_text="E207").count() == 1
    violations = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}}).response["violations"]
    assert violations == [], [(v["id"], v["nodes"][0]["target"]) for v in violations]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-upstream.png"), full_page=True)
    page.get_by_role("button", name="重新上报 rating:r3").click()
    page.wait_for_selector("#resent")
    assert page.locator("#kpi-rejected b").inner_text() == "0"
    assert page.locator("#kpi-pending b").inner_text() == "2"
    assert page.locator("#rejected tbody").inner_text().strip() == "无"
    context.close()
