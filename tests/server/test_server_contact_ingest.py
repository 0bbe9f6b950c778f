"""A terminal's ``contact`` record (the mobile number a citizen left after a 差评) through the one ingest path:
encrypted into ``contacts`` with the settings file's key, the stored record keeping only the masked number; a bad
number or a missing key refuses that record's number in the batch's answer and affects nothing else."""

from __future__ import annotations

from pathlib import Path

from server_helpers import CONFIG_DIR, Kiosk, count, make_client
from sqlalchemy import select, text

from sync_server.contact import ContactCipher
from sync_server.storage.schema import METADATA, contacts, integrity_flags, records

NUMBER = "13812345678"
SALT = "5f0c1e2d3a4b5c6d7e8f901a2b3c4d5e"


def bad_rating_and_contact(kiosk: Kiosk, mobile: str = NUMBER, case_no: str = "C-100") -> list[dict]:
    rating = kiosk.record(case_no=case_no, level=1, reasons=[108])
    detail = {"mobile": mobile, "rating": rating["id"], "salt": SALT}  # as the kiosk sends it
    contact = kiosk.record("contact", case_no=case_no, detail=detail)
    return [rating, contact]


def everything_stored(store) -> str:
    """Every value of every table, as text: where a number left in plain text would show."""
    with store.read() as conn:
        return "\n".join(repr(row) for name in METADATA.tables for row in conn.execute(text(f'SELECT * FROM "{name}"')))


def test_a_number_is_stored_encrypted_and_the_record_keeps_only_the_masked_form(client, kiosk, configured, store):
    sent = bad_rating_and_contact(kiosk)
    body = kiosk.push(sent).json()
    assert [r["status"] for r in body["results"]] == ["stored", "stored"]
    assert all("error" not in r for r in body["results"])
    with store.read() as conn:
        row = conn.execute(select(contacts)).one()
        stored = conn.execute(select(records.c.detail).where(records.c.id == sent[1]["id"])).scalar_one()
        flags = conn.execute(select(integrity_flags.c.kind)).scalars().all()
    assert (row.case_no, row.rating_id, row.masked, row.source) == ("C-100", sent[0]["id"], "138****5678", "device")
    assert ContactCipher(client.app.state.settings.contact_key).decrypt(row.ciphertext) == NUMBER
    assert '"mobile": "138****5678"' in stored
    assert flags == []  # the chain holds: the stored record is checked by the hash of what was received
    assert NUMBER not in everything_stored(store)
    assert SALT not in everything_stored(store)  # without it the chain's hash of the record cannot be brute-forced
    again = kiosk.push(sent).json()  # resent after a lost answer: a duplicate, not a conflict
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
    assert count(store, contacts) == 1


def test_the_database_file_never_holds_the_number(tmp_path, sqlite_store, server_clock):
    from sync_server.configs import import_config

    import_config(sqlite_store, CONFIG_DIR, "rules/default.toml", server_clock())
    with make_client(sqlite_store, server_clock) as client:
        kiosk = Kiosk(client, server_clock)
        assert kiosk.push(bad_rating_and_contact(kiosk)).status_code == 200
    assert count(sqlite_store, contacts) == 1
    path = Path(str(sqlite_store.engine.url.database))
    for part in [path, *path.parent.glob(path.name + "-*")]:  # the file and its WAL
        data = part.read_bytes()
        assert NUMBER.encode() not in data, part


def test_a_bad_number_is_refused_for_that_record_only(client, kiosk, configured, store):
    rating, contact = bad_rating_and_contact(kiosk, mobile="1381234567")
    after = kiosk.record("sign_out")
    body = kiosk.push([rating, contact, after]).json()
    assert [r["status"] for r in body["results"]] == ["stored", "refused", "stored"]
    assert "手机号" in body["results"][1]["error"] and "11 位数字" in body["results"][1]["error"]
    assert count(store, contacts) == 0
    assert count(store, records) == 3  # kept in the chain: no gap before the next record
    with store.read() as conn:
        assert conn.execute(select(integrity_flags.c.kind)).scalars().all() == []
        kept = conn.execute(select(records.c.detail).where(records.c.id == contact["id"])).scalar_one()
    assert "1381234567" not in kept and '"mobile": null' in kept
    assert kiosk.push([contact]).json()["results"][0]["status"] == "duplicate"  # an old terminal resending it


def test_without_a_key_the_rating_is_stored_and_the_number_refused(store, server_clock, configured, caplog):
    with make_client(store, server_clock, contact_key="") as client:
        kiosk = Kiosk(client, server_clock)
        rating, contact = bad_rating_and_contact(kiosk)
        body = kiosk.push([rating, contact]).json()
    assert [r["status"] for r in body["results"]] == ["stored", "refused"]
    assert "contact_key" in body["results"][1]["error"] and "hcp server contact-key" in body["results"][1]["error"]
    assert count(store, contacts) == 0
    with store.read() as conn:
        assert conn.execute(select(records.c.level).where(records.c.id == rating["id"])).scalar_one() == 1
    assert NUMBER not in everything_stored(store)
    assert any("contact_key" in r.getMessage() for r in caplog.records)


def test_a_conflicting_copy_is_kept_masked(client, kiosk, configured, store):
    rating, contact = bad_rating_and_contact(kiosk)
    kiosk.push([rating, contact])
    other = dict(contact, detail={"mobile": "13987654321", "rating": rating["id"]})
    assert kiosk.push([other]).json()["results"][0]["status"] == "conflict"
    assert "13987654321" not in everything_stored(store)


def test_the_upload_to_the_province_names_the_rater_masked(client, kiosk, configured, store, server_clock):
    from datetime import timedelta

    from sync_server.storage.schema import utc_iso
    from sync_server.upstream.sender import should_send

    kiosk.push(bad_rating_and_contact(kiosk) + [kiosk.record(case_no="C-101", level=5)])
    start, end = server_clock() - timedelta(days=1), server_clock() + timedelta(days=1)
    with store.read() as conn:
        items = [item for item, _, _ in should_send(conn, utc_iso(start), utc_iso(end), "450102")]
    raters = {i["case_no"]: i["rater"] for i in items if i["kind"] == "rating"}
    assert raters == {"C-100": "138****5678", "C-101": "匿名"}
    assert NUMBER not in repr(items)
