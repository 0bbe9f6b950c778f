"""Server test helpers and fixtures: a migrated database on SQLite (a file in tmp_path) or PostgreSQL
(a fresh database per test session, dropped at the end), an in-process app with a fake clock, and a signing
device client.

A uniquely named module, because `from conftest import` is ambiguous when several test folders run together;
`conftest.py` re-exports the fixtures."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from testkit import ChainedRecords, FakeClock, fresh_pg_database

from bench.kit import ServerProcess
from haochaping.signing import sign_headers

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "config"


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this test session; FAILS (never skips) when PostgreSQL is unreachable."""
    with fresh_pg_database("hcp_test") as url:
        yield url


def _empty_pg(url: str):
    """Drop every table, so each test starts from a freshly migrated schema."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, made once; each test gets a copy (migrating every time is slow)."""
    import sqlite3

    from sync_server.db import Store, migrate

    path = tmp_path_factory.mktemp("template") / "server.db"
    store = Store.from_url(f"sqlite:///{path}")
    migrate(store)
    store.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")  # everything in the one file
    return path


def _truncate_pg(url: str) -> None:
    """Empty every table but Alembic's, so a test starts from a migrated, empty database."""
    from sqlalchemy import create_engine, text

    from sync_server.db import Store, current_revision, migrate

    store = Store.from_url(url)
    if current_revision(store) is None:
        migrate(store)
    store.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        names = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        ).scalars()
        quoted = ", ".join('"' + n + '"' for n in names)
        conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        import shutil

        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "server.db")
        return f"sqlite:///{tmp_path / 'server.db'}"
    url = request.getfixturevalue("pg_url")
    _truncate_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'server.db'}"


@contextlib.contextmanager
def migrated_store(url: str):
    """A store on ``url`` with the schema migrated to the newest revision, disposed afterwards."""
    from sync_server.db import Store, migrate

    s = Store.from_url(url)
    migrate(s)
    try:
        yield s
    finally:
        s.dispose()


@pytest.fixture
def store(db_url):
    with migrated_store(db_url) as s:
        yield s


@pytest.fixture
def sqlite_store(sqlite_url):
    with migrated_store(sqlite_url) as s:
        yield s


@pytest.fixture
def server_clock():
    """The server's fake clock, set to real time (device signatures carry the timestamp it checks)."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


TEST_CONTACT_KEY = "9dcKv8x1Yp0XlQyFa3n8rS2b0zY3j8m5b7XQm2cYt0w="  # the test server's contact_key (Fernet, 32 bytes)


def make_client(store, clock, contact_key: str = TEST_CONTACT_KEY):
    """The app over ``store`` with the fake clock; its settings carry the test contact key (``""``: none)."""
    from fastapi.testclient import TestClient

    from sync_server.app import create_app
    from sync_server.settings import ServerSettings

    app = create_app(store, clock=clock, settings=ServerSettings(contact_key=contact_key))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(store, server_clock):
    with make_client(store, server_clock) as c:
        yield c


@pytest.fixture
def configured(store, server_clock):
    from sync_server.configs import import_config

    return import_config(store, CONFIG_DIR, "rules/default.toml", server_clock())[0]


class Kiosk(ChainedRecords):
    """A terminal as the server sees it: enrols, makes chained records and signs requests."""

    def __init__(self, client, clock, window: str = "A01", store=None):
        from sync_server.devices import add_enrolment_code

        self.client, self.clock = client, clock
        code, _ = add_enrolment_code(store or client.app.state.store, window, clock())
        body = client.post("/api/v1/enroll", json={"code": code}).json()
        super().__init__(body["device_id"], body["window"])
        self.secret = bytes.fromhex(body["secret"])

    def record(self, kind: str = "rating", when: datetime | None = None, **fields) -> dict:
        """A record made now (the test's clock); a rating is 非常满意 unless told otherwise."""
        if kind == "rating":
            fields = {"level": 5, **fields}
        return super().record(kind, when or self.clock(), **fields)

    def headers(self, method: str, path: str, body: bytes, now_s: float | None = None, secret: bytes | None = None):
        now_s = self.clock().timestamp() if now_s is None else now_s
        h = sign_headers(self.device_id, secret or self.secret, method, path, body, now_s)
        h["Content-Type"] = "application/json"
        return h

    def post(self, path: str, payload, **sign):
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        return self.client.post(path, content=body, headers=self.headers("POST", path, body, **sign))

    def get(self, path: str, extra: dict | None = None, **sign):
        headers = self.headers("GET", path, b"", **sign)
        headers.update(extra or {})
        return self.client.get(path, headers=headers)

    def push(self, records: list[dict], **sign):
        return self.post("/api/v1/records", {"records": records}, **sign)


@pytest.fixture
def kiosk(client, server_clock):
    return Kiosk(client, server_clock)


def count(store, table) -> int:
    from sqlalchemy import func, select

    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@contextlib.contextmanager
def server_process(db_url: str, log_path: Path):
    """A real ``hcp server`` on a free loopback port; yields its base URL and stops it afterwards."""
    server = ServerProcess(db_url, log_path)
    try:
        yield server.start().url
    finally:
        server.stop()


def real_clock() -> datetime:
    return datetime.now(UTC)


ROLLUPS = ("rating_rollup", "rating_rollup_month", "rating_trend", "case_rollup", "case_rollup_month", "case_trend")


def kept_and_rebuilt_rollups(store) -> tuple[dict, dict]:
    """The rollups as ingest kept them and as a rebuild makes them (in a transaction rolled back afterwards)."""
    from sync_server.storage.rollups import rebuild
    from sync_server.storage.schema import METADATA

    def read(conn) -> dict:
        tables = {}
        for name in ROLLUPS:
            table = METADATA.tables[name]
            counts = [c.name for c in table.columns if not c.primary_key]
            rows = conn.execute(select(table)).mappings().all()
            tables[name] = {
                tuple(r[c.name] for c in table.primary_key.columns): tuple(r[c] for c in counts)
                for r in rows
                if any(r[c] for c in counts)
            }
        return tables

    with store.engine.connect().execution_options(hcp_write=True) as conn:
        transaction = conn.begin()
        try:
            kept = read(conn)
            rebuild(conn)
            return kept, read(conn)
        finally:
            transaction.rollback()
