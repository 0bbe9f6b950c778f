"""``hcp server backup`` while a terminal keeps pushing signed batches to a real server process, then
``hcp server restore``: every rating acknowledged before the backup began is in the restored database."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest
from ops_helpers import ROOT, Terminal, start_server, stop, wait_healthy

from sync_server.db import Store


def hcp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "haochaping.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


class Pusher(threading.Thread):
    """Pushes batches of 20 ratings until told to stop; remembers when each batch was acknowledged."""

    def __init__(self, terminal: Terminal):
        super().__init__(daemon=True)
        self.terminal, self.stop_now = terminal, threading.Event()
        self.acked: list[tuple[float, list[str]]] = []  # (monotonic time of the answer, ids stored)
        self.error: str | None = None

    def run(self) -> None:
        n = 0
        while not self.stop_now.is_set():
            batch = [self.terminal.rating(f"B-{n + i}") for i in range(20)]
            n += 20
            answer = self.terminal.push(batch)
            if answer.status_code != 200:
                self.error = answer.text
                return
            ids = [r["id"] for r in answer.json()["results"] if r["status"] in ("stored", "duplicate")]
            self.acked.append((time.monotonic(), ids))


@pytest.mark.slow
def test_backup_taken_under_load_restores_every_acknowledged_rating(server_db, tmp_path):
    url, store = server_db
    proc, base = start_server(url, tmp_path / "server.log")
    try:
        wait_healthy(proc, base, tmp_path / "server.log")
        with httpx.Client(base_url=base, timeout=30) as client:
            pusher = Pusher(Terminal(client, store))
            pusher.start()
            while sum(len(ids) for _, ids in pusher.acked) < 200 and pusher.is_alive():
                time.sleep(0.05)
            began = time.monotonic()
            done = hcp("server", "backup", "--db", url, "--out", str(tmp_path / "backup.db"))
            ended = time.monotonic()
            time.sleep(0.3)  # ratings keep arriving after the backup
            pusher.stop_now.set()
            pusher.join(30)
    finally:
        stop(proc)
    assert pusher.error is None, pusher.error
    assert done.returncode == 0, done.stderr
    assert "完整性检查通过" in done.stdout
    before = {i for at, ids in pusher.acked if at < began for i in ids}
    during_or_after = {i for at, ids in pusher.acked if at > ended for i in ids}
    assert len(before) >= 200 and during_or_after  # it really was under load

    target = tmp_path / "restored" / "server.db"
    restored = hcp("server", "restore", str(tmp_path / "backup.db"), "--db", f"sqlite:///{target}")
    assert restored.returncode == 0, restored.stderr
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in conn.execute("SELECT id FROM records WHERE kind = 'rating'")}
        ratings = {r[0] for r in conn.execute("SELECT record_id FROM ratings")}
    assert before <= stored, f"{len(before - stored)} acknowledged ratings missing from the restored database"
    assert stored <= ratings  # each stored rating record has its rating row: one consistent snapshot


def test_restore_refuses_a_database_with_data_unless_forced(server_db, tmp_path):
    url, _store = server_db
    assert hcp("server", "backup", "--db", url, "--out", str(tmp_path / "b.db")).returncode == 0
    refused = hcp("server", "restore", str(tmp_path / "b.db"), "--db", url)
    assert refused.returncode == 2
    assert "已有数据" in refused.stderr and "--force" in refused.stderr
    forced = hcp("server", "restore", str(tmp_path / "b.db"), "--db", url, "--force")
    assert forced.returncode == 0, forced.stderr


def test_backup_and_restore_refuse_what_they_cannot_do(tmp_path):
    garbage = tmp_path / "not-a-backup.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    answer = hcp("server", "restore", str(garbage), "--db", f"sqlite:///{tmp_path / 'new.db'}")
    assert answer.returncode == 2 and "不是可用的 SQLite 数据库" in answer.stderr
    assert not (tmp_path / "new.db").exists()
    pg = hcp("server", "backup", "--db", "postgresql+psycopg://u@127.0.0.1/x", "--out", str(tmp_path / "x"))
    assert pg.returncode == 2 and "pg_dump" in pg.stderr


def test_store_reads_the_restored_database(server_db, tmp_path):
    url, _ = server_db
    assert hcp("server", "backup", "--db", url, "--out", str(tmp_path / "b.db")).returncode == 0
    target = f"sqlite:///{tmp_path / 'r.db'}"
    assert hcp("server", "restore", str(tmp_path / "b.db"), "--db", target).returncode == 0
    from sync_server.configs import current_config

    store = Store.from_url(target)
    with store.read() as conn:
        assert current_config(conn) is not None  # the imported hall configuration came back
    store.dispose()
