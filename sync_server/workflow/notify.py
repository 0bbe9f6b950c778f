"""Notices that a 差评工单 needs 回访 (or was reopened by a 不满意 回访), through one small sender interface.

Two senders, chosen by the server setting ``workflow.notify_sender``:
- ``LoggingSender`` (the default, for the demo): writes the notice as one JSON log line (logger ``hcp.notify``);
- ``WebhookSender``: queues the notice in the step's own transaction and ``deliver_due`` POSTs it as JSON to
  ``workflow.notify_url`` (e.g. the hall's SMS platform), signed like the 差评 webhook (``X-HCP-Webhook-Signature``,
  HMAC-SHA256 with ``workflow.notify_secret``), retried after 30 s, 60 s, 120 s … (``webhook_backoff_s``, capped by
  ``webhook_backoff_max_s``) until a 2xx answers; leased, so several processes never send one notice twice.

A notice never carries the rating's level nor the clerk (number or name): the citizen's answer must not be steered,
and the clerk is protected as the rater is. It carries the record's id, the case number, the window and department,
the 回访 deadline, the round and a Chinese text.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection

from sync_server.db import Store
from sync_server.storage import leases
from sync_server.storage import revisits as store_revisits
from sync_server.storage.schema import utc_iso
from sync_server.workflow.settings import WorkflowSettings
from sync_server.workflow.webhook import ID_HEADER, SIGNATURE_HEADER, Post, sign, urllib_post

LOG = logging.getLogger("hcp.notify")
DUE, REOPENED = "revisit.due", "revisit.reopened"
EVENT_LABELS = {DUE: "待回访", REOPENED: "回访不满意，重新办理"}
STATE_LABELS = {store_revisits.PENDING: "待发送", store_revisits.DELIVERED: "已送达"}


@dataclass(frozen=True)
class Notice:
    """What is sent: nothing that names the clerk or the level."""

    event: str  # revisit.due | revisit.reopened
    case_id: int
    case_no: str | None
    window: str | None
    department: str | None
    revisit_due: str | None  # the 回访 deadline (revisit.due), YYYY-MM-DD
    round: int  # 1 for the first 回访, 2 after one reopening …
    at: str  # when it arose (UTC ISO)

    @property
    def text(self) -> str:
        if self.event == REOPENED:
            return f"差评工单 #{self.case_id} 回访群众不满意，已退回重新办理，办理后将再次回访。"
        until = f"，请于 {self.revisit_due} 前完成回访" if self.revisit_due else ""
        return f"差评工单 #{self.case_id}（办件 {self.case_no or '—'}）已办理完毕，待回访{until}。"

    def payload(self) -> dict:
        return {**asdict(self), "text": self.text}


class Sender(Protocol):
    """Sends a notice; ``queue`` runs inside the transaction of the step that made it."""

    def queue(self, conn: Connection, notice: Notice) -> None: ...


class LoggingSender:
    """Writes the notice as one JSON log line."""

    def queue(self, conn: Connection, notice: Notice) -> None:
        LOG.info("回访通知 %s", json.dumps(notice.payload(), ensure_ascii=False, sort_keys=True))


class WebhookSender:
    """Queues the notice for ``deliver_due`` (POST JSON to ``url``, retried with backoff)."""

    def __init__(self, url: str):
        self.url = url

    def queue(self, conn: Connection, notice: Notice) -> None:
        body = json.dumps(notice.payload(), ensure_ascii=False, sort_keys=True)
        store_revisits.enqueue_notice(conn, notice.case_id, notice.event, self.url, body, notice.at)


def sender_for(settings: WorkflowSettings) -> Sender:
    return WebhookSender(settings.notify_url) if settings.notify_sender == "webhook" else LoggingSender()


@dataclass(frozen=True)
class Attempt:
    notice_id: int
    status: int | None
    delivered: bool


def deliver_due(
    store: Store, now: datetime, settings: WorkflowSettings, post: Post | None = None, owner: str = ""
) -> list[Attempt]:
    """Send every due queued notice once; returns what happened to each."""
    post = post or urllib_post
    owner = owner or secrets.token_hex(8)
    until = utc_iso(now + timedelta(seconds=settings.webhook_lease_s))
    with store.write() as conn:
        rows = store_revisits.lease_notices(conn, owner, utc_iso(now), until, 20)
    done = []
    for row in rows:
        body = row.body.encode()
        headers = {"Content-Type": "application/json; charset=utf-8", ID_HEADER: f"notice-{row.id}"}
        if settings.notify_secret:
            headers[SIGNATURE_HEADER] = sign(settings.notify_secret, body)
        status, error = post(row.url, body, headers, settings.webhook_timeout_s)
        done.append(_record(store, row, owner, now, status, error, settings))
    return done


def _record(store: Store, row, owner: str, now: datetime, status, error: str, settings) -> Attempt:
    first, cap = settings.webhook_backoff_s, settings.webhook_backoff_max_s
    ok, values = leases.attempt_values(row.attempts, status, error, now, first, cap)
    with store.write() as conn:
        store_revisits.record_attempt(conn, row.id, owner, values)
    return Attempt(row.id, status, ok)
