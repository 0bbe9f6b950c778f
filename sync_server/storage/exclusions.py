"""Excluding a rating from the statistics (an upheld appeal) and lifting that exclusion, with the rollup kept in
step in the same transaction. The rating itself is never touched: it stays stored, visible and exportable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from sync_server.storage.rollups import apply_rollup_delta, cases_of_records, rollup_snapshot
from sync_server.storage.schema import rating_exclusions, utc_iso


def exclude_rating(conn: Connection, record_id: str, reason: str, now: datetime, appeal_id: str | None = None) -> int:
    """Exclude one rating (inside the caller's write transaction); returns the exclusion's id."""
    case_nos = cases_of_records(conn, [record_id])
    before = rollup_snapshot(conn, case_nos)
    new_id = conn.execute(
        rating_exclusions.insert().values(
            record_id=record_id, reason=reason, appeal_id=appeal_id, excluded_at=utc_iso(now)
        )
    ).inserted_primary_key[0]
    apply_rollup_delta(conn, before, case_nos)
    return new_id


def lift_exclusion(conn: Connection, record_id: str, now: datetime) -> int:
    """Lift every active exclusion of one rating (it counts again); returns how many were lifted."""
    case_nos = cases_of_records(conn, [record_id])
    before = rollup_snapshot(conn, case_nos)
    lifted = conn.execute(
        update(rating_exclusions)
        .where(rating_exclusions.c.record_id == record_id, rating_exclusions.c.lifted_at.is_(None))
        .values(lifted_at=utc_iso(now))
    ).rowcount
    apply_rollup_delta(conn, before, case_nos)
    return lifted


def is_excluded(conn: Connection, record_id: str) -> bool:
    query = select(rating_exclusions.c.id).where(
        rating_exclusions.c.record_id == record_id, rating_exclusions.c.lifted_at.is_(None)
    )
    return conn.execute(query.limit(1)).first() is not None
