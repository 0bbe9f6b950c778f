"""The phone page's optional mobile number after a bad level: offered by the rule, checked with the message at the
field and the citizen's choices kept, stored encrypted in the rating's transaction, never in plain text."""

from __future__ import annotations

import shutil

from server_helpers import CONFIG_DIR, count, make_client
from sqlalchemy import select
from test_server_contact_ingest import everything_stored
from test_server_qrpage import nonce_of, token_for

from sync_server.configs import import_config
from sync_server.contact import ContactCipher
from sync_server.storage.schema import contacts, records

CONSENT = "您的手机号仅用于本次差评的核实和回访，加密保存，办结后按规定删除。"


def test_the_field_and_its_consent_are_offered(client, kiosk, configured, server_clock):
    html = client.get(f"/r/{token_for(kiosk, 'M-1', server_clock)}").text
    assert "留下手机号，便于核实和回访（可不填）" in html and CONSENT in html
    assert 'aria-describedby="mobile-consent"' in html and 'name="mobile"' in html


def test_a_good_number_is_stored_encrypted_with_the_rating(client, kiosk, configured, server_clock, store):
    token = token_for(kiosk, "M-2", server_clock)
    nonce = nonce_of(client.get(f"/r/{token}").text)
    data = {"level": "1", "reasons": ["115"], "mobile": "139 1234 5678", "nonce": nonce}
    done = client.post(f"/r/{token}", data=data)
    assert done.status_code == 200 and "感谢您的评价" in done.text and "139****5678" in done.text
    with store.read() as conn:
        row = conn.execute(select(contacts)).one()
    assert (row.case_no, row.record_id, row.rating_id, row.source) == ("M-2", "qr:M-2", "qr:M-2", "qr")
    assert ContactCipher(client.app.state.settings.contact_key).decrypt(row.ciphertext) == "13912345678"
    assert "13912345678" not in everything_stored(store)


def test_a_bad_number_shows_the_form_again_with_the_message_at_the_field(
    client, kiosk, configured, server_clock, store
):
    token = token_for(kiosk, "M-3", server_clock)
    nonce = nonce_of(client.get(f"/r/{token}").text)
    data = {"level": "1", "reasons": ["115"], "comment": "太慢", "mobile": "1391234", "nonce": nonce}
    again = client.post(f"/r/{token}", data=data)
    assert again.status_code == 400
    html = again.text
    assert 'id="mobile-error" role="alert"' in html and "11 位数字" in html and "可以不填" in html
    assert 'aria-describedby="mobile-error mobile-consent"' in html and 'aria-invalid="true"' in html
    assert 'value="1391234"' in html and 'value="115" checked' in html and "太慢" in html  # choices kept
    assert count(store, records) == 0 and count(store, contacts) == 0
    empty = client.post(f"/r/{token}", data={**data, "mobile": ""})  # left empty: the rating alone
    assert empty.status_code == 200 and count(store, contacts) == 0 and count(store, records) == 1


def test_a_good_level_keeps_no_number(client, kiosk, configured, server_clock, store):
    token = token_for(kiosk, "M-4", server_clock)
    nonce = nonce_of(client.get(f"/r/{token}").text)
    assert client.post(f"/r/{token}", data={"level": "5", "mobile": "13912345678", "nonce": nonce}).status_code == 200
    assert count(store, contacts) == 0


def test_no_field_without_a_key_or_when_the_rule_says_not_to_offer(store, server_clock, configured, kiosk, tmp_path):
    with make_client(store, server_clock, contact_key="") as bare:
        html = bare.get(f"/r/{token_for(kiosk, 'M-5', server_clock)}").text
    assert 'name="mobile"' not in html and "办件信息" in html
    rules = (CONFIG_DIR / "rules" / "default.toml").read_text(encoding="utf-8")
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    (config / "rules" / "default.toml").write_text(rules.replace("offer = true", "offer = false"), encoding="utf-8")
    import_config(store, config, "rules/default.toml", server_clock())
    with make_client(store, server_clock) as keyed:
        html = keyed.get(f"/r/{token_for(kiosk, 'M-6', server_clock)}").text
    assert 'name="mobile"' not in html
