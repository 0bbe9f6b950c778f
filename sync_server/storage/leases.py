"""Leases on queued rows, so that several server processes never send the same row at once (the webhook's
deliveries, the provincial upload's items).

A queue table has ``id``, ``state``, ``next_attempt_at``, ``lease_owner`` and ``lease_until``. ``lease_due`` picks
due rows that no live lease holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock serialises the
writers) and marks them with the owner and the lease's end; a row is then written back only by the owner named on it
(``held_by``). A lease that ran out (its process died) frees the row for the next sender.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Table, or_, select, update

from sync_server.storage.schema import utc_iso

PENDING, DELIVERED = "pending", "delivered"


def backoff_s(attempts: int, first_s: float, cap_s: float) -> float:
    """Seconds to wait after the ``attempts``-th failure: first, twice that, four times … up to the cap."""
    return min(first_s * 2 ** max(attempts - 1, 0), cap_s)


def attempt_values(
    attempts_before: int, status: int | None, error: str, now: datetime, first_s: float, cap_s: float
) -> tuple[bool, dict]:
    """Whether a POST answered 2xx, and what its row records: the attempt, its status or error, the lease given
    back, then delivered, or due again after the backoff (``backoff_s``)."""
    ok = status is not None and 200 <= status < 300
    attempts = attempts_before + 1
    values = dict(attempts=attempts, last_status=status, last_error=None if ok else error[:500])
    values.update(lease_owner=None, lease_until=None)
    if ok:
        values.update(state=DELIVERED, delivered_at=utc_iso(now))
    else:
        values["next_attempt_at"] = utc_iso(now + timedelta(seconds=backoff_s(attempts, first_s, cap_s)))
    return ok, values


def _free(table: Table, now_iso: str):
    return or_(table.c.lease_until.is_(None), table.c.lease_until < now_iso)


def lease_due(conn: Connection, table: Table, owner: str, now_iso: str, until_iso: str, limit: int) -> list[int]:
    """Lease up to ``limit`` due pending rows to ``owner`` until ``until_iso`` (inside the caller's write
    transaction); returns their ids, oldest due first."""
    query = (
        select(table.c.id)
        .where(table.c.state == PENDING, table.c.next_attempt_at <= now_iso, _free(table, now_iso))
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
    )
    ids = [r.id for r in conn.execute(query.with_for_update(skip_locked=True))]
    if ids:
        conn.execute(
            update(table)
            .where(table.c.id.in_(ids), _free(table, now_iso))
            .values(lease_owner=owner, lease_until=until_iso)
        )
    return ids


def held_by(table: Table, owner: str):
    """The WHERE condition of a write-back: only rows this owner still holds."""
    return table.c.lease_owner == owner
