"""Checking the audit log's hash chain: every entry carries the hash of the entry before it and a hash over its own
content, so an entry changed or removed in the database breaks the chain at that point (``hcp server audit verify``).

The chain is written by ``storage.auditlog.append_entry`` (under a lock, see there).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from sync_server.storage.auditlog import CONTENT, GENESIS, entries_after, entry_hash

__all__ = ["GENESIS", "ChainBreak", "entry_hash", "verify_chain"]


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
        rows = entries_after(conn, after, chunk)
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
