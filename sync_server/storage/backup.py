"""Backup and restore of a SQLite server database with SQLite's online backup API.

``backup`` copies the whole database in one step of ``sqlite3.Connection.backup``: the copy is one consistent
snapshot (a read transaction in WAL mode), taken while the server keeps storing ratings, and every rating
acknowledged before the backup began is in it. The copy is written to a temporary file beside the target,
checked with ``PRAGMA integrity_check`` and then renamed into place, so a half-written backup never carries
the target's name. ``restore`` copies a checked backup into the server's database file (stop the server
first) and refuses to overwrite a database that holds data unless told to.

PostgreSQL is backed up with ``pg_dump``/``pg_restore`` (see ``deploy/README.md``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sync_server.errors import ServerError

DATA_TABLES = ("records", "devices", "config_versions", "ratings")


class BackupError(ServerError):
    """A backup or restore could not be made; nothing was overwritten."""

    status = 500


class NotSqlite(BackupError):
    """The database is not a SQLite file (PostgreSQL: use pg_dump / pg_restore)."""


class TargetNotEmpty(BackupError):
    """The restore target already holds data and ``--force`` was not given."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    records: int


def sqlite_path(db_url: str) -> Path:
    """The file behind ``sqlite:///path``; NotSqlite for anything else."""
    if not db_url.startswith("sqlite:///") or db_url.endswith(":memory:"):
        raise NotSqlite(
            "备份/恢复命令只用于 SQLite 数据库；PostgreSQL 请使用 pg_dump / pg_restore（见 deploy/README.md）"
        )
    return Path(db_url.removeprefix("sqlite:///"))


def backup(db_url: str, out: Path | str) -> BackupResult:
    """Take a consistent online copy of the server database into ``out`` (atomically replaced)."""
    source_path, out = sqlite_path(db_url), Path(out)
    if not source_path.is_file():
        raise BackupError(f"数据库文件不存在：{source_path}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.unlink(missing_ok=True)
    try:
        with contextlib.closing(_connect(source_path)) as src, contextlib.closing(sqlite3.connect(tmp)) as dst:
            src.backup(dst)  # pages=-1: one step, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        check_integrity(tmp)
        _fsync(tmp)
        os.replace(tmp, out)
    except sqlite3.Error as e:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"备份失败：{e}") from e
    return BackupResult(out, out.stat().st_size, count_rows(out, "records"))


def restore(backup_file: Path | str, db_url: str, force: bool = False) -> BackupResult:
    """Copy a checked backup into the database file of ``db_url``, then bring its schema up to date."""
    backup_file, target = Path(backup_file), sqlite_path(db_url)
    if not backup_file.is_file():
        raise BackupError(f"备份文件不存在：{backup_file}")
    check_integrity(backup_file)
    if not force and holds_data(target):
        raise TargetNotEmpty(f"目标数据库 {target} 已有数据；确认覆盖请加 --force（建议先备份它）")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.closing(sqlite3.connect(backup_file)) as src, contextlib.closing(_connect(target)) as dst:
            src.backup(dst)
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as e:
        raise BackupError(f"恢复失败：{e}") from e
    _migrate(db_url)
    return BackupResult(target, target.stat().st_size, count_rows(target, "records"))


def check_integrity(path: Path) -> None:
    """``PRAGMA integrity_check`` must answer ``ok`` and the file must be a server database."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            answer = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as e:
        raise BackupError(f"{path} 不是可用的 SQLite 数据库：{e}") from e
    if answer != ["ok"]:
        raise BackupError(f"{path} 未通过完整性检查：{'; '.join(answer[:3])}")
    if "alembic_version" not in tables or "records" not in tables:
        raise BackupError(f"{path} 不是好差评服务器的数据库")


def holds_data(path: Path) -> bool:
    """Does the file exist with any row in the tables that matter?"""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            return any(conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() for t in DATA_TABLES if t in tables)
    except sqlite3.Error:
        return True  # unreadable: do not overwrite it without --force


def count_rows(path: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _migrate(db_url: str) -> None:
    from sync_server.db import Store, migrate

    store = Store.from_url(db_url)
    try:
        migrate(store)
    finally:
        store.dispose()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
