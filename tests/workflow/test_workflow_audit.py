"""The audit log's hash chain: ``hcp server audit verify`` passes an intact log, names the first entry changed or
removed directly in the database, and the chain holds under concurrent writers and across the 0004 migration."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime

from sqlalchemy import select, text
from workflow_helpers import actor, china, empty_pg

from haochaping.cli import main as hcp
from sync_server.console.accounts import write_audit
from sync_server.db import ALEMBIC_DIR, Store, migrate
from sync_server.storage.schema import audit_log
from sync_server.workflow.auditchain import verify_chain
from sync_server.workflow.cases import StepForm, take_step
from sync_server.workflow.machine import Step


def verify(db_url: str, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = hcp(["server", "audit", "verify", "--db", db_url])
    return code, capsys.readouterr().out


def audited_history(store, terminals) -> list:
    terminals["A01"].rate(1, china(2026, 11, 2))
    now = china(2026, 11, 2, 11)
    take_step(store, 1, Step.VERIFY_FALSE, actor("sc_reviewer"), now, StepForm("不属实"))
    take_step(store, 1, Step.APPEAL, actor("sc_reviewer"), now, StepForm("恶意差评", category="malicious"))
    take_step(store, 1, Step.UPHOLD, actor("admin"), now, StepForm("成立"))
    with store.read() as conn:
        return conn.execute(select(audit_log).order_by(audit_log.c.id)).all()


def tamper(db_url: str, *statements: str) -> None:
    """What someone with the database file could do: drop the append-only triggers and edit rows."""
    conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def test_an_intact_log_verifies(store, terminals, db_url, capsys):
    rows = audited_history(store, terminals)
    assert [r.action for r in rows[-2:]] == ["case.appeal", "case.uphold"]
    assert rows[0].prev_hash == "0" * 64 and all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    code, out = verify(db_url, capsys)
    assert code == 0 and f"审计日志完整（共 {len(rows)} 条）" in out


def test_an_edited_entry_is_named(store, terminals, db_url, capsys):
    rows = audited_history(store, terminals)
    uphold = rows[-1]
    store.dispose()
    tamper(db_url, f"UPDATE audit_log SET actor = 'sc_reviewer' WHERE id = {uphold.id}")  # hide who decided
    code, out = verify(db_url, capsys)
    assert code == 1
    assert f"审计日志第 {uphold.id} 条" in out and "case.uphold" in out and "被改动" in out


def test_a_removed_entry_breaks_the_link_of_the_next_one(store, terminals, db_url, capsys):
    rows = audited_history(store, terminals)
    appeal, uphold = rows[-2], rows[-1]
    store.dispose()
    tamper(db_url, f"DELETE FROM audit_log WHERE id = {appeal.id}")
    code, out = verify(db_url, capsys)
    assert code == 1 and f"第 {uphold.id} 条" in out and "不衔接" in out


def test_the_table_still_refuses_updates_after_the_migration(store, terminals):
    audited_history(store, terminals)
    conn = sqlite3.connect(str(store.engine.url.database))
    try:
        conn.execute("UPDATE audit_log SET actor = 'x' WHERE id = 1")
        raise AssertionError("UPDATE was allowed")
    except sqlite3.DatabaseError as e:
        assert "append-only" in str(e)
    finally:
        conn.close()


def _write_concurrently(store: Store, writers: int = 4, each: int = 15) -> None:
    def work(n: int) -> None:
        for i in range(each):
            with store.write() as conn:
                write_audit(conn, datetime.now(UTC), f"writer-{n}", "test.concurrent", str(i))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_concurrent_writers_keep_one_chain_on_sqlite(store):
    _write_concurrently(store)
    with store.read() as conn:
        checked, broken = verify_chain(conn)
    assert broken is None and checked >= 60


def test_concurrent_writers_keep_one_chain_on_postgresql(pg_url):
    empty_pg(pg_url)
    store = Store.from_url(pg_url)
    migrate(store)
    _write_concurrently(store)
    with store.read() as conn:
        checked, broken = verify_chain(conn)
    store.dispose()
    assert broken is None and checked == 60


def test_entries_written_before_migration_0004_are_chained_by_it(tmp_path):
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store.from_url(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    with store.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, target, detail) "
                    "VALUES (:at, 'cli', 'user.add', :t, '{}')"
                ),
                {"at": f"2026-11-0{i + 1}T00:00:00.000+00:00", "t": f"user{i}"},
            )
        conn.commit()
    migrate(store)
    with store.write() as conn:
        write_audit(conn, datetime.now(UTC), "cli", "after.upgrade")
    with store.read() as conn:
        assert verify_chain(conn) == (4, None)
    store.dispose()
