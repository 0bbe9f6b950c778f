"""Devices: one-time enrolment codes, enrolment (device id + secret), listing and revocation."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync_server.db import Store
from sync_server.errors import BadRequest, EnrolmentCodeInvalid, EnrolmentCodeSpent, NotFound
from sync_server.storage import devices as stored
from sync_server.storage.schema import utc_iso

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to type on a terminal
CODE_GROUPS, CODE_GROUP_LEN = 3, 4
DEFAULT_CODE_VALIDITY = timedelta(hours=24)
MAX_CODE_VALIDITY = timedelta(days=30)
MAX_NAME_LEN = 32


@dataclass(frozen=True)
class Device:
    id: str
    window: str
    secret: bytes
    enrolled_at: str
    revoked_at: str | None = None
    last_seen_at: str | None = None
    last_status: dict | None = None
    name: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def is_silent(self, now: datetime, silent_minutes: int) -> bool:
        """In use, and not heard from for longer than ``silent_minutes``: 失联."""
        return self.active and heard_too_long_ago(self.last_seen_at, self.enrolled_at, now, silent_minutes)


def heard_too_long_ago(last_seen_at: str | None, enrolled_at: str, now: datetime, silent_minutes: int) -> bool:
    """The one definition of a silent terminal, for the devices page, ``hcp server device list`` and /metrics: its
    last contact (its enrolment, until it first syncs) is older than ``silent_minutes``."""
    return (last_seen_at or enrolled_at) < utc_iso(now - timedelta(minutes=silent_minutes))


def normalise_code(code: str) -> str:
    """Upper case, without the dashes and spaces people type."""
    return "".join(ch for ch in str(code).upper() if ch.isalnum())


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def new_code() -> str:
    chars = [secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_LEN)]
    groups = ["".join(chars[i : i + CODE_GROUP_LEN]) for i in range(0, len(chars), CODE_GROUP_LEN)]
    return "-".join(groups)


def add_enrolment_code(
    store: Store, window: str, now: datetime, valid_for: timedelta = DEFAULT_CODE_VALIDITY
) -> tuple[str, datetime]:
    """Make a one-time code for a new device at ``window``; only its hash is stored."""
    code, expires = new_code(), now + valid_for
    with store.write() as conn:
        stored.insert_code(conn, _code_hash(code), window, utc_iso(now), utc_iso(expires))
    return code, expires


def enrol(store: Store, code: str, now: datetime) -> Device:
    """Exchange a one-time code for a new device id and secret (the code is spent)."""
    digest = _code_hash(code)
    with store.write() as conn:
        row = stored.code_row(conn, digest)
        if row is None:
            raise EnrolmentCodeInvalid("登记码无效，请核对后重新输入")
        if row.used_at is not None:
            raise EnrolmentCodeSpent("登记码已被使用，请管理员重新生成")
        if row.expires_at <= utc_iso(now):
            raise EnrolmentCodeSpent("登记码已过期，请管理员重新生成")
        device = Device("dev-" + secrets.token_hex(8), row.window, secrets.token_bytes(32), utc_iso(now))
        if not stored.spend_code(conn, digest, utc_iso(now), device.id):  # another request spent it a moment ago
            raise EnrolmentCodeSpent("登记码已被使用，请管理员重新生成")
        stored.insert_device(conn, device.id, device.window, device.secret.hex(), device.enrolled_at)
    return device


def _device(row) -> Device:
    status = json.loads(row.last_status) if row.last_status else None
    return Device(
        row.id, row.window, bytes.fromhex(row.secret_hex), row.enrolled_at, row.revoked_at, row.last_seen_at, status,
        row.name,
    )  # fmt: skip


def get_device(conn, device_id: str) -> Device | None:
    row = stored.device_row(conn, device_id)
    return _device(row) if row else None


def list_devices(store: Store) -> list[Device]:
    with store.read() as conn:
        return [_device(r) for r in stored.device_rows(conn)]


def revoke(store: Store, device_id: str, now: datetime, actor: str = "cli", address: str | None = None) -> bool:
    """Refuse every later request of this device (its records stay); audited. False when it was revoked already."""
    from sync_server.console.accounts import write_audit

    with store.write() as conn:
        done = stored.mark_revoked(conn, device_id, utc_iso(now))
        device = get_device(conn, device_id)
        if device is None:
            raise NotFound(f"没有编号为 {device_id} 的设备")
        if done:
            write_audit(conn, now, actor, "device.revoke", device_id, {"window": device.window}, address)
    return bool(done)


def rename(store: Store, device_id: str, name: str, now: datetime, actor: str = "cli", address: str | None = None):
    """Give a terminal a name (up to 32 characters; empty clears it); audited with the old and the new name."""
    from sync_server.console.accounts import write_audit

    name = " ".join(str(name).split())
    if len(name) > MAX_NAME_LEN:
        raise BadRequest(f"设备名称最多 {MAX_NAME_LEN} 个字")
    with store.write() as conn:
        device = get_device(conn, device_id)
        if device is None:
            raise NotFound(f"没有编号为 {device_id} 的设备")
        stored.set_name(conn, device_id, name or None)
        detail = {"window": device.window, "old_name": device.name, "name": name or None}
        write_audit(conn, now, actor, "device.rename", device_id, detail, address)


def issue_code(
    store: Store,
    window: str,
    now: datetime,
    valid_for: timedelta = DEFAULT_CODE_VALIDITY,
    actor: str = "cli",
    address: str | None = None,
) -> tuple[str, datetime]:
    """An enrolment code for a window of the current configuration, valid 1 minute to 30 days; audited (the window
    and the expiry, never the code). The console and ``hcp server device add`` both come here."""
    from sync_server.configs import current_config
    from sync_server.console.accounts import write_audit

    if not timedelta(minutes=1) <= valid_for <= MAX_CODE_VALIDITY:
        raise BadRequest("登记码有效期应在 1 分钟到 30 天之间")
    with store.read() as conn:
        cv = current_config(conn)
    if cv is not None and window not in {w.code for w in cv.config.hall.windows}:
        raise NotFound(f"没有编号为 {window} 的窗口（配置版本 {cv.version}）")
    code, expires = add_enrolment_code(store, window, now, valid_for)
    with store.write() as conn:
        write_audit(conn, now, actor, "device.code", window, {"expires_at": utc_iso(expires)}, address)
    return code, expires


def record_status(store: Store, device_id: str, status: dict) -> None:
    with store.write() as conn:
        stored.set_status(conn, device_id, json.dumps(status, ensure_ascii=False))
