"""``hcp bench sync``: the sync path measured against a real server process on 127.0.0.1.

Prints one ``<name> <value> <unit>`` line per figure:

    sqlite.bare_insert_per_s        context only: the same rows inserted in the same batches into a bare SQLite table
    server.ingest_inprocess_per_s   the real ingest path (plan, store, settle, rollups, 差评工单) on the real schema
                                    in a SQLite file, called in-process: no HTTP; from the second batch on
    server.ingest_ratings_per_s     signed batches over HTTP into the server's SQLite file; from the second batch on
    server.ingest_sql_only_per_s    the SQL that in-process ingest sent to SQLite, replayed alone on a copy of the file:
                                    the ceiling of any ingest in Python on this schema
    server.inprocess_share_of_bare  in-process ingest ÷ the bare insert (target ≥ 0.25)
    server.sql_only_share_of_bare   that ceiling ÷ the bare insert
    server.http_share_of_inprocess  ingest over HTTP ÷ in-process ingest (target ≥ 0.50)
    sync.drain_10k_s                a kiosk outbox of 10,000 ratings emptied by the real SyncWorker
    server.qr_page_p50_ms / _p99_ms 100 phones fetching GET /r/<token> at the same moment, distinct valid tokens
    server.qr_page_spread_1s_p99_ms the same 100 phones arriving evenly over one second

``LocalServer`` (start, kill, restart an ``hcp server`` process; enrol a device) is shared with the
end-to-end tests. HTTP here goes through ``kiosk.sync`` or the standard library only.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.kit import CONFIG_DIR, ROOT, BenchError, ServerProcess, percentile


class LocalServer(ServerProcess):
    """An ``hcp server`` process on 127.0.0.1 with its own SQLite file in ``workdir``."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.workdir / "server.db"
        super().__init__(f"sqlite:///{self.db_path}", self.workdir / "server.log", port=port)

    # ------------------------------------------------------------ administration (the real CLI)

    def hcp(self, *args: str) -> str:
        command = [sys.executable, "-m", "haochaping.cli", "server", "--db", self.db_url, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
        if done.returncode != 0:
            raise BenchError(f"hcp server {' '.join(args)} 失败：{done.stdout}{done.stderr}")
        return done.stdout

    def import_config(self, config_dir: Path = CONFIG_DIR) -> str:
        return self.hcp("config", "import", "--config-dir", str(config_dir))

    def enrolment_code(self, window: str = "A01") -> str:
        out = self.hcp("device", "add", "--window", window)
        match = re.search(r"登记码[:：]\s*(\S+)", out)
        if not match:
            raise BenchError(f"输出中没有登记码：{out}")
        return match.group(1)

    def case_system_key(self, name: str = "办件系统") -> str:
        return self.hcp("casesystem", "add", "--name", name).strip().splitlines()[-1].strip()

    def stop(self) -> None:
        super().stop(grace_s=2)  # uvicorn waits for open long polls; do not wait for them long

    # ------------------------------------------------------------ reading its database

    def query(self, sql: str, *args) -> list[tuple]:
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()


def enrolled_identity(server: LocalServer, window: str = "A01"):
    """A device identity enrolled with ``server`` through the real enrolment endpoint."""
    from kiosk.identity import DeviceIdentity
    from kiosk.sync import exchange_enrolment_code, new_session

    answer = exchange_enrolment_code(server.url, server.enrolment_code(window), new_session())
    return DeviceIdentity(answer["device_id"], answer["secret"], True, server.url, answer["window"])


# A hall's usual mix over 20 ratings: mostly 非常满意, one in ten bad (差评, which carries a reason).
LEVEL_MIX = (5,) * 12 + (4,) * 4 + (3,) * 2 + (2, 1)


def fill_outbox(outbox, n: int, window: str = "A01", matter: str | None = None, prefix: str = "B") -> None:
    """``n`` ratings in ``LEVEL_MIX``, each a committed record of its own (as the kiosk makes them)."""
    now = datetime.now(UTC)
    for i in range(n):
        level = LEVEL_MIX[i % len(LEVEL_MIX)]
        outbox.append(
            "rating",
            now,
            window=window,
            clerk_no="1001",
            case_no=f"{prefix}{i:06d}",
            matter_code=matter,
            level=level,
            reasons=[level * 100 + 13] if level <= 2 else [],
            reasons_version="national-2019-v1",
            channel=4,
            prompted_at=now.isoformat(timespec="milliseconds"),
        )


# ---------------------------------------------------------------- the figures


def run(args) -> int:
    with tempfile.TemporaryDirectory(prefix="hcp-bench-sync-") as tmp:
        server = LocalServer(Path(tmp) / "server")
        server.import_config()
        server.start()
        try:
            for name, value, unit in measure(server, Path(tmp), getattr(args, "ratings", 10_000)):
                print(f"{name} {value} {unit}", flush=True)
        finally:
            server.stop()
    return 0


def measure(server: LocalServer, tmp: Path, n: int):
    rows = _prepared_records(server, tmp, n)
    bare = _sqlite_bare_insert(tmp / "bare.db", rows, _server_journal(server))
    yield "sqlite.bare_insert_per_s", f"{bare:.0f}", "rows/s"
    inprocess, sql_only = _ingest_inprocess_rate(tmp / "inprocess", rows)
    yield "server.ingest_inprocess_per_s", f"{inprocess:.0f}", "ratings/s"
    yield "server.ingest_sql_only_per_s", f"{sql_only:.0f}", "ratings/s"
    ingest_rate = _ingest_rate(server, rows)
    yield "server.ingest_ratings_per_s", f"{ingest_rate:.0f}", "ratings/s"
    yield "server.inprocess_share_of_bare", f"{inprocess / bare:.3f}", "ratio"
    yield "server.sql_only_share_of_bare", f"{sql_only / bare:.3f}", "ratio"
    yield "server.http_share_of_inprocess", f"{ingest_rate / inprocess:.3f}", "ratio"
    yield "sync.drain_10k_s", f"{_drain_seconds(server, tmp, 10_000):.2f}", "s"
    p50, p99 = _qr_page_ms(server, 100)
    yield "server.qr_page_p50_ms", f"{p50:.1f}", "ms"
    yield "server.qr_page_p99_ms", f"{p99:.1f}", "ms"
    _p50, spread_p99 = _qr_page_ms(server, 100, spread_s=1.0)
    yield "server.qr_page_spread_1s_p99_ms", f"{spread_p99:.1f}", "ms"


BATCH = 500


def _warm_up(records: list) -> int:
    """How many records go in untimed first: one batch (when more follow). Both ingest figures leave out what a
    process pays once, at its first batch (the holiday calendar behind the first 差评工单's deadline is loaded then,
    about 0.3 s), which is no part of the rate at which it ingests."""
    return BATCH if len(records) > BATCH else 0


def _prepared_records(server: LocalServer, tmp: Path, n: int) -> tuple:
    """An enrolled device and ``n`` chained records from a real outbox, ready to push."""
    from kiosk.outbox import Outbox

    identity = enrolled_identity(server)
    outbox = Outbox(tmp / "ingest-outbox.db", identity.device_id)
    fill_outbox_fast(outbox, n)
    records = outbox.pending(n)
    outbox.close()
    return identity, records


def fill_outbox_fast(outbox, n: int) -> None:
    """Like ``fill_outbox`` but without a durable commit per record (setup only, not measured)."""
    outbox.db.execute("PRAGMA synchronous=OFF")
    fill_outbox(outbox, n)
    outbox.db.execute("PRAGMA synchronous=FULL")


def _ingest_rate(server: LocalServer, prepared) -> float:
    from kiosk.sync import SyncClient, new_session

    identity, records = prepared
    client = SyncClient(server.url, identity, new_session(), lambda: datetime.now(UTC))
    warm_up = _warm_up(records)
    for i in range(0, warm_up, BATCH):
        client.push(records[i : i + BATCH])
    started = time.perf_counter()
    for i in range(warm_up, len(records), BATCH):
        response = client.push(records[i : i + BATCH])
        assert len(response["results"]) == len(records[i : i + BATCH])
    return (len(records) - warm_up) / (time.perf_counter() - started)


def _ingest_inprocess_rate(workdir: Path, prepared) -> tuple[float, float]:
    """The server's own ingest (``sync_server.ingest.ingest``) on a fresh, migrated and configured SQLite file,
    wired as the server wires it, the same records in the same batches; no HTTP, no signatures. Returns its rate
    and the rate of its SQL alone: every statement it sent to SQLite, captured as it ran and replayed afterwards on
    a copy of the file as it was before (``_replay_rate``), which no implementation of ingest in Python can beat."""
    from sqlalchemy import event

    from sync_server.configs import import_config
    from sync_server.db import Store, migrate
    from sync_server.ingest import ingest
    from sync_server.wiring import wire_settlement

    identity, records = prepared
    workdir.mkdir(parents=True, exist_ok=True)
    wire_settlement()
    store = Store.from_url(f"sqlite:///{workdir / 'server.db'}")
    statements: list[tuple[str, object, bool]] = []
    try:
        migrate(store)
        import_config(store, CONFIG_DIR, "rules/default.toml", datetime.now(UTC))
        warm_up, results = _warm_up(records), []
        for i in range(0, warm_up, BATCH):
            results += ingest(store, identity.device_id, records[i : i + BATCH], datetime.now(UTC), identity.window)
        _copy_sqlite(workdir / "server.db", workdir / "replay.db")

        @event.listens_for(store.engine, "before_cursor_execute")
        def _capture(_conn, _cursor, statement, parameters, _context, _executemany):
            # by the parameters' shape: SQLAlchemy's "insertmanyvalues" sends one multi-row INSERT with a flat tuple
            many = isinstance(parameters, list | tuple) and bool(parameters) and isinstance(parameters[0], list | tuple)
            statements.append((statement, parameters, many))

        started = time.perf_counter()
        for i in range(warm_up, len(records), BATCH):
            results += ingest(store, identity.device_id, records[i : i + BATCH], datetime.now(UTC), identity.window)
        elapsed = time.perf_counter() - started
        assert all(status == "stored" for _id, status in results)
    finally:
        store.dispose()
    timed = len(records) - warm_up
    return timed / elapsed, timed / _replay_rate(workdir / "replay.db", statements)


def _copy_sqlite(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _replay_rate(path: Path, statements: list[tuple[str, object, bool]]) -> float:
    """Seconds to run ``statements`` again on ``path`` straight through the driver, with the server's PRAGMAs;
    each transaction the server began (``BEGIN IMMEDIATE``) is committed where the next one begins, and at the end."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=FULL"):
        conn.execute(f"PRAGMA {pragma}")
    started = time.perf_counter()
    for sql, parameters, many in statements:
        if sql.startswith("BEGIN") and conn.in_transaction:
            conn.execute("COMMIT")
        if many:
            conn.executemany(sql, parameters)
        else:
            conn.execute(sql, parameters).fetchall()
    if conn.in_transaction:
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _server_journal(server: LocalServer) -> tuple[str, str]:
    """The server's journal mode as its file says; ``synchronous`` is per connection: the server sets FULL."""
    return server.query("PRAGMA journal_mode")[0][0], "FULL"


def _sqlite_bare_insert(path: Path, prepared, journal: tuple[str, str]) -> float:
    """The same rows inserted in the same batches into a bare SQLite table, one transaction per batch: context for
    the ingest figures on this machine, not a ceiling the server could reach (it checks, settles and counts)."""
    from haochaping.chain import RECORD_FIELDS

    _identity, records = prepared
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={journal[0]}")
    conn.execute(f"PRAGMA synchronous={journal[1]}")
    conn.execute(f"CREATE TABLE records ({', '.join(RECORD_FIELDS)}, PRIMARY KEY (id))")
    rows = [
        [json.dumps(r[k], ensure_ascii=False) if isinstance(r[k], list | dict) else r[k] for k in RECORD_FIELDS]
        for r in records
    ]
    insert = f"INSERT INTO records VALUES ({', '.join('?' * len(RECORD_FIELDS))})"
    started = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, rows[i : i + BATCH])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


def _drain_seconds(server: LocalServer, tmp: Path, n: int) -> float:
    from kiosk.outbox import Outbox
    from kiosk.sync import SyncClient, SyncPolicy, new_session
    from kiosk.syncworker import SyncWorker

    identity = enrolled_identity(server)
    outbox = Outbox(tmp / "drain-outbox.db", identity.device_id)
    fill_outbox_fast(outbox, n)
    policy = SyncPolicy(batch_size=BATCH, backoff_base_s=0.05, backoff_cap_s=1.0)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    client = SyncClient(server.url, identity, new_session(), clock, policy=policy)
    worker = SyncWorker(client, outbox, data_dir=tmp / "drain-data", window="A01", clock=clock, policy=policy)
    started = time.perf_counter()
    worker.start()
    try:
        while outbox.depth() and time.perf_counter() - started < 300:
            time.sleep(0.01)
        return time.perf_counter() - started
    finally:
        worker.stop()
        outbox.close()


def _qr_page_ms(server: LocalServer, phones: int, spread_s: float = 0.0) -> tuple[float, float]:
    """``phones`` phones open their QR links (distinct valid tokens) at the same moment, or spread evenly over
    ``spread_s`` seconds; p50 and p99 page times, each from opening the connection to the last byte of the page.

    Each phone is a device of its own; here all of them share one process on the machine that also runs the
    server. So the measuring side is as light as it can be: a minimal HTTP/1.1 client on asyncio streams (one new
    connection per phone, as a phone makes it), which checks the answer is the rating page. A general-purpose
    client (httpx) costs about as much per request as the server does, and would measure itself."""
    import asyncio

    from haochaping.qrtoken import make_token

    identity = enrolled_identity(server)
    now = datetime.now(UTC)
    paths = [f"/r/{make_token(identity.device_id, f'QR{i:05d}', now, identity.secret)}" for i in range(phones)]
    host, port = server.url.split("//", 1)[1].rsplit(":", 1)

    async def fetch(path: str, delay_s: float = 0.0) -> float:
        await asyncio.sleep(delay_s)
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = await reader.read()  # the server closes the connection after the page
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1].decode() if b" " in head else "?"
        if status != "200" or "非常满意".encode() not in body:
            raise BenchError(f"扫码评价页返回 {status}")
        return (time.perf_counter() - started) * 1000

    async def phones_open() -> list[float]:
        await asyncio.gather(*(fetch(p) for p in paths[:10]))  # warm up templates and caches
        step = spread_s / phones
        return await asyncio.gather(*(fetch(p, i * step) for i, p in enumerate(paths)))

    times = sorted(asyncio.run(phones_open()))
    return percentile(times, 50), percentile(times, 99)


def main() -> int:  # pragma: no cover - `python -m bench.sync`
    class Args:
        ratings = 10_000

    return run(Args())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
