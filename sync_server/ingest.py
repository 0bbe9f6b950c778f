"""Record ingest, planned then applied.

``plan_batch`` is pure: from a batch and what is already stored it decides, per record, stored / duplicate /
conflict and which integrity flags to raise (a gap in the sequence, a broken hash link, a reused sequence
number, a record for another window, a time earlier than the record before it or than its own prompt, a time
ahead of the server's). ``apply_plan`` writes that plan in ONE transaction with insert-or-ignore, so two processes
pushing the same batch at once store each record exactly once; a record another process stored first becomes a
duplicate (or a conflict) here. Flags are stored, records are never dropped.

A ``contact`` record (the mobile number a citizen left after a bad rating) is stored without its number: the number
goes encrypted into ``contacts`` (``protect_contacts``, between planning and applying) and the record keeps only the
masked form. Its hash and content hash stay those of the record as received, so the chain checks and a resent copy
(a duplicate) still match. A bad number, or a number arriving while no key is configured, is refused in the batch's
answer for that record (status ``refused`` with the reason); the record itself is kept in the chain all the same.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection

from haochaping.chain import GENESIS_HASH, record_hash
from haochaping.signing import MAX_SKEW_S
from sync_server.configs import current_config
from sync_server.contact import ContactCipher, masked_record, protect_record
from sync_server.db import Store
from sync_server.ratings import settle_records
from sync_server.storage.contacts import add_contacts
from sync_server.storage.records import (
    add_conflicts,
    add_flags,
    device_sequence,
    identities,
    insert_batch,
    record_values,
)
from sync_server.storage.schema import utc_iso

log = logging.getLogger(__name__)
BACKWARDS_TOLERANCE_S = 60  # a terminal's clock corrected by a few seconds is not worth a reviewer's time
# the same as timedeltas, made once: a timedelta compares as its ``total_seconds()`` would, without the float
_BACKWARDS_TOLERANCE, _MAX_SKEW = timedelta(seconds=BACKWARDS_TOLERANCE_S), timedelta(seconds=MAX_SKEW_S)


@dataclass(frozen=True)
class Stored:
    """What the database already holds that matters for one batch."""

    hash_by_id: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (claimed hash, content hash)
    by_seq: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq -> (id, hash), this device's
    time_by_seq: dict[int, str] = field(default_factory=dict)  # seq -> occurred_at, this device's


@dataclass
class Plan:
    results: list[tuple[str, str]] = field(default_factory=list)  # (id, status) in batch order
    to_store: list[dict] = field(default_factory=list)  # records to insert
    flags: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # record id -> [(kind, detail)]
    conflicts: list[dict] = field(default_factory=list)  # records whose id is taken by other content
    content_hashes: dict[str, str] = field(default_factory=dict)  # record id -> hash of its content, as received
    window: str | None = None  # the window the device is enrolled at: where its records count
    contact_rows: dict[str, dict] = field(default_factory=dict)  # record id -> its ``contacts`` row (ciphertext)
    refused: dict[str, str] = field(default_factory=dict)  # record id -> why its number was not kept


def plan_batch(
    batch: Sequence[dict],
    stored: Stored,
    window: str | None = None,
    received_at: datetime | None = None,
    reasons: frozenset[int] | None = None,
) -> Plan:
    """Decide what to do with each record (pure). ``window`` is the one the device was enrolled for,
    ``received_at`` the server's time now, ``reasons`` the configured 测评内容 codes (None: not checked)."""
    plan = Plan(window=window)
    seen = dict(stored.hash_by_id)
    by_seq = dict(stored.by_seq)
    times = dict(stored.time_by_seq)
    for rec in batch:
        content_hash = record_hash(rec)  # once per record: it is the costly part of planning
        rid, identity = rec["id"], (rec["hash"], content_hash)
        if rid in seen:
            status = "duplicate" if seen[rid] == identity else "conflict"
            if status == "conflict":
                plan.conflicts.append(rec)
            plan.results.append((rid, status))
            continue
        flags = _chain_flags(rec, by_seq, content_hash) + _window_flags(rec, window)
        flags += _time_flags(rec, times.get(rec["seq"] - 1), received_at) + _review_flags(rec)
        flags += _reason_flags(rec, reasons)
        if flags:
            plan.flags[rid] = flags
        plan.to_store.append(rec)
        plan.content_hashes[rid] = content_hash
        plan.results.append((rid, "stored"))
        seen[rid] = identity
        by_seq.setdefault(rec["seq"], (rid, rec["hash"]))
        times.setdefault(rec["seq"], rec["occurred_at"])
    return plan


def _chain_flags(rec: dict, by_seq: dict[int, tuple[str, str]], content_hash: str) -> list[tuple[str, str]]:
    """Same record = same claimed hash AND same content, so a record altered but keeping its hash is caught."""
    flags = []
    seq = rec["seq"]
    if content_hash != rec["hash"]:
        flags.append(("broken_link", f"序号 {seq}：记录内容与其散列不符（可能被改动）"))
    if seq in by_seq and by_seq[seq][0] != rec["id"]:
        flags.append(("seq_reused", f"序号 {seq} 已被记录 {by_seq[seq][0]} 使用"))
    if seq == 1:
        expected = GENESIS_HASH
    elif seq - 1 in by_seq:
        expected = by_seq[seq - 1][1]
    else:
        flags.append(("gap", f"序号 {seq - 1} 未收到（在序号 {seq} 之前缺失记录）"))
        return flags
    if rec["prev_hash"] != expected:
        flags.append(("broken_link", f"序号 {seq}：与前一条记录的散列不衔接"))
    return flags


def _window_flags(rec: dict, window: str | None) -> list[tuple[str, str]]:
    if window is None or rec.get("window") in (None, window):
        return []
    return [("window_mismatch", f"序号 {rec['seq']}：设备登记在窗口 {window}，记录却属于窗口 {rec['window']}")]


def _time_flags(rec: dict, before: str | None, received_at: datetime | None) -> list[tuple[str, str]]:
    """A terminal's records follow each other in time: one earlier than the record before it, a rating earlier
    than its own prompt, or a time ahead of the server's means a clock set back or forward, or a made-up time.
    Flagged for review, never refused (a clock corrected after a sync does this too)."""
    seq, at = rec["seq"], _moment(rec.get("occurred_at"))
    if at is None:
        return []
    flags = []
    earlier = [
        (what, back)
        for what, back in (("前一条记录", _moment(before)), ("本次评价的弹出", _moment(rec.get("prompted_at"))))
        if back is not None and back - at > _BACKWARDS_TOLERANCE
    ]
    for what, back in earlier[:1]:
        detail = f"序号 {seq}：时间比{what}早 {_span(back - at)}（终端时钟被回拨，或记录时间不实）"
        flags.append(("time_backwards", detail))
    if received_at is not None and at - received_at > _MAX_SKEW:
        flags.append(("future_time", f"序号 {seq}：时间比服务器收到时晚 {_span(at - received_at)}（终端时钟超前）"))
    return flags


def _review_flags(rec: dict) -> list[tuple[str, str]]:
    """A bad level tapped and left without a reason, held on the timeout record by the province rule
    (``bad_without_reason = "hold"``): never dropped, flagged so a reviewer decides."""
    detail = rec.get("detail") or {}
    if rec.get("kind") != "timeout" or detail.get("bad_without_reason") != "hold":
        return []
    level = detail.get("tapped_level")
    return [("bad_without_reason", f"序号 {rec['seq']}：点了等级 {level} 后未选原因即超时（按规则暂存，待复核）")]


def _reason_flags(rec: dict, known: frozenset[int] | None) -> list[tuple[str, str]]:
    """Reason codes outside the configured list, or of another level (code = level × 100 + n): the record is kept
    as sent and flagged; every count of 测评内容 leaves such codes out (``known_reasons``)."""
    if known is None or rec.get("kind") != "rating":
        return []
    unknown = [c for c in rec.get("reasons") or () if not _fits(c, known, rec.get("level"))]
    if not unknown:
        return []
    codes = "、".join(str(c) for c in unknown)
    return [("unknown_reason", f"序号 {rec['seq']}：测评内容代码 {codes} 不在配置的清单中（不计入统计）")]


def _fits(code, known: frozenset[int], level) -> bool:
    return isinstance(code, int) and code in known and (level is None or code // 100 == level)


def known_reasons(codes, level: int | None, known: frozenset[int]) -> list[int]:
    """The codes of a rating that may be counted: configured, and of the rating's level."""
    return [c for c in codes if _fits(c, known, level)]


def _moment(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return f"{int(delta.total_seconds())} 秒"
    if minutes < 120:
        return f"{minutes} 分钟"
    return f"{minutes // 60} 小时 {minutes % 60} 分钟" if minutes < 48 * 60 else f"{minutes // 1440} 天"


def load_stored(conn: Connection, device_id: str, batch: Sequence[dict]) -> Stored:
    seqs = {r["seq"] for r in batch} | {r["seq"] - 1 for r in batch}
    by_seq: dict[int, tuple[str, str]] = {}
    time_by_seq: dict[int, str] = {}
    for r in device_sequence(conn, device_id, seqs):
        by_seq.setdefault(r.seq, (r.id, r.hash))
        time_by_seq.setdefault(r.seq, r.occurred_at)
    return Stored(identities(conn, [r["id"] for r in batch]), by_seq, time_by_seq)


def ingest(
    store: Store,
    device_id: str,
    batch: Sequence[dict],
    now: datetime,
    window: str | None = None,
    cipher: ContactCipher | None = None,
) -> list[tuple[str, str]]:
    """Plan and apply one batch from ``device_id`` (enrolled for ``window``); (id, status) per record, in order."""
    return ingest_batch(store, device_id, batch, now, window, cipher)[0]


def ingest_batch(
    store: Store,
    device_id: str,
    batch: Sequence[dict],
    now: datetime,
    window: str | None = None,
    cipher: ContactCipher | None = None,
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """``ingest``, with why each ``refused`` record's number was not kept (record id -> reason)."""
    with store.write() as conn:
        plan = plan_batch(batch, load_stored(conn, device_id, batch), window, now, configured_reasons(conn))
        protect_contacts(plan, cipher, utc_iso(now))
        results = apply_plan(store, conn, plan, utc_iso(now))
    if any(status == "refused" for _, status in results) and cipher is None:
        log.error("a mobile number arrived but no contact_key is configured: the number was not stored")
    return results, {rid: plan.refused[rid] for rid, status in results if status == "refused"}


def protect_contacts(plan: Plan, cipher: ContactCipher | None, now_iso: str) -> None:
    """Replace every ``contact`` record of the plan by its stored form (the number masked), keeping its encrypted
    ``contacts`` row or why it was refused; conflicting copies are kept masked too."""
    for i, rec in enumerate(plan.to_store):
        if rec.get("kind") != "contact":
            continue
        protected = protect_record(rec, cipher, now_iso)
        plan.to_store[i] = protected.stored
        if protected.row is not None:
            plan.contact_rows[rec["id"]] = protected.row
        else:
            plan.refused[rec["id"]] = protected.refused or ""
    plan.conflicts = [masked_record(r) for r in plan.conflicts]


def configured_reasons(conn: Connection) -> frozenset[int] | None:
    """Every 测评内容 code of the configured list (None before any import: nothing to check against)."""
    cv = current_config(conn)
    return frozenset(r.code for r in cv.config.reasons.reasons) if cv else None


def apply_plan(store: Store, conn: Connection, plan: Plan, now_iso: str) -> list[tuple[str, str]]:
    batch_id = secrets.token_hex(8)  # unique to this ingest: it tells our rows from a racing ingest's
    flags, hashes = plan.flags, plan.content_hashes
    rows = [
        record_values(
            r,
            "device",
            now_iso,
            batch_id,
            ",".join(k for k, _ in flags[r["id"]]) if r["id"] in flags else "",
            hashes[r["id"]],
        )
        for r in plan.to_store
    ]
    mine = insert_batch(store, conn, rows, batch_id)
    lost = _lost_races(conn, plan, mine)
    results = [(rid, _status(rid, status, lost, plan)) for rid, status in plan.results]
    stored = [r for r in plan.to_store if r["id"] in mine]
    add_contacts(store, conn, [plan.contact_rows[r["id"]] for r in stored if r["id"] in plan.contact_rows])
    conflicts = plan.conflicts + [r for r in plan.to_store if lost.get(r["id"]) == "conflict"]
    add_flags(conn, _flag_rows(plan, stored, conflicts, now_iso))
    add_conflicts(conn, conflicts, now_iso)
    settle_records(store, conn, [_at_enrolled_window(r, plan) for r in stored])
    return results


def _status(rid: str, planned: str, lost: dict[str, str], plan: Plan) -> str:
    if planned != "stored":
        return planned
    if rid in lost:
        return lost[rid]
    return "refused" if rid in plan.refused else "stored"


def _at_enrolled_window(rec: dict, plan: Plan) -> dict:
    """A record as its case is completed from: at the window its terminal is enrolled at when it claims another
    (the stored record keeps what was sent)."""
    if plan.window and any(kind == "window_mismatch" for kind, _ in plan.flags.get(rec["id"], ())):
        return {**rec, "window": plan.window}
    return rec


def _lost_races(conn: Connection, plan: Plan, mine: set[str]) -> dict[str, str]:
    """Records another transaction stored first: id -> duplicate | conflict."""
    others = [r["id"] for r in plan.to_store if r["id"] not in mine]
    if not others:
        return {}
    claimed = {r["id"]: (r["hash"], plan.content_hashes[r["id"]]) for r in plan.to_store}
    return {
        rid: ("duplicate" if held == claimed[rid] else "conflict") for rid, held in identities(conn, others).items()
    }


def _flag_rows(plan: Plan, stored: list[dict], conflicts: list[dict], now_iso: str) -> list[dict]:
    rows = [
        dict(device_id=r["device_id"], seq=r["seq"], record_id=r["id"], kind=kind, detail=detail, flagged_at=now_iso)
        for r in stored
        for kind, detail in plan.flags.get(r["id"], ())
    ]
    rows += [
        dict(
            device_id=r["device_id"],
            seq=r["seq"],
            record_id=r["id"],
            kind="conflict",
            detail=f"记录 {r['id']} 再次收到时内容不同（已另存）",
            flagged_at=now_iso,
        )
        for r in conflicts
    ]
    return rows
