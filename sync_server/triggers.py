"""Case-system triggers: a case system (with its own API key) asks the server to prompt a rating at a window;
the terminal of that window long-polls for it and acknowledges it (accepted or refused, with the reason).
A trigger is delivered again on every poll until it is acknowledged, and expires after ``ttl``.

The same long-poll tells a terminal that the case on its screen was rated by phone (``phone_rated_on_screen``): the
terminal's last prompt, still without an outcome, whose case has a phone rating. The terminal then thanks the
citizen for the phone rating and stops prompting; it records that outcome, which ends the answer.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from haochaping.levels import CHANNEL_QR
from sync_server.configs import current_config
from sync_server.db import Store
from sync_server.errors import CaseSystemKeyInvalid, Conflict, NotFound, Unprocessable
from sync_server.storage import triggers as stored
from sync_server.storage.schema import utc_iso

CASE_NO_PATTERN = re.compile(r"^[0-9A-Za-z\-_/.]{1,64}$")  # as the terminal accepts it
KEY_PREFIX = "hcpk_"


@dataclass(frozen=True)
class Trigger:
    id: str
    case_no: str
    matter_code: str | None
    created_at: str


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_case_system(store: Store, name: str, now: datetime) -> str:
    """Register a case system; returns its API key (only its hash is stored, so it is shown once)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with store.write() as conn:
        if stored.case_system_exists(conn, name):
            raise Conflict(f"办件系统 {name} 已存在")
        stored.insert_case_system(conn, name, _key_hash(key), utc_iso(now))
    return key


def case_system_for(conn, key: str | None) -> str:
    """The name of the case system holding this key, or CaseSystemKeyInvalid."""
    if not key:
        raise CaseSystemKeyInvalid("缺少办件系统的 API 密钥（Authorization: Bearer …）")
    name = stored.case_system_of_key(conn, _key_hash(key))
    if name is None:
        raise CaseSystemKeyInvalid("办件系统的 API 密钥无效")
    return name


def create_trigger(
    store: Store, key: str | None, case_no: str, window: str, matter_code: str | None, now: datetime
) -> str:
    """Queue a prompt for ``window``; returns the trigger id."""
    with store.write() as conn:
        system = case_system_for(conn, key)
        if not CASE_NO_PATTERN.match(case_no):
            raise Unprocessable("办件编号格式不正确（1–64 位字母、数字或 - _ / .）")
        _check_window(conn, window, matter_code)
        trigger_id = "trg-" + secrets.token_hex(10)
        stored.insert_trigger(conn, trigger_id, window, case_no, matter_code, system, utc_iso(now))
    return trigger_id


def _check_window(conn, window: str, matter_code: str | None) -> None:
    cv = current_config(conn)
    if cv is None:
        return  # nothing to check against before the first configuration import
    try:
        w = cv.config.hall.window(window)
    except KeyError:
        raise NotFound(f"没有编号为 {window} 的窗口") from None
    if matter_code is not None and matter_code not in w.matters:
        raise Conflict(f"事项 {matter_code} 不在窗口 {window} 的事项清单中")


def open_triggers(store: Store, window: str, now: datetime, ttl: timedelta) -> list[Trigger]:
    """Unacknowledged, unexpired triggers for ``window``, oldest first; marks them delivered.

    A read first: long-polling terminals ask often and usually find nothing, so they take no write lock."""
    with store.read() as conn:
        rows = stored.unacked_triggers(conn, window, utc_iso(now - ttl))
    fresh = [r.id for r in rows if r.delivered_at is None]
    if fresh:
        with store.write() as conn:
            stored.mark_delivered(conn, fresh, utc_iso(now))
    return [Trigger(r.id, r.case_no, r.matter_code, r.created_at) for r in rows]


def prompt_status(store: Store, key: str | None, trigger_id: str, now: datetime, ttl: timedelta) -> dict:
    """What became of a prompt, for the case system that asked for it (another system's prompt is not found)."""
    with store.read() as conn:
        system = case_system_for(conn, key)
        row = stored.trigger_of(conn, trigger_id, system)
    if row is None:
        raise NotFound(f"没有编号为 {trigger_id} 的评价请求")
    return {
        "ok": True,
        "trigger_id": row.id,
        "case_no": row.case_no,
        "window": row.window,
        "matter_code": row.matter_code,
        "status": _status(row, now, ttl),
        "refused_message": row.refused_message,
        "created_at": row.created_at,
        "delivered_at": row.delivered_at,
        "acked_at": row.acked_at,
    }


def _status(row, now: datetime, ttl: timedelta) -> str:
    if row.acked_at is not None:
        return "refused" if row.refused_message else "accepted"
    if row.created_at < utc_iso(now - ttl):
        return "expired"
    return "delivered" if row.delivered_at else "pending"


def acknowledge(
    store: Store, device_id: str, window: str, ids: list[str], refused: dict[str, str], now: datetime
) -> int:
    """Mark this window's triggers acknowledged (with the terminal's refusal message, if any). Returns how many."""
    done = 0
    with store.write() as conn:
        for trigger_id in dict.fromkeys(ids):
            done += stored.mark_acked(conn, trigger_id, window, device_id, utc_iso(now), refused.get(trigger_id))
    return done


PROMPT_OUTCOMES = ("rating", "timeout", "interrupted", "phone_rated")


def phone_rated_on_screen(store: Store, device_id: str, now: datetime, live_for: timedelta) -> list[str]:
    """The case of this terminal's last prompt if it has no outcome yet, is younger than ``live_for`` and was rated
    by phone (QR): ``[case_no]``, else ``[]``. Reads two index ranges (the device's last records, the case's)."""
    with store.read() as conn:
        prompt = stored.last_prompt(conn, device_id)
        if prompt is None or prompt.case_no is None or prompt.occurred_at < utc_iso(now - live_for):
            return []
        rows = stored.case_records_brief(conn, prompt.case_no)
    ended = any(r.device_id == device_id and r.seq and r.seq > prompt.seq and r.kind in PROMPT_OUTCOMES for r in rows)
    by_phone = any(r.kind == "rating" and r.source == "qr" and r.channel == CHANNEL_QR for r in rows)
    return [prompt.case_no] if by_phone and not ended else []
