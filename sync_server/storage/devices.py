"""Devices: their one-time enrolment codes (only a hash of each code is stored), the enrolled devices with their
secrets, names, last status and last contact, and the nonces that refuse a replayed request in every process."""

from __future__ import annotations

from sqlalchemy import Connection, Row, delete, select, update

from sync_server.storage.schema import devices, enrolment_codes, nonces


def insert_code(conn: Connection, code_hash: str, window: str, created_at: str, expires_at: str) -> None:
    values = dict(code_hash=code_hash, window=window, created_at=created_at, expires_at=expires_at)
    conn.execute(enrolment_codes.insert().values(**values))


def code_row(conn: Connection, code_hash: str) -> Row | None:
    return conn.execute(select(enrolment_codes).where(enrolment_codes.c.code_hash == code_hash)).first()


def spend_code(conn: Connection, code_hash: str, at: str, device_id: str) -> bool:
    """Mark an unspent code spent by ``device_id``; False when another request spent it first."""
    spent = conn.execute(
        update(enrolment_codes)
        .where(enrolment_codes.c.code_hash == code_hash, enrolment_codes.c.used_at.is_(None))
        .values(used_at=at, device_id=device_id)
    )
    return spent.rowcount == 1


def insert_device(conn: Connection, device_id: str, window: str, secret_hex: str, enrolled_at: str) -> None:
    conn.execute(devices.insert().values(id=device_id, window=window, secret_hex=secret_hex, enrolled_at=enrolled_at))


def device_row(conn: Connection, device_id: str) -> Row | None:
    return conn.execute(select(devices).where(devices.c.id == device_id)).first()


def device_rows(conn: Connection) -> list[Row]:
    """Every device, revoked ones too, in the order they were enrolled."""
    return conn.execute(select(devices).order_by(devices.c.enrolled_at, devices.c.id)).all()


def device_windows(conn: Connection) -> dict[str, str]:
    """Each device's enrolled window, by device id."""
    return {d.id: d.window for d in conn.execute(select(devices.c.id, devices.c.window))}


def mark_revoked(conn: Connection, device_id: str, at: str) -> bool:
    """Revoke a device that is not revoked yet; False when it was (or does not exist)."""
    return bool(
        conn.execute(
            update(devices).where(devices.c.id == device_id, devices.c.revoked_at.is_(None)).values(revoked_at=at)
        ).rowcount
    )


def set_name(conn: Connection, device_id: str, name: str | None) -> None:
    conn.execute(update(devices).where(devices.c.id == device_id).values(name=name))


def set_status(conn: Connection, device_id: str, status_json: str) -> None:
    conn.execute(update(devices).where(devices.c.id == device_id).values(last_status=status_json))


def mark_seen(conn: Connection, device_id: str, at: str) -> None:
    conn.execute(update(devices).where(devices.c.id == device_id).values(last_seen_at=at))


def remember_nonce(store, conn: Connection, device_id: str, nonce: str, now_s: float, keep_s: float) -> bool:
    """Store a request's nonce (pruning this device's nonces older than ``keep_s``); False when it was there
    already, i.e. the request is a replay. ``store`` gives the dialect's INSERT … ON CONFLICT."""
    conn.execute(delete(nonces).where(nonces.c.device_id == device_id, nonces.c.seen_at < now_s - keep_s))
    stmt = store.insert(nonces).values(device_id=device_id, nonce=nonce, seen_at=now_s)
    inserted = conn.execute(
        stmt.on_conflict_do_nothing(index_elements=["device_id", "nonce"]).returning(nonces.c.nonce)
    )
    return inserted.first() is not None
