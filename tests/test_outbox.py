"""The outbox on a real SQLite file: durable settings, immutable records, a full disk, sync bookkeeping,
and a tampered chain."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from testkit import ADMIN_PIN_HASH

from haochaping.chain import record_hash
from kiosk.errors import OutboxFull, RecordImmutable
from kiosk.flow import Flow, Screen, SignIn, Submit, TapLevel, ToggleReason, Trigger
from kiosk.outbox import Outbox

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def add_ratings(outbox: Outbox, n: int, start: int = 0, **extra) -> list[dict]:
    return [
        outbox.append(
            "rating",
            T0 + timedelta(minutes=start + i),
            window="A01",
            clerk_no="1001",
            case_no=f"C{start + i}",
            level=(start + i) % 5 + 1,
            reasons=[115] if (start + i) % 5 == 0 else [],
            channel=4,
            **extra,
        )
        for i in range(n)
    ]


def raw(path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# ---------------------------------------------------------------- durable settings


def test_wal_and_synchronous_full(outbox):
    assert outbox.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert outbox.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    add_ratings(outbox, 1)
    with raw(outbox.path) as other:  # WAL is a property of the file, not only of this connection
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert outbox.path.with_name("outbox.db-wal").exists()


def test_append_returns_only_after_commit(outbox):
    (record,) = add_ratings(outbox, 1)
    assert not outbox.db.conn.in_transaction
    other = raw(outbox.path)  # another process would see it now
    try:
        row = other.execute("SELECT level, hash FROM outbox WHERE id = ?", [record["id"]]).fetchone()
    finally:
        other.close()
    assert row == (record["level"], record["hash"])


def test_records_survive_reopening(tmp_path):
    box = Outbox(tmp_path / "outbox.db", "dev-test")
    first = add_ratings(box, 3)
    box.close()
    box = Outbox(tmp_path / "outbox.db", "dev-test")
    more = add_ratings(box, 2, start=3)
    assert [r["id"] for r in box.records()] == [r["id"] for r in first + more]
    assert [r["seq"] for r in more] == [4, 5] and more[0]["prev_hash"] == first[-1]["hash"]
    assert box.verify_chain() is None
    box.close()


@pytest.mark.parametrize(
    "kind, fields",
    [("vote", {}), ("rating", {"score": 5}), ("rating", {"level": 5, "password": "x"})],
)
def test_unknown_kinds_and_fields_are_refused(outbox, kind, fields):
    with pytest.raises(ValueError):
        outbox.append(kind, T0, **fields)
    assert list(outbox.records()) == []


# ---------------------------------------------------------------- immutability


TAMPERING_SQL = [
    "UPDATE outbox SET level = 5 WHERE seq = 1",
    "UPDATE outbox SET reasons = '[]'",
    "UPDATE OR REPLACE outbox SET level = 5 WHERE seq = 1",
    "DELETE FROM outbox WHERE seq = 1",
    "DELETE FROM outbox",
    "INSERT OR REPLACE INTO outbox (id, seq, kind, device_id, occurred_at, prev_hash, hash, level) "
    "SELECT id, seq, kind, device_id, occurred_at, prev_hash, hash, 5 FROM outbox WHERE seq = 1",
    "REPLACE INTO outbox (id, seq, kind, device_id, occurred_at, prev_hash, hash, level) "
    "SELECT 'other-id', seq, kind, device_id, occurred_at, prev_hash, hash, 5 FROM outbox WHERE seq = 1",
]


@pytest.mark.parametrize("sql", TAMPERING_SQL)
def test_stored_record_cannot_be_edited_or_deleted_by_raw_sql(outbox, sql):
    before = add_ratings(outbox, 2)
    conn = raw(outbox.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="评价记录不可"):
            conn.execute(sql)
    finally:
        conn.close()
    assert list(outbox.records()) == before
    assert outbox.verify_chain() is None


@pytest.mark.parametrize("sql", TAMPERING_SQL[:5])
def test_stored_record_cannot_be_edited_through_the_outbox_connection(outbox, sql):
    before = add_ratings(outbox, 2)
    with pytest.raises(RecordImmutable, match="评价记录不可"):
        with outbox._write():  # the outbox's own transaction path translates the refusal
            outbox.db.execute(sql)
    assert list(outbox.records()) == before
    assert not outbox.db.conn.in_transaction
    add_ratings(outbox, 1, start=2)  # and it still writes
    assert outbox.verify_chain() is None


def test_sqlite_utils_table_api_cannot_edit_either(outbox):
    (record,) = add_ratings(outbox, 1)
    with pytest.raises(sqlite3.IntegrityError):
        outbox.db["outbox"].update(record["seq"], {"level": 5})
    outbox.db.conn.rollback()
    assert next(outbox.records())["level"] == record["level"]


# ---------------------------------------------------------------- a full disk


def fill_disk(outbox: Outbox) -> int:
    """Limit the file to just above its current size; return how many more records still fit."""
    pages = outbox.db.execute("PRAGMA page_count").fetchone()[0]
    outbox.db.execute(f"PRAGMA max_page_count = {pages + 1}")
    stored = 0
    with pytest.raises(OutboxFull) as full:
        for i in range(10_000):
            add_ratings(outbox, 1, start=1000 + i, comment="满" * 100)
            stored += 1
    assert "存储空间已满" in str(full.value) and "已保存的记录完好" in str(full.value)
    return stored


def test_full_disk_refuses_clearly_and_loses_nothing(outbox):
    before = add_ratings(outbox, 5)
    fitted = fill_disk(outbox)
    after = list(outbox.records())
    assert after[:5] == before and len(after) == 5 + fitted
    assert outbox.verify_chain() is None
    assert not outbox.db.conn.in_transaction
    with pytest.raises(OutboxFull):  # still full: refused again, nothing half-written
        add_ratings(outbox, 1, start=9000)
    assert list(outbox.records()) == after

    outbox.db.execute("PRAGMA max_page_count = 1073741823")  # space is back
    (later,) = add_ratings(outbox, 1, start=9001)
    assert later["seq"] == len(after) + 1 and later["prev_hash"] == after[-1]["hash"]
    assert outbox.verify_chain() is None


def test_full_disk_no_thanks_without_a_stored_rating(hall_config, outbox, clock):
    flow = Flow(hall_config, "A01", outbox, clock, lambda c, n: "http://qr.test/", ADMIN_PIN_HASH)
    flow.handle(SignIn("1001", "1111"))
    flow.handle(Trigger("C-FULL"))
    flow.handle(TapLevel(1))
    flow.handle(ToggleReason(115))
    fill_disk(outbox)
    with pytest.raises(OutboxFull):
        flow.handle(Submit())
    assert flow.screen is Screen.REASONS  # the citizen is not thanked for a rating that was not kept
    assert all(r["case_no"] != "C-FULL" for r in outbox.records(kind="rating"))
    outbox.db.execute("PRAGMA max_page_count = 1073741823")
    flow.handle(Submit())
    assert flow.screen is Screen.CONTACT  # stored: only now may the citizen leave a number
    (rating,) = [r for r in outbox.records(kind="rating") if r["case_no"] == "C-FULL"]
    assert (rating["level"], rating["reasons"]) == (1, [115])


def test_full_disk_while_acknowledging_or_keeping_state(outbox):
    add_ratings(outbox, 60)
    fill_disk(outbox)
    records = list(outbox.records())
    with pytest.raises(OutboxFull):
        for i in range(1000):  # small writes may still fit for a while
            outbox.set_state(f"note_{i}", "同步中" * 50)
    depth = outbox.depth()
    with pytest.raises(OutboxFull):
        outbox.mark_acknowledged([r["id"] for r in records], "stored", T0)
    assert outbox.depth() == depth == len(records)  # all or nothing
    outbox.db.execute("PRAGMA max_page_count = 1073741823")
    outbox.mark_acknowledged([r["id"] for r in records], "stored", T0)
    assert outbox.depth() == 0


# ---------------------------------------------------------------- sync bookkeeping


def test_pending_and_acknowledgements(outbox):
    records = add_ratings(outbox, 5)
    ids = [r["id"] for r in records]
    assert outbox.depth() == 5
    assert [r["id"] for r in outbox.pending(limit=3)] == ids[:3]

    outbox.mark_acknowledged(ids[:3], "stored", T0)
    assert outbox.depth() == 2
    assert [r["id"] for r in outbox.pending()] == ids[3:]

    outbox.mark_acknowledged(ids[:3], "duplicate", T0 + timedelta(minutes=1))  # acknowledged again
    assert outbox.depth() == 2
    acks = outbox.db.execute("SELECT record_id, result FROM acks ORDER BY rowid").fetchall()
    assert acks == [(i, "stored") for i in ids[:3]]

    outbox.mark_acknowledged(ids[3:], "stored", T0)
    assert outbox.depth() == 0 and outbox.pending() == []
    assert [r["id"] for r in outbox.records()] == ids  # acknowledged records are kept, never deleted
    assert outbox.verify_chain() is None


def test_terminal_state_keys_persist(tmp_path):
    box = Outbox(tmp_path / "outbox.db", "dev-test")
    assert box.state("last_sync_at") is None and box.state("sync_status", "未同步") == "未同步"
    box.set_state("last_sync_at", "2026-11-27T09:00:00.000+00:00")
    box.set_state("clock_offset_s", -1.25)
    box.set_state("sync_status", "已同步")
    box.set_state("sync_status", "服务器无法连接，稍后重试")
    box.set_state("config_version", "abc123def456")
    box.close()
    box = Outbox(tmp_path / "outbox.db", "dev-test")
    assert box.state("last_sync_at") == "2026-11-27T09:00:00.000+00:00"
    assert box.state("clock_offset_s") == -1.25
    assert box.state("sync_status") == "服务器无法连接，稍后重试"
    assert box.state("config_version") == "abc123def456"
    box.close()


def test_case_status_and_last_prompt(outbox):
    assert outbox.case_status("C1") is None and outbox.last_prompt_at() is None
    outbox.append("prompt", T0, case_no="C1")
    assert outbox.case_status("C1") == "prompted" and outbox.last_prompt_at() == T0
    outbox.append("rating", T0 + timedelta(seconds=9), case_no="C1", level=4)
    assert outbox.case_status("C1") == "rated"
    outbox.append("prompt_refused", T0 + timedelta(seconds=10), case_no="C2")
    assert outbox.case_status("C2") is None and outbox.last_prompt_at() == T0


# ---------------------------------------------------------------- tampering is detected


def copy_without_guards(outbox: Outbox, tmp_path) -> sqlite3.Connection:
    """A copy of the file with the immutability triggers dropped, as someone with the disk could."""
    copy = tmp_path / "tampered.db"
    target = sqlite3.connect(copy)
    outbox.db.conn.backup(target)
    target.close()
    conn = raw(copy)
    for name in ("outbox_no_update", "outbox_no_delete", "outbox_no_replace"):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    return conn


def rehash_row(conn: sqlite3.Connection, seq: int) -> None:
    """Recompute a row's own hash after editing it (the next record's prev_hash still tells)."""
    other = Outbox(conn.execute("PRAGMA database_list").fetchone()[2], "dev-test")
    record = next(r for r in other.records() if r["seq"] == seq)
    other.close()
    conn.execute("UPDATE outbox SET hash = ? WHERE seq = ?", [record_hash(record), seq])


@pytest.mark.parametrize(
    "tamper, breaks_at",
    [
        (lambda c: c.execute("UPDATE outbox SET level = 5 WHERE seq = 2"), 2),  # 删差评 → 好评
        (lambda c: c.execute("UPDATE outbox SET reasons = '[]' WHERE seq = 1"), 1),
        (lambda c: c.execute("UPDATE outbox SET occurred_at = '2026-11-28T09:00:00.000+00:00' WHERE seq = 3"), 3),
        (lambda c: c.execute("DELETE FROM outbox WHERE seq = 2"), 2),
        (lambda c: c.execute("UPDATE outbox SET seq = seq + 10 WHERE seq = 4"), 4),
        (lambda c: (c.execute("UPDATE outbox SET level = 5 WHERE seq = 1"), rehash_row(c, 1)), 2),
    ],
)
def test_tampering_in_a_copy_is_detected(outbox, tmp_path, tamper, breaks_at):
    add_ratings(outbox, 5)
    conn = copy_without_guards(outbox, tmp_path)
    tamper(conn)
    conn.close()
    tampered = Outbox(tmp_path / "tampered.db", "dev-test")
    assert tampered.verify_chain() == breaks_at
    tampered.close()
    assert outbox.verify_chain() is None  # the original is untouched


def test_a_contact_is_a_record_of_its_own_chained_and_immutable_like_the_rating(outbox):
    rating = outbox.append("rating", T0, case_no="C1", level=1, reasons=[115])
    contact = outbox.append(
        "contact", T0 + timedelta(seconds=9), case_no="C1", detail={"mobile": "13800138000", "rating": rating["id"]}
    )
    assert (contact["kind"], contact["seq"], contact["prev_hash"]) == ("contact", 2, rating["hash"])
    assert contact["level"] is None and contact["reasons"] == []
    (stored,) = outbox.records(kind="contact")
    assert stored["detail"] == {"mobile": "13800138000", "rating": rating["id"]}
    assert outbox.case_history("C1").rated  # the contact neither rates a case nor ends a prompt
    assert outbox.verify_chain() is None
    with pytest.raises(RecordImmutable):
        with outbox._write():
            outbox.db.execute("UPDATE outbox SET detail = '{}' WHERE seq = 2")
