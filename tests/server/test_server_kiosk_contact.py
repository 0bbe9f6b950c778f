"""The contact record as the kiosk makes it, end to end in one process: the real flow (a 差评, then the keypad), the
real outbox file, the real sync client and worker, and the real server app. The server keeps the number encrypted;
a server without a key refuses the number for that record alone, and the kiosk's outbox drains all the same."""

from __future__ import annotations

from server_helpers import CONFIG_DIR, make_client
from sqlalchemy import select
from testkit import ADMIN_PIN_HASH

from haochaping.config import load_hall_config
from kiosk.flow import (
    ContactConfirm,
    ContactKey,
    Flow,
    Screen,
    SignIn,
    StaffChoose,
    StaffHold,
    StaffPin,
    Submit,
    TapLevel,
    Tick,
    ToggleReason,
    Trigger,
)
from kiosk.identity import DeviceIdentity
from kiosk.outbox import Outbox
from kiosk.sync import SyncClient, SyncPolicy
from kiosk.syncworker import SyncWorker
from sync_server.contact import ContactCipher
from sync_server.storage.schema import contacts, records

NUMBER = "13912345678"


class InProcess:
    """``requests.Session.request`` over the app's TestClient (bytes go as ``content``)."""

    def __init__(self, client):
        self.client = client

    def request(self, method, url, data=None, headers=None, timeout=None):
        return self.client.request(method, url, content=data, headers=headers)


def kiosk_rates_badly_and_leaves_a_number(client, store, clock, tmp_path):
    from sync_server.configs import import_config
    from sync_server.devices import add_enrolment_code

    import_config(store, CONFIG_DIR, "rules/default.toml", clock())
    code, _ = add_enrolment_code(store, "A01", clock())
    body = client.post("/api/v1/enroll", json={"code": code}).json()
    identity = DeviceIdentity(body["device_id"], bytes.fromhex(body["secret"]), enrolled=True, window="A01")
    outbox = Outbox(tmp_path / "outbox.db", identity.device_id)
    config = load_hall_config(CONFIG_DIR)
    flow = Flow(config, "A01", outbox, clock, lambda c, n: f"http://qr.test/r/{c}", ADMIN_PIN_HASH)
    for event in (SignIn("1001", "1111"), Trigger("C-KIOSK-1"), TapLevel(1), ToggleReason(115), Submit()):
        flow.handle(event)
    assert flow.screen is Screen.CONTACT
    for digit in NUMBER:
        flow.handle(ContactKey(digit))
    flow.handle(ContactConfirm())
    assert flow.screen is Screen.THANKS
    clock.advance(config.rules.thanks_s)
    for event in (Tick(), StaffHold(), StaffPin("1111"), StaffChoose("sign_out")):
        flow.handle(event)  # a record after the contact: it must arrive whatever happened to the number
    sync = SyncClient("http://testserver", identity, InProcess(client), clock)
    worker = SyncWorker(sync, outbox, data_dir=tmp_path / "kiosk", window="A01", clock=clock, policy=SyncPolicy())
    for _ in range(5):
        if outbox.depth() == 0:
            break
        worker.push_once()
    return outbox


def acks_by_kind(outbox) -> dict[str, str]:
    rows = outbox.db.execute("SELECT o.kind, a.result FROM outbox o JOIN acks a ON a.record_id = o.id").fetchall()
    return dict(rows)


def test_the_number_typed_at_the_kiosk_reaches_the_server_encrypted(sqlite_store, server_clock, tmp_path):
    with make_client(sqlite_store, server_clock) as client:
        outbox = kiosk_rates_badly_and_leaves_a_number(client, sqlite_store, server_clock, tmp_path)
        key = client.app.state.settings.contact_key
    try:
        assert outbox.depth() == 0
        assert set(acks_by_kind(outbox).values()) == {"stored"}
        (rating,) = outbox.records(kind="rating")
    finally:
        outbox.close()
    with sqlite_store.read() as conn:
        row = conn.execute(select(contacts)).one()
        kinds = conn.execute(select(records.c.kind).order_by(records.c.seq)).scalars().all()
    assert (row.case_no, row.rating_id, row.masked) == ("C-KIOSK-1", rating["id"], "139****5678")
    assert ContactCipher(key).decrypt(row.ciphertext) == NUMBER
    assert kinds == ["sign_in", "prompt", "rating", "contact", "sign_out"]


def test_a_server_without_a_key_refuses_the_number_and_the_outbox_still_drains(sqlite_store, server_clock, tmp_path):
    with make_client(sqlite_store, server_clock, contact_key="") as client:
        outbox = kiosk_rates_badly_and_leaves_a_number(client, sqlite_store, server_clock, tmp_path)
    try:
        assert outbox.depth() == 0  # nothing is left waiting for a server that will never take it
        acked = acks_by_kind(outbox)
        assert acked["contact"] == "refused" and acked["sign_out"] == "stored" and acked["rating"] == "stored"
        assert outbox.state("sync_status") == "已同步"
    finally:
        outbox.close()
    with sqlite_store.read() as conn:
        assert conn.execute(select(contacts)).all() == []
