"""The QR phone page in-process: what a citizen sees, what is stored, and the clear pages for bad links."""

from __future__ import annotations

import re
from datetime import timedelta

from server_helpers import count
from sqlalchemy import select

from haochaping.qrtoken import make_token
from sync_server.storage.schema import ratings, records


def token_for(kiosk, case_no: str, clock) -> str:
    return make_token(kiosk.device_id, case_no, clock(), kiosk.secret)


def nonce_of(page: str) -> str:
    return re.search(r'name="nonce" value="([^"]+)"', page).group(1)


def test_page_shows_case_matter_window_and_clerk_from_the_prompt(client, kiosk, configured, server_clock):
    kiosk.push([kiosk.record("prompt", case_no="GX-1", matter_code="11450102MB1234567X4000111", clerk_no="1001")])
    page = client.get(f"/r/{token_for(kiosk, 'GX-1', server_clock)}")
    assert page.status_code == 200
    html = page.text
    for text in (
        "GX-1",
        "个体工商户设立登记",
        "李晓梅",
        "A01",
        "非常满意",
        "不满意",
        "窗口人员业务不熟练",
        'maxlength="150"',
    ):
        assert text in html, text
    assert 'name="viewport"' in html and "http" not in html.split("<body>")[1]  # no external assets
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_unknown_case_shows_what_the_token_gives(client, kiosk, configured, server_clock):
    page = client.get(f"/r/{token_for(kiosk, 'NEW-9', server_clock)}")
    assert page.status_code == 200
    assert "NEW-9" in page.text and "A01" in page.text and "以窗口办理的事项为准" in page.text


def test_submitting_stores_a_channel_3_rating_and_thanks(client, kiosk, configured, server_clock, store):
    token = token_for(kiosk, "GX-2", server_clock)
    nonce = nonce_of(client.get(f"/r/{token}").text)
    done = client.post(
        f"/r/{token}", data={"level": "2", "reasons": ["213", "214"], "comment": "等太久", "nonce": nonce}
    )
    assert done.status_code == 200 and "感谢您的评价" in done.text and "不满意" in done.text
    with store.read() as conn:
        row = conn.execute(select(records).where(records.c.case_no == "GX-2")).one()
        role = conn.execute(select(ratings.c.role)).scalar_one()
    assert (row.channel, row.level, row.reasons, row.comment, row.seq, row.source) == (
        3,
        2,
        "[213, 214]",
        "等太久",
        None,
        "qr",
    )
    assert role == "counting"
    again = client.get(f"/r/{token}")
    assert again.status_code == 409 and "已评价" in again.text


def test_bad_rating_without_reason_and_overlong_comment_are_refused_with_the_form(
    client, kiosk, configured, server_clock, store
):
    token = token_for(kiosk, "GX-3", server_clock)
    nonce = nonce_of(client.get(f"/r/{token}").text)
    no_reason = client.post(f"/r/{token}", data={"level": "1", "nonce": nonce})
    assert no_reason.status_code == 400 and "至少选择一项原因" in no_reason.text
    too_long = client.post(f"/r/{token}", data={"level": "5", "comment": "长" * 151, "nonce": nonce})
    assert too_long.status_code == 400 and "最多 150 字" in too_long.text
    wrong_level = client.post(f"/r/{token}", data={"level": "5", "reasons": ["213"], "nonce": nonce})
    assert wrong_level.status_code == 400 and "不符" in wrong_level.text
    assert count(store, records) == 0


def test_a_form_cannot_be_submitted_twice(client, kiosk, configured, server_clock, store):
    token = token_for(kiosk, "GX-4", server_clock)
    nonce = nonce_of(client.get(f"/r/{token}").text)
    assert client.post(f"/r/{token}", data={"level": "5", "nonce": nonce}).status_code == 200
    second = client.post(f"/r/{token}", data={"level": "1", "reasons": ["115"], "nonce": nonce})
    assert second.status_code == 409
    forged_nonce = client.post(f"/r/{token_for(kiosk, 'GX-5', server_clock)}", data={"level": "5", "nonce": "x"})
    assert forged_nonce.status_code == 409 and "页面已失效" in forged_nonce.text
    assert count(store, records) == 1


def test_expired_tampered_and_malformed_tokens_get_clear_pages(client, kiosk, configured, server_clock):
    old = make_token(kiosk.device_id, "GX-6", server_clock() - timedelta(days=8), kiosk.secret)
    expired = client.get(f"/r/{old}")
    assert expired.status_code == 410 and "已过期" in expired.text
    token = token_for(kiosk, "GX-6", server_clock)
    tampered = client.get(f"/r/{token[:-2]}{'AA' if not token.endswith('AA') else 'BB'}")
    assert tampered.status_code == 403 and "二维码无效" in tampered.text
    malformed = client.get("/r/not-a-token")
    assert malformed.status_code == 400 and "链接不完整" in malformed.text
    for page in (expired, tampered, malformed):
        assert "Traceback" not in page.text and page.headers["content-type"].startswith("text/html")


def test_a_revoked_terminal_s_codes_count_only_if_made_before_revocation(
    client, kiosk, configured, server_clock, store
):
    from sync_server.devices import revoke

    before = token_for(kiosk, "REV-1", server_clock)
    server_clock.advance(60)
    revoke(store, kiosk.device_id, server_clock())
    server_clock.advance(60)
    after = token_for(kiosk, "REV-2", server_clock)
    assert client.get(f"/r/{before}").status_code == 200
    refused = client.get(f"/r/{after}")
    assert refused.status_code == 403 and "二维码无效" in refused.text
