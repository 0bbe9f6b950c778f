"""The audit log: the one writer (:func:`append_entry`, an append-only hash chain) and the reading side: one filter
(who, which action, which object, which China dates) for the console page, its total and its CSV export; pages go
back by id (keyset), so every entry ever written can be reached.

Every entry carries the hash of the entry before it and a hash over its own content (``entry_hash``). Entries are
chained under a lock: SQLite write transactions are serialised already (BEGIN IMMEDIATE), PostgreSQL takes a
transaction-level advisory lock, so two writers never chain onto the same predecessor. Checking the chain is
``workflow.auditchain.verify_chain``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, func, select, text

from sync_server.storage.rollups import day_bounds
from sync_server.storage.schema import audit_log, utc_iso

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 4_502_105
CONTENT = ("at", "actor", "action", "target", "detail", "address")


def entry_hash(prev_hash: str, at, actor, action, target, detail, address) -> str:
    """sha256 over the previous hash and the entry's stored content (the migration keeps a frozen copy)."""
    payload = json.dumps([prev_hash, at, actor, action, target, detail, address], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def chained(conn: Connection, values: dict) -> dict:
    """``values`` of a new audit entry with ``prev_hash`` and ``hash`` added (call inside the write transaction)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
    prev = conn.execute(last).scalar() or GENESIS
    return {**values, "prev_hash": prev, "hash": entry_hash(prev, *(values.get(k) for k in CONTENT))}


def entries_after(conn: Connection, after: int, limit: int) -> list:
    """Up to ``limit`` entries with an id above ``after``, in id order (the chain's order)."""
    return conn.execute(select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id).limit(limit)).all()


def append_entry(
    conn: Connection,
    now: datetime,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict | None = None,
    address: str | None = None,
) -> None:
    """Append one row to the audit log (the table refuses UPDATE and DELETE), chained to the row before it."""
    values = dict(
        at=utc_iso(now),
        actor=actor,
        action=action,
        target=target,
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
        address=address,
    )
    conn.execute(audit_log.insert().values(**chained(conn, values)))


def publication_hashes(conn: Connection, target: str) -> tuple[str, str, str] | None:
    """(content, xlsx, csv) hashes the audit log holds for the publication of a 通报 (its ``target``), or None."""
    detail = conn.execute(
        select(audit_log.c.detail)
        .where(audit_log.c.action == "report.publish", audit_log.c.target == target)
        .order_by(audit_log.c.id)
        .limit(1)
    ).scalar()
    if detail is None:
        return None
    found = json.loads(detail)
    return found.get("content_hash"), found.get("xlsx_hash"), found.get("csv_hash")


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    actions: tuple[str, ...] = ()  # one action code, or every code of a group (e.g. every 差评工单 step)
    target: str | None = None  # a part of the object's name
    first: date | None = None  # China dates, inclusive
    last: date | None = None

    def where(self) -> list:
        where = []
        if self.actor:
            where.append(audit_log.c.actor == self.actor)
        if self.actions:
            where.append(audit_log.c.action.in_(self.actions))
        if self.target:
            escaped = self.target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(audit_log.c.target.like(f"%{escaped}%", escape="\\"))
        if self.first:
            where.append(audit_log.c.at >= day_bounds(self.first)[0])
        if self.last:
            where.append(audit_log.c.at < day_bounds(self.last)[1])
        return where


def audit_page(conn: Connection, f: AuditFilter, before_id: int | None, limit: int) -> tuple[list, int | None]:
    """Up to ``limit`` entries, newest first, older than ``before_id``; and the id to continue from (None: last)."""
    where = f.where()
    if before_id is not None:
        where.append(audit_log.c.id < before_id)
    rows = conn.execute(select(audit_log).where(*where).order_by(audit_log.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def audit_total(conn: Connection, f: AuditFilter) -> int:
    return conn.execute(select(func.count()).select_from(audit_log).where(*f.where())).scalar_one()


def audit_entries(conn: Connection, f: AuditFilter, batch: int = 1000) -> Iterator:
    """Every entry of the filter, newest first, read in batches (for the export)."""
    before = None
    while True:
        rows, before = audit_page(conn, f, before, batch)
        yield from rows
        if before is None:
            return


def audit_actors(conn: Connection) -> list[str]:
    """Everyone who appears in the log (for the filter's list)."""
    return list(conn.execute(select(audit_log.c.actor).distinct().order_by(audit_log.c.actor)).scalars())
