"""The audit log's hash chain: every entry carries the hash of the entry before it and a hash over its own content,
so an entry changed or removed in the database breaks the chain at that point (``hcp server audit verify``).

Entries are chained under a lock: SQLite write transactions are serialised already (BEGIN IMMEDIATE), PostgreSQL
takes a transaction-level advisory lock, so two writers never chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Connection, select, text

from sync_server.storage.schema import audit_log

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


@dataclass(frozen=True)
class ChainBreak:
    entry_id: int
    at: str
    actor: str
    action: str
    problem: str

    def describe(self) -> str:
        return f"审计日志第 {self.entry_id} 条（{self.at} {self.actor} {self.action}）{self.problem}"


def verify_chain(conn: Connection, chunk: int = 1000) -> tuple[int, ChainBreak | None]:
    """(entries checked, the first broken entry or None)."""
    expected, checked, after = GENESIS, 0, 0
    while True:
        rows = conn.execute(select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id).limit(chunk)).all()
        if not rows:
            return checked, None
        for row in rows:
            problem = _problem(row, expected)
            if problem:
                return checked, ChainBreak(row.id, row.at, row.actor, row.action, problem)
            expected, checked, after = row.hash, checked + 1, row.id


def _problem(row, expected: str) -> str:
    if row.prev_hash != expected:
        return "与前一条记录不衔接：其前的记录被删除、插入或改动"
    if row.hash != entry_hash(row.prev_hash, *(getattr(row, k) for k in CONTENT)):
        return "的内容与其散列不符：此条记录被改动"
    return ""
