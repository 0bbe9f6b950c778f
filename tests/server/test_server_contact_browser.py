"""The phone page's mobile number field in headless Chromium at 360 px, against a real server process whose settings
file carries a contact key: shown after a bad level, a bad number's message at the field, a good number accepted,
and axe-core WCAG 2.1 AA with no violations on the page with the message."""

from __future__ import annotations

import pytest
from server_helpers import CONFIG_DIR, ROOT, TEST_CONTACT_KEY, real_clock
from sqlalchemy import select

from bench.kit import ServerProcess
from haochaping.qrtoken import make_token
from sync_server.configs import import_config
from sync_server.db import Store, migrate
from sync_server.devices import add_enrolment_code, enrol
from sync_server.storage.schema import contacts

SHOTS = ROOT / "screenshots"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("contact-phone")
    url = f"sqlite:///{tmp_path / 'server.db'}"
    store = Store.from_url(url)
    migrate(store)
    import_config(store, CONFIG_DIR, "rules/default.toml", real_clock())
    code, _ = add_enrolment_code(store, "A01", real_clock())
    device = enrol(store, code, real_clock())
    settings = tmp_path / "server.toml"
    settings.write_text(f'[server]\ncontact_key = "{TEST_CONTACT_KEY}"\n', encoding="utf-8")
    server = ServerProcess(url, tmp_path / "server.log", "--settings", str(settings)).start()
    try:
        yield server.url, store, device
    finally:
        server.stop()
        store.dispose()


@pytest.fixture
def phone(chromium):
    context = chromium.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, locale="zh-CN", bypass_csp=True
    )
    yield context.new_page()
    context.close()


@pytest.mark.slow
def test_a_citizen_leaves_a_number_after_a_bad_rating(keyed_server, phone):
    from axe_playwright_python.sync_playwright import Axe

    base, store, device = keyed_server
    phone.goto(f"{base}/r/{make_token(device.id, 'MOB-1', real_clock(), device.secret)}")
    field = phone.get_by_label("留下手机号，便于核实和回访（可不填）")
    assert not field.is_visible()  # only after a bad level
    phone.get_by_role("radio", name="非常满意", exact=True).check()
    assert not field.is_visible()
    phone.get_by_role("radio", name="非常不满意", exact=True).check()
    assert field.is_visible()
    assert phone.get_by_text("您的手机号仅用于本次差评的核实和回访").is_visible()
    phone.get_by_text("服务态度差效率低").click()
    field.fill("1391234")
    phone.get_by_role("button", name="提交评价").click()
    error = phone.locator("#mobile-error")
    error.wait_for()
    assert "11 位数字" in error.inner_text()
    assert field.get_attribute("aria-describedby") == "mobile-error mobile-consent"
    assert field.input_value() == "1391234" and phone.get_by_label("服务态度差效率低").is_checked()  # choices kept
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    SHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(SHOTS / "qr-page-contact-error.png"), full_page=True)
    results = Axe().run(phone, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, results.generate_report()
    field.fill("139 1234 5678")
    phone.get_by_role("button", name="提交评价").click()
    phone.wait_for_selector("text=感谢您的评价")
    assert phone.get_by_text("139****5678", exact=False).is_visible()
    phone.screenshot(path=str(SHOTS / "qr-page-contact-thanks.png"), full_page=True)
    with store.read() as conn:
        row = conn.execute(select(contacts).where(contacts.c.case_no == "MOB-1")).one()
    assert row.masked == "139****5678" and "13912345678" not in row.ciphertext


@pytest.mark.slow
def test_the_form_with_the_field_passes_axe(keyed_server, phone):
    from axe_playwright_python.sync_playwright import Axe

    base, _store, device = keyed_server
    phone.goto(f"{base}/r/{make_token(device.id, 'MOB-2', real_clock(), device.secret)}")
    phone.get_by_role("radio", name="不满意", exact=True).check()
    phone.screenshot(path=str(SHOTS / "qr-page-contact.png"), full_page=True)
    results = Axe().run(phone, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, results.generate_report()
