"""The webhook outbox: the configured targets (the newest row wins) and the queued deliveries, leased to one sender
at a time (``storage.leases``) and written back only by the lease's owner."""

from __future__ import annotations

from sqlalchemy import Connection, Row, select, update

from sync_server.storage import leases
from sync_server.storage.schema import webhook_deliveries, webhook_targets


def current_target(conn: Connection) -> Row | None:
    return conn.execute(select(webhook_targets).order_by(webhook_targets.c.id.desc()).limit(1)).first()


def insert_target(conn: Connection, url: str, secret: str, enabled: bool, created_at: str, created_by: str) -> None:
    conn.execute(
        webhook_targets.insert().values(
            url=url, secret=secret, enabled=int(enabled), created_at=created_at, created_by=created_by
        )
    )


def insert_delivery(conn: Connection, row: dict) -> int:
    return conn.execute(webhook_deliveries.insert().values(**row)).inserted_primary_key[0]


def insert_deliveries(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(webhook_deliveries.insert(), rows)


def lease_due(conn: Connection, owner: str, now_iso: str, until_iso: str, limit: int) -> list[Row]:
    """Lease up to ``limit`` due deliveries to ``owner`` (inside the caller's write transaction); returns them with
    their target's url and secret."""
    ids = leases.lease_due(conn, webhook_deliveries, owner, now_iso, until_iso, limit)
    if not ids:
        return []
    rows = select(webhook_deliveries, webhook_targets.c.url, webhook_targets.c.secret).join(
        webhook_targets, webhook_targets.c.id == webhook_deliveries.c.target_id
    )
    return conn.execute(rows.where(webhook_deliveries.c.id.in_(ids), leases.held_by(webhook_deliveries, owner))).all()


def write_back(conn: Connection, delivery_id: int, owner: str, values: dict) -> None:
    """Record an attempt's outcome, only while ``owner`` still holds the delivery's lease."""
    mine = (webhook_deliveries.c.id == delivery_id) & leases.held_by(webhook_deliveries, owner)
    conn.execute(update(webhook_deliveries).where(mine).values(**values))


def deliveries(conn: Connection, limit: int = 200, case_id: int | None = None) -> list[Row]:
    """The newest deliveries (of one handling record when ``case_id`` is given)."""
    query = select(webhook_deliveries).order_by(webhook_deliveries.c.id.desc()).limit(limit)
    if case_id is not None:
        query = query.where(webhook_deliveries.c.case_id == case_id)
    return conn.execute(query).all()
