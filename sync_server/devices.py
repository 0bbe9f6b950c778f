"""Devices: one-time enrolment codes, enrolment (device id + secret), listing and revocation."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from sync_server.db import Store
from sync_server.errors import EnrolmentCodeInvalid, EnrolmentCodeSpent, NotFound
from sync_server.storage.schema import devices, enrolment_codes, utc_iso

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to type on a terminal
CODE_GROUPS, CODE_GROUP_LEN = 3, 4
DEFAULT_CODE_VALIDITY = timedelta(hours=24)


@dataclass(frozen=True)
class Device:
    id: str
    window: str
    secret: bytes
    enrolled_at: str
    revoked_at: str | None = None
    last_seen_at: str | None = None
    last_status: dict | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


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
        conn.execute(
            enrolment_codes.insert().values(
                code_hash=_code_hash(code), window=window, created_at=utc_iso(now), expires_at=utc_iso(expires)
            )
        )
    return code, expires


def enrol(store: Store, code: str, now: datetime) -> Device:
    """Exchange a one-time code for a new device id and secret (the code is spent)."""
    digest = _code_hash(code)
    with store.write() as conn:
        row = conn.execute(select(enrolment_codes).where(enrolment_codes.c.code_hash == digest)).first()
        if row is None:
            raise EnrolmentCodeInvalid("登记码无效，请核对后重新输入")
        if row.used_at is not None:
            raise EnrolmentCodeSpent("登记码已被使用，请管理员重新生成")
        if row.expires_at <= utc_iso(now):
            raise EnrolmentCodeSpent("登记码已过期，请管理员重新生成")
        device = Device("dev-" + secrets.token_hex(8), row.window, secrets.token_bytes(32), utc_iso(now))
        spent = conn.execute(
            update(enrolment_codes)
            .where(enrolment_codes.c.code_hash == digest, enrolment_codes.c.used_at.is_(None))
            .values(used_at=utc_iso(now), device_id=device.id)
        )
        if spent.rowcount != 1:  # another request spent it a moment ago
            raise EnrolmentCodeSpent("登记码已被使用，请管理员重新生成")
        conn.execute(
            devices.insert().values(
                id=device.id, window=device.window, secret_hex=device.secret.hex(), enrolled_at=device.enrolled_at
            )
        )
    return device


def _device(row) -> Device:
    status = json.loads(row.last_status) if row.last_status else None
    return Device(
        row.id, row.window, bytes.fromhex(row.secret_hex), row.enrolled_at, row.revoked_at, row.last_seen_at, status
    )


def get_device(conn, device_id: str) -> Device | None:
    row = conn.execute(select(devices).where(devices.c.id == device_id)).first()
    return _device(row) if row else None


def list_devices(store: Store) -> list[Device]:
    with store.read() as conn:
        return [_device(r) for r in conn.execute(select(devices).order_by(devices.c.enrolled_at, devices.c.id))]


def revoke(store: Store, device_id: str, now: datetime) -> None:
    """Refuse every later request of this device (its records stay)."""
    with store.write() as conn:
        done = conn.execute(
            update(devices)
            .where(devices.c.id == device_id, devices.c.revoked_at.is_(None))
            .values(revoked_at=utc_iso(now))
        )
        if done.rowcount != 1 and get_device(conn, device_id) is None:
            raise NotFound(f"没有编号为 {device_id} 的设备")


def record_status(store: Store, device_id: str, status: dict) -> None:
    with store.write() as conn:
        conn.execute(
            update(devices).where(devices.c.id == device_id).values(last_status=json.dumps(status, ensure_ascii=False))
        )
