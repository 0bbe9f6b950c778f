"""Ingest planning (pure) and applying: concurrent pushes of one batch store each record exactly once."""

from __future__ import annotations

import threading

from server_helpers import Kiosk, count
from sqlalchemy import select

from haochaping.chain import GENESIS_HASH, RECORD_FIELDS, record_hash
from sync_server.db import integrity_flags, records
from sync_server.ingest import Stored, ingest, plan_batch


def chain(n: int, start: int = 1, prev: str = GENESIS_HASH, device: str = "dev-1") -> list[dict]:
    out = []
    for seq in range(start, start + n):
        rec = {k: None for k in RECORD_FIELDS}
        rec.update(
            id=f"r{seq}",
            seq=seq,
            kind="sign_in",
            device_id=device,
            reasons=[],
            detail={},
            occurred_at="2026-11-27T09:00:00.000+00:00",
            prev_hash=prev,
        )
        rec["hash"] = prev = record_hash(rec)
        out.append(rec)
    return out


def identity(rec):
    return rec["hash"], record_hash(rec)


def test_plan_stores_a_clean_chain_without_flags():
    plan = plan_batch(chain(3), Stored())
    assert plan.results == [("r1", "stored"), ("r2", "stored"), ("r3", "stored")]
    assert plan.flags == {} and plan.conflicts == []


def test_plan_continues_from_the_stored_predecessor():
    first, second = chain(2)
    plan = plan_batch([second], Stored(by_seq={1: (first["id"], first["hash"])}))
    assert plan.results == [("r2", "stored")] and plan.flags == {}


def test_plan_acknowledges_duplicates_and_keeps_conflicts():
    rec = chain(1)[0]
    altered = dict(rec, kind="sign_out")
    plan = plan_batch([rec, altered], Stored(hash_by_id={"r1": identity(rec)}))
    assert plan.results == [("r1", "duplicate"), ("r1", "conflict")]
    assert plan.conflicts == [altered] and plan.to_store == []


def test_plan_flags_gap_broken_link_and_reused_sequence():
    records_ = chain(4)
    wrong_link = dict(records_[3], id="r4b", prev_hash="a" * 64)
    wrong_link["hash"] = record_hash(wrong_link)
    plan = plan_batch([records_[0], records_[2], wrong_link], Stored())
    assert [k for k, _ in plan.flags["r3"]] == ["gap"]
    assert [k for k, _ in plan.flags["r4b"]] == ["broken_link"]
    reuse = dict(records_[0], id="other")
    reuse["hash"] = record_hash(reuse)
    plan = plan_batch([reuse], Stored(by_seq={1: ("r1", records_[0]["hash"])}))
    assert [k for k, _ in plan.flags["other"]] == ["seq_reused"]


def test_concurrent_pushes_of_the_same_batch_store_each_record_once(client, server_clock, store):
    kiosk = Kiosk(client, server_clock)
    batch = [kiosk.record(case_no=f"C{i}") for i in range(200)]
    results: list[list[tuple[str, str]]] = []
    start = threading.Barrier(4)

    def push():
        start.wait()
        results.append(ingest(store, kiosk.device_id, batch, server_clock()))

    threads = [threading.Thread(target=push) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(store, records) == 200
    stored = [sum(1 for _, s in r if s == "stored") for r in results]
    assert sum(stored) == 200, stored
    assert all(s in ("stored", "duplicate") for r in results for _, s in r)
    with store.read() as conn:
        assert conn.execute(select(integrity_flags)).all() == []
