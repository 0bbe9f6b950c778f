"""The QR phone page in headless Chromium at a phone viewport (360×740), against a real server process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from server_helpers import CONFIG_DIR, ROOT, real_clock, server_process
from sqlalchemy import select

from haochaping.chain import GENESIS_HASH, RECORD_FIELDS, record_hash
from haochaping.qrtoken import make_token
from sync_server.configs import import_config
from sync_server.db import Store, migrate
from sync_server.devices import add_enrolment_code, enrol
from sync_server.ingest import ingest
from sync_server.storage.schema import records

SHOTS = ROOT / "screenshots"


def prompt_record(device_id: str, case_no: str) -> dict:
    """The terminal's prompt for the case, as it would have synced before the citizen scans."""
    rec = {k: None for k in RECORD_FIELDS}
    rec.update(
        id=f"prompt-{case_no}",
        seq=1,
        kind="prompt",
        device_id=device_id,
        window="A01",
        clerk_no="1001",
        case_no=case_no,
        matter_code="11450102MB1234567X4000111",
        reasons=[],
        detail={"source": "case_system"},
        channel=4,
        prompted_at=real_clock().isoformat(timespec="milliseconds"),
        occurred_at=real_clock().isoformat(timespec="milliseconds"),
        prev_hash=GENESIS_HASH,
    )
    rec["hash"] = record_hash(rec)
    return rec


@pytest.fixture(scope="module")
def phone_server(tmp_path_factory):
    """One server process for this module's tests (it keeps no state; each test uses its own cases)."""
    tmp_path = tmp_path_factory.mktemp("phone")
    sqlite_url = f"sqlite:///{tmp_path / 'server.db'}"
    store = Store.from_url(sqlite_url)
    migrate(store)
    import_config(store, CONFIG_DIR, "rules/default.toml", real_clock())
    code, _ = add_enrolment_code(store, "A01", real_clock())
    device = enrol(store, code, real_clock())
    ingest(store, device.id, [prompt_record(device.id, "2026-XN-0420")], real_clock())
    with server_process(sqlite_url, tmp_path / "server.log") as base:
        yield base, store, device
    store.dispose()


@pytest.fixture
def phone(chromium):
    page = chromium.new_page(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
    yield page
    page.close()


@pytest.mark.slow
def test_citizen_rates_dissatisfied_on_the_phone_and_the_row_is_stored(phone_server, phone):
    base, store, device = phone_server
    token = make_token(device.id, "2026-XN-0420", real_clock(), device.secret)
    phone.goto(f"{base}/r/{token}")
    assert phone.title() == "请为本次服务评价"
    for shown in ("2026-XN-0420", "个体工商户设立登记", "A01 综合受理窗口", "李晓梅（工号 1001）"):
        assert phone.get_by_text(shown).first.is_visible(), shown
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    assert not phone.locator("text=窗口人员业务不熟练").is_visible()  # reasons appear for the chosen level
    phone.get_by_text("不满意", exact=True).click()
    phone.get_by_text("窗口人员业务不熟练").click()
    phone.fill("textarea[name=comment]", "材料要求讲得不清楚，来回跑了两次。")
    assert phone.locator("#count").inner_text() == "17"
    SHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(SHOTS / "qr-page-rating.png"), full_page=True)
    phone.get_by_role("button", name="提交评价").click()
    phone.wait_for_selector("text=感谢您的评价")
    phone.screenshot(path=str(SHOTS / "qr-page-thanks.png"))
    with store.read() as conn:
        row = conn.execute(select(records).where(records.c.case_no == "2026-XN-0420", records.c.kind == "rating")).one()
    assert (row.channel, row.level, row.reasons, row.source) == (3, 2, "[213]", "qr")
    assert row.comment == "材料要求讲得不清楚，来回跑了两次。"
    phone.goto(f"{base}/r/{token}")
    assert phone.locator("text=该办件已评价").first.is_visible()


@pytest.mark.slow
def test_tampered_and_expired_links_show_their_pages(phone_server, phone):
    base, _store, device = phone_server
    old = make_token(device.id, "OLD-1", real_clock() - timedelta(days=8), device.secret)
    answer = phone.goto(f"{base}/r/{old}")
    assert answer.status == 410 and phone.locator("text=评价已过期").first.is_visible()
    forged = make_token(device.id, "FORGED-1", real_clock(), b"not the device secret" * 2)
    answer = phone.goto(f"{base}/r/{forged}")
    assert answer.status == 403 and phone.locator("text=二维码无效").first.is_visible()
    phone.screenshot(path=str(SHOTS / "qr-page-forged.png"))


@pytest.mark.slow
def test_the_page_works_without_javascript(phone_server, chromium):
    base, store, device = phone_server
    page = chromium.new_page(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    token = make_token(device.id, "NOJS-1", real_clock(), device.secret)
    page.goto(f"{base}/r/{token}")
    assert page.get_by_text("服务态度差效率低").is_visible()  # every level's reasons are shown without script
    page.get_by_text("非常不满意", exact=True).click()
    page.get_by_role("button", name="提交评价").click()
    assert page.get_by_text("请至少选择一项原因").is_visible()  # checked on the server
    page.get_by_text("非常不满意", exact=True).click()
    page.get_by_text("服务态度差效率低").click()
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_selector("text=感谢您的评价")
    with store.read() as conn:
        row = conn.execute(select(records).where(records.c.case_no == "NOJS-1")).one()
    assert (row.level, row.reasons, row.channel) == (1, "[115]", 3)
