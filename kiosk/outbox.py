"""The outbox: every record the terminal makes, committed durably to SQLite before anyone is thanked.

Records are never edited or deleted (SQLite triggers refuse it); sync acknowledgements live in a
table of their own. WAL journal, ``synchronous=FULL``: a committed record survives power loss.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlite_utils

from haochaping.chain import GENESIS_HASH, KINDS, RECORD_FIELDS, first_break, record_hash
from haochaping.moments import utc_iso
from kiosk.errors import OutboxError, OutboxFull, RecordImmutable
from kiosk.migrations import migrate

CASE_NO_MAX = 64
OUTCOME_KINDS = ("rating", "timeout", "interrupted", "phone_rated")  # how a prompt on screen ended


@dataclass(frozen=True)
class CaseHistory:
    """What this terminal already did for one case."""

    prompts: int = 0
    rated: bool = False  # at this kiosk, or by phone while its prompt was on screen
    interrupted_at: datetime | None = None  # when an interruption of its prompt was noticed (at start)


class Outbox:
    """The terminal's durable record store. Thread-safe: one connection behind a lock."""

    def __init__(self, path: Path | str, device_id: str):
        self.path = Path(path)
        self.device_id = device_id
        self._lock = threading.RLock()
        try:
            conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            migrate(self.db)
            self._acked_through = 0  # every record up to this seq is acknowledged (found again at each open)
            self._advance_acked_through()
        except sqlite3.DatabaseError as e:
            raise OutboxError(f"无法打开本地数据库 {self.path}：{e}") from e

    # ------------------------------------------------------------ writing

    def append(self, kind: str, occurred_at: datetime, **fields) -> dict:
        """Store one record, chained to the previous one, and commit it durably. Returns it."""
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}")
        unknown = set(fields) - set(RECORD_FIELDS)
        if unknown:
            raise ValueError(f"unknown record fields {sorted(unknown)}")
        with self._lock, self._write():
            last = self.db.execute("SELECT seq, hash FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            record = {k: None for k in RECORD_FIELDS}
            record.update(fields)
            record.update(
                id=fields.get("id") or uuid.uuid4().hex,
                seq=seq,
                kind=kind,
                device_id=self.device_id,
                occurred_at=utc_iso(occurred_at),
                reasons=list(fields.get("reasons") or []),
                detail=dict(fields.get("detail") or {}),
                prev_hash=prev,
            )
            record["hash"] = record_hash(record)
            self.db.execute(
                f"INSERT INTO outbox ({', '.join(RECORD_FIELDS)}) VALUES ({', '.join('?' * len(RECORD_FIELDS))})",
                [_to_column(record[k]) for k in RECORD_FIELDS],
            )
        return record

    def _write(self):
        return _Transaction(self.db.conn)

    def mark_acknowledged(self, ids: list[str], result: str, at: datetime) -> None:
        """Record the server's explicit acknowledgement of these records, in one transaction."""
        with self._lock, self._write():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO acks (record_id, result, acked_at) VALUES (?, ?, ?)",
                [(i, result, utc_iso(at)) for i in ids],
            )
            self._advance_acked_through()

    def _advance_acked_through(self) -> None:
        """Move the mark past the acknowledged prefix, so pending() and depth() never rescan years of records."""
        row = self.db.execute(
            "SELECT min(o.seq) FROM outbox o LEFT JOIN acks a ON a.record_id = o.id "
            "WHERE o.seq > ? AND a.record_id IS NULL",
            [self._acked_through],
        ).fetchone()
        if row[0] is not None:
            self._acked_through = row[0] - 1
        else:
            self._acked_through = self.db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]

    def set_state(self, key: str, value) -> None:
        """Keep one piece of terminal state (last sync, clock offset, ...)."""
        with self._lock, self._write():
            self.db.execute(
                "INSERT INTO kiosk_state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, json.dumps(value, ensure_ascii=False)],
            )

    # ------------------------------------------------------------ reading

    def state(self, key: str, default=None):
        with self._lock:
            row = self.db.execute("SELECT value FROM kiosk_state WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def records(self, after_seq: int = 0, kind: str | None = None) -> Iterator[dict]:
        sql = "SELECT * FROM outbox WHERE seq > ?" + (" AND kind = ?" if kind else "")
        args = [after_seq] + ([kind] if kind else [])
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY seq", args).fetchall()
        return (_from_row(r) for r in rows)

    def pending(self, limit: int = 100) -> list[dict]:
        """Committed records the server has not acknowledged yet, oldest first."""
        with self._lock:
            rows = self.db.execute(
                "SELECT o.* FROM outbox o LEFT JOIN acks a ON a.record_id = o.id "
                "WHERE o.seq > ? AND a.record_id IS NULL ORDER BY o.seq LIMIT ?",
                [self._acked_through, limit],
            ).fetchall()
        return [_from_row(r) for r in rows]

    def depth(self) -> int:
        """How many records wait for the server."""
        with self._lock:
            return self.db.execute(
                "SELECT count(*) FROM outbox o LEFT JOIN acks a ON a.record_id = o.id "
                "WHERE o.seq > ? AND a.record_id IS NULL",
                [self._acked_through],
            ).fetchone()[0]

    def case_status(self, case_no: str) -> str | None:
        """'rated', 'prompted' or None: what this terminal already did for a case."""
        history = self.case_history(case_no)
        return "rated" if history.rated else "prompted" if history.prompts else None

    def case_history(self, case_no: str) -> CaseHistory:
        """Prompts, rating and noticed interruption of one case (read by the case index)."""
        with self._lock:
            rows = self.db.execute(
                "SELECT kind, occurred_at FROM outbox "
                "WHERE case_no = ? AND kind IN ('prompt', 'rating', 'interrupted', 'phone_rated')",
                [case_no],
            ).fetchall()
        interrupted = [datetime.fromisoformat(at) for kind, at in rows if kind == "interrupted"]
        return CaseHistory(
            prompts=sum(1 for kind, _ in rows if kind == "prompt"),
            rated=any(kind in ("rating", "phone_rated") for kind, _ in rows),
            interrupted_at=max(interrupted) if interrupted else None,
        )

    def unfinished_prompt(self) -> dict | None:
        """The last prompt if no outcome (rating, timeout, interruption) followed it: the terminal stopped with it
        on screen."""
        with self._lock:
            row = self.db.execute("SELECT * FROM outbox WHERE kind = 'prompt' ORDER BY seq DESC LIMIT 1").fetchone()
            if row is None:
                return None
            prompt = _from_row(row)
            ended = self.db.execute(
                f"SELECT 1 FROM outbox WHERE case_no = ? AND kind IN {OUTCOME_KINDS} AND seq > ? LIMIT 1",
                [prompt["case_no"], prompt["seq"]],
            ).fetchone()
        return None if ended else prompt

    def last_prompt_at(self) -> datetime | None:
        with self._lock:
            row = self.db.execute(
                "SELECT occurred_at FROM outbox WHERE kind = 'prompt' ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def verify_chain(self) -> int | None:
        """The sequence number where the stored chain first breaks, or None if it holds."""
        return first_break(self.records())

    def checkpoint(self) -> int:
        """Copy the write-ahead log into the database file and truncate it (``PRAGMA wal_checkpoint(TRUNCATE)``),
        so the ``-wal`` file does not grow without bound on a terminal that runs for years. Returns the WAL pages
        that were still waiting (0 after a complete checkpoint)."""
        with self._lock:
            try:
                busy, logged, _copied = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.DatabaseError as e:
                raise _translate(e) from e
        return logged if busy else 0

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, translating SQLite's refusals into outbox errors."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise _translate(e) from e

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
                return False
            except sqlite3.DatabaseError as e:
                self.conn.execute("ROLLBACK")
                raise _translate(e) from e
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.DatabaseError):
            raise _translate(exc) from exc
        return False


def _translate(e: sqlite3.DatabaseError) -> OutboxError:
    text = str(e)
    if "full" in text:
        return OutboxFull("存储空间已满，本条记录未能保存；已保存的记录完好")
    if "不可修改" in text or "不可删除" in text:
        return RecordImmutable(text)
    return OutboxError(f"本地数据库错误：{text}")


def _to_column(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value


def _from_row(row: tuple) -> dict:
    record = dict(zip(RECORD_FIELDS, row, strict=True))
    record["reasons"] = json.loads(record["reasons"] or "[]")
    record["detail"] = json.loads(record["detail"] or "{}")
    return record
