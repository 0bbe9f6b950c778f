"""Queueing and sending the provincial upload.

``collect`` queues what the last ``collect_days`` produced and is not queued yet (each item once: its own id is the
key). ``send_due`` leases due items in batches (several processes never hold the same item), POSTs each batch as

    {"items": [<item under the province's field names>, …]}
    X-HCP-Upstream-Signature: sha256=<hex HMAC-SHA256 of the body with the shared secret>

and reads the platform's answer ``{"results": [{"id", "status": accepted|duplicate|rejected, "code", "message"}]}``.
An accepted (or duplicate: the platform had it) item is done; a rejected one waits, with the platform's code and
message, for an administrator to resend it; anything else (no answer, an error status, an answer that is not JSON,
an item missing from the answer) is retried after ``backoff_s``, doubling up to ``backoff_max_s``, forever.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync_server import outbound
from sync_server.configs import current_config
from sync_server.db import Store
from sync_server.storage import leases
from sync_server.storage import upstream as storage
from sync_server.storage.rollups import china_day
from sync_server.storage.schema import utc_iso
from sync_server.upstream import payload
from sync_server.upstream.settings import UpstreamSettings

Post = Callable[[str, bytes, dict, float], outbound.Answer]
Clock = Callable[[], datetime]


def should_send(conn, start: str, end: str, region_code: str) -> list[tuple[dict, str, str]]:
    """Every item the platform should have for [start, end): (item, source id, China day)."""
    found = [
        (payload.rating_item(r, region_code), r.record_id, china_day(r.rated_at))
        for r in storage.counting_ratings(conn, start, end)
    ]
    found += [
        (payload.step_item(r, region_code), str(r.id), china_day(r.at))
        for r in storage.handling_steps(conn, start, end)
    ]
    found += [
        (payload.appeal_item(r, region_code), str(r.id), china_day(r.reviewed_at or r.decided_at))
        for r in storage.appeal_outcomes(conn, start, end)
    ]
    return found


def collect(store: Store, now: datetime, settings: UpstreamSettings) -> int:
    """Queue what the last ``collect_days`` produced and is not queued yet; returns how many were new."""
    start, end = utc_iso(now - timedelta(days=settings.collect_days)), utc_iso(now + timedelta(seconds=1))
    with store.write() as conn:
        cv = current_config(conn)
        region = cv.config.hall.region_code if cv else ""
        return storage.enqueue(store, conn, should_send(conn, start, end, region), utc_iso(now))


@dataclass
class Sent:
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)  # one line per failed batch


def send_due(
    store: Store,
    clock: Clock,
    settings: UpstreamSettings,
    post: Post = outbound.post,
    owner: str = "",
    max_batches: int | None = None,
) -> Sent:
    """Send due items batch after batch until none is due (or ``max_batches``)."""
    if not settings.enabled:
        return Sent()
    owner = owner or secrets.token_hex(8)
    names, sent = settings.field_names(), Sent()
    while max_batches is None or sent.batches < max_batches:
        now = clock()
        until = utc_iso(now + timedelta(seconds=settings.lease_s))
        rows = storage.lease(store, owner, utc_iso(now), until, settings.batch_size)
        if not rows:
            break
        outcomes, error = _send_batch(rows, names, settings, post, now)
        storage.record_outcomes(store, owner, outcomes, utc_iso(clock()))
        sent.batches += 1
        for o in outcomes:
            setattr(sent, o["outcome"], getattr(sent, o["outcome"]) + 1)
        if error:
            sent.errors.append(error)
    return sent


def _send_batch(rows: list, names: dict, settings: UpstreamSettings, post: Post, now: datetime):
    items = [json.loads(r.body) for r in rows]
    body = payload.request_body(items, names)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        payload.SIGNATURE_HEADER: payload.sign(settings.secret, body),
    }
    answer = post(settings.url, body, headers, settings.timeout_s)
    results, error = read_answer(answer)
    outcomes = []
    for row in rows:
        result = results.get(row.item_key) if results is not None else None
        outcomes.append(_outcome(row, result, answer.status, error, now, settings))
    return outcomes, error


def read_answer(answer: outbound.Answer) -> tuple[dict | None, str]:
    """The platform's result per item id, or None and why the whole batch failed."""
    if answer.status is None or not 200 <= answer.status < 300:
        return None, answer.error or f"省平台应答 HTTP {answer.status}"
    try:
        parsed = json.loads(answer.body)
    except (ValueError, UnicodeDecodeError):
        return None, f"省平台应答不是 JSON（HTTP {answer.status}，前 80 字节：{answer.body[:80]!r}）"
    results = parsed.get("results") if isinstance(parsed, dict) else None
    if not isinstance(results, list):
        return None, "省平台应答缺少 results 列表"
    by_id: dict = {}
    for r in results:
        if isinstance(r, dict) and isinstance(r.get("id"), str):
            by_id.setdefault(r["id"], r)  # an answer repeated for one item: the first counts
    return by_id, ""


def _outcome(row, result: dict | None, status, error: str, now: datetime, settings: UpstreamSettings) -> dict:
    attempts = row.attempts + 1
    base = {"id": row.id, "attempts": attempts, "http_status": status}
    verdict = result.get("status") if result else None
    if verdict in ("accepted", "duplicate"):
        return {
            **base,
            "outcome": storage.ACCEPTED,
            "message": "重复上报，省平台已有" if verdict == "duplicate" else None,
        }
    if verdict == "rejected":
        return {
            **base,
            "outcome": storage.REJECTED,
            "code": str(result.get("code") or "")[:64] or None,
            "message": str(result.get("message") or "省平台退回，未说明原因"),
        }
    why = error or ("省平台应答中没有这一项" if result is None else f"省平台应答的状态无法识别：{verdict!r}")
    wait = leases.backoff_s(attempts, settings.backoff_s, settings.backoff_max_s)
    return {**base, "outcome": "failed", "message": why, "next_attempt_at": utc_iso(now + timedelta(seconds=wait))}


def resend(store: Store, item_id: int, now: datetime) -> bool:
    """A rejected item back in the queue (sent with the field names in force when it goes out)."""
    with store.write() as conn:
        return storage.resend(conn, item_id, utc_iso(now))


@dataclass
class DayReconciliation:
    day: str
    expected: int
    accepted: int
    missing: list[tuple[str, str]]  # (item id, its state, or 未入队)
    unexpected: list[str]  # accepted, but no longer among what should be sent


def reconcile_day(store: Store, day: str) -> DayReconciliation:
    """What the platform accepted for ``day`` against what it should have (China day)."""
    from sync_server.storage.rollups import day_bounds

    start, end = day_bounds(day)
    with store.read() as conn:
        cv = current_config(conn)
        expected = {i["id"] for i, _, _ in should_send(conn, start, end, cv.config.hall.region_code if cv else "")}
        states = storage.items_of_day(conn, day)
    accepted = {k for k, s in states.items() if s == storage.ACCEPTED}
    missing = sorted(
        (k, storage.STATE_LABELS.get(states[k], states[k]) if k in states else "未入队") for k in expected - accepted
    )
    return DayReconciliation(day, len(expected), len(accepted & expected), missing, sorted(accepted - expected))
