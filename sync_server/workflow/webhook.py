"""Pushing new bad ratings to an external platform (e.g. a 12345 hotline), signed and retried until acknowledged.

A delivery row is written in the same transaction that opens the handling record, when a target is enabled
(``hcp server webhooks set``; off by default). ``deliver_due`` claims due rows with a lease, so several processes
running ``hcp server webhooks deliver`` never send the same row at once, POSTs the stored body with

    X-HCP-Webhook-Signature: sha256=<hex HMAC-SHA256 of the body with the target's secret>
    X-HCP-Webhook-Id: <delivery id>          (the receiver can drop a repeat it already has)

and marks it delivered on any 2xx; anything else is retried after 30 s, 60 s, 120 s … (capped), forever.
The request itself goes out through ``sync_server.outbound``, the server's one module of outgoing HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from sync_server import outbound
from sync_server.db import Store
from sync_server.storage import leases
from sync_server.storage import webhook as stored
from sync_server.storage.schema import utc_iso
from sync_server.workflow.settings import WorkflowSettings

SIGNATURE_HEADER = "X-HCP-Webhook-Signature"
ID_HEADER = "X-HCP-Webhook-Id"
PENDING, DELIVERED = leases.PENDING, leases.DELIVERED
STATE_LABELS = {PENDING: "待推送", DELIVERED: "已送达"}

# (url, body, headers, timeout_s) -> (HTTP status or None when nothing answered, short error text)
Post = Callable[[str, bytes, dict, float], tuple[int | None, str]]


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute the HMAC over the exact body and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header or "")


def current_target(conn: Connection):
    return stored.current_target(conn)


def set_target(conn: Connection, url: str, secret: str | None, enabled: bool, actor: str, now: datetime) -> str:
    """Configure the target (a new row; the newest wins). Returns the secret in force (generated when None)."""
    previous = current_target(conn)
    secret = secret or (previous.secret if previous and previous.url == url else None) or secrets.token_urlsafe(32)
    stored.insert_target(conn, url, secret, enabled, utc_iso(now), actor)
    return secret


def enqueue(conn: Connection, case_id: int, event: str, payload: dict, at: str) -> int | None:
    """Queue one delivery when a target is enabled (inside the caller's transaction)."""
    target = current_target(conn)
    if target is None or not target.enabled:
        return None
    body = json.dumps({"event": event, **payload}, ensure_ascii=False, sort_keys=True)
    row = dict(target_id=target.id, case_id=case_id, event=event, body=body, state=PENDING, attempts=0)
    return stored.insert_delivery(conn, row | {"next_attempt_at": at, "created_at": at})


def enqueue_many(conn: Connection, deliveries: list[tuple[int, str, dict, str]]) -> None:
    """Queue (case id, event, payload, at) deliveries when a target is enabled, in one statement."""
    target = current_target(conn)
    if target is None or not target.enabled or not deliveries:
        return
    rows = [
        dict(
            target_id=target.id,
            case_id=case_id,
            event=event,
            body=json.dumps({"event": event, **payload}, ensure_ascii=False, sort_keys=True),
            state=PENDING,
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
        for case_id, event, payload, at in deliveries
    ]
    stored.insert_deliveries(conn, rows)


def claim(store: Store, owner: str, now: datetime, settings: WorkflowSettings, limit: int = 20) -> list:
    """Lease up to ``limit`` due deliveries to ``owner``; rows leased by a live lease elsewhere are skipped."""
    until = utc_iso(now + timedelta(seconds=settings.webhook_lease_s))
    with store.write() as conn:
        return stored.lease_due(conn, owner, utc_iso(now), until, limit)


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    status: int | None
    delivered: bool


def deliver_due(
    store: Store, now: datetime, post: Post | None = None, settings: WorkflowSettings | None = None, owner: str = ""
) -> list[Attempt]:
    """Send every due delivery once; returns what happened to each."""
    settings = settings or WorkflowSettings()
    post = post or urllib_post
    owner = owner or secrets.token_hex(8)
    done = []
    for row in claim(store, owner, now, settings):
        body = row.body.encode()
        headers = {"Content-Type": "application/json; charset=utf-8", SIGNATURE_HEADER: sign(row.secret, body)}
        headers[ID_HEADER] = str(row.id)
        status, error = post(row.url, body, headers, settings.webhook_timeout_s)
        done.append(_record(store, row, owner, now, status, error, settings))
    return done


def _record(store: Store, row, owner: str, now: datetime, status, error: str, settings) -> Attempt:
    first, cap = settings.webhook_backoff_s, settings.webhook_backoff_max_s
    ok, values = leases.attempt_values(row.attempts, status, error, now, first, cap)
    with store.write() as conn:
        stored.write_back(conn, row.id, owner, values)
    return Attempt(row.id, status, ok)


def urllib_post(url: str, body: bytes, headers: dict, timeout_s: float) -> tuple[int | None, str]:
    answer = outbound.post(url, body, headers, timeout_s)
    return answer.status, answer.error


def deliveries(conn: Connection, limit: int = 200, case_id: int | None = None) -> list:
    return stored.deliveries(conn, limit, case_id)
