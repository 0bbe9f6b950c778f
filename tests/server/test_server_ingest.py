"""Ingest planning (pure) and applying: concurrent pushes of one batch store each record exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from server_helpers import Kiosk, count
from sqlalchemy import select

from haochaping.chain import GENESIS_HASH, RECORD_FIELDS, record_hash
from sync_server.ingest import Stored, ingest, plan_batch
from sync_server.storage.schema import integrity_flags, records


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


def timed_chain(times: list[str], prompted: dict[int, str] | None = None) -> list[dict]:
    """A clean chain whose records happened at ``times`` (rating ``seq`` prompted at ``prompted[seq]``)."""
    out, prev = [], GENESIS_HASH
    for seq, at in enumerate(times, start=1):
        rec = chain(1, start=seq, prev=prev)[0]
        rec.update(occurred_at=at, kind="rating" if prompted and seq in prompted else "sign_in")
        if prompted and seq in prompted:
            rec["prompted_at"] = prompted[seq]
        rec["hash"] = prev = record_hash(rec)
        out.append(rec)
    return out


def test_plan_flags_a_clock_set_back_a_rating_before_its_prompt_and_a_time_ahead_of_the_server():
    received = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    records_ = timed_chain(
        [
            "2026-11-27T09:00:00.000+00:00",
            "2026-11-27T09:00:40.000+00:00",  # 40 s later: normal
            "2026-11-27T09:00:10.000+00:00",  # 30 s back: a clock corrected by NTP, below the tolerance
            "2026-11-27T08:20:10.000+00:00",  # 40 min back: the clock was set back
            "2026-11-27T08:25:00.000+00:00",  # a rating 5 min before its own prompt
            "2026-11-27T11:30:00.000+00:00",  # two hours ahead of the server
        ],
        prompted={5: "2026-11-27T08:30:00.000+00:00"},
    )
    plan = plan_batch(records_, Stored(), received_at=received)
    assert {rid: [k for k, _ in flags] for rid, flags in plan.flags.items()} == {
        "r4": ["time_backwards"],
        "r5": ["time_backwards"],
        "r6": ["future_time"],
    }
    assert "40 分钟" in plan.flags["r4"][0][1] and "弹出" in plan.flags["r5"][0][1]
    assert "2 小时 0 分钟" in plan.flags["r6"][0][1]
    assert [s for _, s in plan.results] == ["stored"] * 6  # flagged for review, never refused


def test_a_record_set_back_against_one_stored_earlier_is_stored_and_flagged(client, server_clock, store):
    kiosk = Kiosk(client, server_clock)
    first = kiosk.record("sign_in")
    assert kiosk.push([first]).status_code == 200
    backdated = kiosk.record("rating", when=server_clock() - timedelta(hours=3), case_no="BACK-1")
    assert kiosk.push([backdated]).status_code == 200  # stored and acknowledged all the same
    with store.read() as conn:
        flags = conn.execute(select(integrity_flags.c.record_id, integrity_flags.c.kind)).all()
        row = conn.execute(select(records.c.flags).where(records.c.id == backdated["id"])).scalar_one()
    assert flags == [(backdated["id"], "time_backwards")] and row == "time_backwards"


def test_an_interrupted_prompt_and_its_second_prompt_are_one_case(client, server_clock, store):
    """未评价，已中断 is accepted as an outcome, and the second prompt after it counts as the same case's."""
    from sync_server.storage.schema import cases, ratings

    kiosk = Kiosk(client, server_clock)
    first = kiosk.record("prompt", case_no="CUT-1", clerk_no="1001", prompted_at=kiosk_iso(server_clock()))
    cut = kiosk.record("interrupted", case_no="CUT-1", clerk_no="1001", detail={"prompt_id": first["id"]})
    again = kiosk.record(
        "prompt", case_no="CUT-1", clerk_no="1001", detail={"source": "http", "after_interruption": True}
    )
    rating = kiosk.record("rating", case_no="CUT-1", clerk_no="1001", level=4)
    response = kiosk.push([first, cut, again, rating])
    assert [r["status"] for r in response.json()["results"]] == ["stored"] * 4
    with store.read() as conn:
        assert conn.execute(select(cases.c.case_no).where(cases.c.case_no == "CUT-1")).all() == [("CUT-1",)]
        assert conn.execute(select(ratings.c.role).where(ratings.c.case_no == "CUT-1")).all() == [("counting",)]
        assert conn.execute(select(integrity_flags)).all() == []


def kiosk_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
