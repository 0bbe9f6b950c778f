"""Numbers are deleted ``rules.contact.keep_days`` after their 差评工单 finished (fake clock): by the daily command's
function and at server start, audited with the count; the 工单 then says 已按规定删除."""

from __future__ import annotations

import re
from datetime import timedelta

from server_helpers import Kiosk
from sqlalchemy import select, update
from test_server_contact_ingest import bad_rating_and_contact

from sync_server.storage.contacts import contact_line
from sync_server.storage.schema import audit_log, bad_cases, contacts, utc_iso
from sync_server.workflow.contacts import purge_numbers


def close_case(store, case_no: str, at) -> None:
    """The 差评工单 of ``case_no`` 办结 at ``at`` (the steps before are the workflow tests' business)."""
    with store.write() as conn:
        conn.execute(
            update(bad_cases).where(bad_cases.c.case_no == case_no).values(state="closed", closed_at=utc_iso(at))
        )


def kept(store) -> dict[str, str | None]:
    with store.read() as conn:
        return {r.case_no: r.deleted_at for r in conn.execute(select(contacts))}


def test_a_number_is_deleted_keep_days_after_its_case_closed(client, kiosk: Kiosk, configured, store, server_clock):
    start = server_clock()
    kiosk.push(bad_rating_and_contact(kiosk, case_no="P-1") + bad_rating_and_contact(kiosk, "13900001111", "P-2"))
    assert purge_numbers(store, start + timedelta(days=400)) == 0  # both 差评工单 still open: kept however long
    closed_at = start + timedelta(days=3)
    close_case(store, "P-1", closed_at)
    assert purge_numbers(store, closed_at + timedelta(days=180) - timedelta(seconds=1)) == 0  # keep_days = 180
    assert kept(store) == {"P-1": None, "P-2": None}
    assert purge_numbers(store, closed_at + timedelta(days=180)) == 1
    with store.read() as conn:
        row = conn.execute(select(contacts).where(contacts.c.case_no == "P-1")).one()
        entries = conn.execute(select(audit_log).where(audit_log.c.action == "contact.purge")).all()
        assert contact_line(conn, "P-1") == "已按规定删除" and contact_line(conn, "P-2") == "139****1111"
    assert row.ciphertext is None and row.masked == "" and row.deleted_at == utc_iso(closed_at + timedelta(days=180))
    assert len(entries) == 1 and '"count": 1' in entries[0].detail and '"keep_days": 180' in entries[0].detail
    assert purge_numbers(store, closed_at + timedelta(days=400)) == 0  # once only; the open case keeps its number
    assert kept(store)["P-2"] is None


def test_the_case_page_says_deleted(client, kiosk: Kiosk, configured, store, server_clock):
    from sync_server.console.accounts import add_user

    kiosk.push(bad_rating_and_contact(kiosk, case_no="P-3"))
    close_case(store, "P-3", server_clock())
    purge_numbers(store, server_clock() + timedelta(days=181))
    add_user(store, "admin", "admin", "admin-pass-1", server_clock(), "test")
    with store.read() as conn:
        case_id = conn.execute(select(bad_cases.c.id).where(bad_cases.c.case_no == "P-3")).scalar_one()
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/console/login", data={"username": "admin", "password": "admin-pass-1", "csrf_token": token})
    html = client.get(f"/console/cases/{case_id}").text
    assert "已按规定删除" in html and "查看完整号码" not in html and "138****5678" not in html


def test_the_commands_make_a_key_and_purge(tmp_path):
    import subprocess
    import sys

    from server_helpers import ROOT

    from sync_server.contact import ContactCipher

    def hcp(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "haochaping.cli", "server", *args], cwd=ROOT, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode().strip()

    key = hcp("contact-key")
    assert ContactCipher(key).decrypt(ContactCipher(key).encrypt("13812345678")) == "13812345678"
    assert key != hcp("contact-key")  # a new one each time
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert hcp("contacts", "purge", "--db", db, "--now", "2026-11-29T00:00:00+00:00") == "没有到期需删除的手机号"
