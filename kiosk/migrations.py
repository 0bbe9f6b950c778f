"""Schema migrations of the kiosk outbox, applied in order and counted by ``PRAGMA user_version``.

Never edit a migration that has shipped: add the next one.
"""

from __future__ import annotations

import sqlite_utils

from kiosk.errors import OutboxError

MIGRATIONS: list[str] = [
    # 1: the record chain, immutable once written.
    """
    CREATE TABLE outbox (
        id TEXT NOT NULL UNIQUE,
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        device_id TEXT NOT NULL,
        window TEXT,
        clerk_no TEXT,
        case_no TEXT,
        matter_code TEXT,
        level INTEGER CHECK (level BETWEEN 1 AND 5),
        reasons TEXT NOT NULL DEFAULT '[]',
        reasons_version TEXT,
        comment TEXT,
        channel INTEGER,
        prompted_at TEXT,
        occurred_at TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX outbox_case ON outbox (case_no, kind);
    CREATE TRIGGER outbox_no_update BEFORE UPDATE ON outbox
        BEGIN SELECT RAISE(ABORT, '评价记录不可修改'); END;
    CREATE TRIGGER outbox_no_delete BEFORE DELETE ON outbox
        BEGIN SELECT RAISE(ABORT, '评价记录不可删除'); END;
    """,
    # 2: sync bookkeeping, kept apart from the records themselves.
    """
    CREATE TABLE acks (
        record_id TEXT PRIMARY KEY REFERENCES outbox (id),
        result TEXT NOT NULL,
        acked_at TEXT NOT NULL
    );
    CREATE TABLE kiosk_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 3: INSERT OR REPLACE deletes the old row without firing the delete trigger: refuse it.
    """
    CREATE TRIGGER outbox_no_replace BEFORE INSERT ON outbox
        WHEN EXISTS (SELECT 1 FROM outbox WHERE seq = NEW.seq OR id = NEW.id)
        BEGIN SELECT RAISE(ABORT, '评价记录不可修改（不可覆盖已保存的记录）'); END;
    """,
    # 4: the last prompt by index, not by scanning a table that grows for years.
    """
    CREATE INDEX outbox_kind_seq ON outbox (kind, seq);
    """,
]


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the database up to the latest schema, one migration per transaction."""
    version = schema_version(db)
    if version > len(MIGRATIONS):
        raise OutboxError(f"本地数据库版本 {version} 比本程序支持的 {len(MIGRATIONS)} 更新，请升级评价器程序")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.conn.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;")
    return schema_version(db)
