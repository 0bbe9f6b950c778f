"""An outbox file written by the first release (schema version 1, committed as a fixture) is
upgraded in place by opening it, and nothing in it changes."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from haochaping.chain import RECORD_FIELDS
from kiosk.errors import RecordImmutable
from kiosk.migrations import MIGRATIONS
from kiosk.outbox import Outbox

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "outbox-v1.db"
DEVICE = "local-0a1b2c3d4e5f"


def raw_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT {', '.join(RECORD_FIELDS)} FROM outbox ORDER BY seq").fetchall()


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


@pytest.fixture
def old_file(tmp_path) -> Path:
    path = tmp_path / "outbox.db"
    shutil.copyfile(FIXTURE, path)
    return path


def test_fixture_is_a_version_1_file_with_a_valid_chain():
    assert user_version(FIXTURE) == 1
    with sqlite3.connect(FIXTURE) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"outbox"}  # no acks, no kiosk_state yet
    assert len(raw_rows(FIXTURE)) == 10


def test_opening_an_old_file_migrates_it_and_keeps_every_record(old_file):
    before = raw_rows(old_file)
    box = Outbox(old_file, device_id=DEVICE)
    try:
        assert box.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert raw_rows(old_file) == before
        records = list(box.records())
        assert [(r["seq"], r["kind"]) for r in records][:3] == [(1, "sign_in"), (2, "prompt"), (3, "rating")]
        (good, bad) = box.records(kind="rating")
        assert (good["case_no"], good["level"], good["reasons"]) == ("2026030200001", 5, [510, 517])
        assert (bad["case_no"], bad["level"], bad["reasons"]) == ("2026030200003", 2, [213, 214])
        assert box.verify_chain() is None
        # The old records were never sent: all of them wait for the server.
        assert box.depth() == 10 and [r["seq"] for r in box.pending(limit=100)] == list(range(1, 11))
        assert box.case_status("2026030200001") == "rated" and box.case_status("2026030200002") == "prompted"
    finally:
        box.close()


def test_new_records_chain_on_after_the_old_ones(old_file):
    last_old = raw_rows(old_file)[-1]
    box = Outbox(old_file, device_id=DEVICE)
    try:
        new = box.append("sign_in", datetime(2026, 11, 27, 9, 0, tzinfo=UTC), window="A01", clerk_no="1001")
        assert new["seq"] == 11 and new["prev_hash"] == last_old[RECORD_FIELDS.index("hash")]
        box.mark_acknowledged(["v1-record-0001"], "stored", datetime(2026, 11, 27, 9, 1, tzinfo=UTC))
        box.set_state("config_version", "abc123def456")
        assert box.depth() == 10 and box.state("config_version") == "abc123def456"
        assert box.verify_chain() is None
    finally:
        box.close()


def test_migrated_records_are_immutable(old_file):
    box = Outbox(old_file, device_id=DEVICE)
    try:
        with pytest.raises(RecordImmutable):
            with box._write():
                box.db.execute("UPDATE outbox SET level = 5 WHERE case_no = '2026030200003'")
        with sqlite3.connect(old_file) as conn, pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT OR REPLACE INTO outbox SELECT * FROM outbox WHERE seq = 7")
        assert next(r for r in box.records(kind="rating") if r["seq"] == 7)["level"] == 2
    finally:
        box.close()


def test_migrating_twice_changes_nothing(old_file):
    Outbox(old_file, device_id=DEVICE).close()
    after_first = (raw_rows(old_file), user_version(old_file))
    Outbox(old_file, device_id=DEVICE).close()
    assert (raw_rows(old_file), user_version(old_file)) == after_first


def test_a_file_from_a_newer_release_is_refused_untouched(old_file):
    with sqlite3.connect(old_file) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    rows = raw_rows(old_file)
    with pytest.raises(Exception, match="比本程序支持的"):
        Outbox(old_file, device_id=DEVICE)
    assert user_version(old_file) == len(MIGRATIONS) + 1 and raw_rows(old_file) == rows


def test_fixture_matches_its_generator(tmp_path):
    """The committed file is what make_outbox_v1.py writes (so it can be regenerated honestly)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_outbox_v1", FIXTURE.parent / "make_outbox_v1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = tmp_path / "fresh.db"
    module.make(fresh)
    assert raw_rows(fresh) == raw_rows(FIXTURE)
    assert [json.loads(r[RECORD_FIELDS.index("reasons")]) for r in raw_rows(FIXTURE)][2] == [510, 517]


def test_a_database_from_a_newer_program_is_refused_with_a_clear_error(tmp_path):
    import sqlite3

    from kiosk.errors import OutboxError
    from kiosk.migrations import MIGRATIONS
    from kiosk.outbox import Outbox

    path = tmp_path / "newer.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(OutboxError, match="请升级评价器程序"):
        Outbox(path, device_id="dev-test")
