"""The server's database connection: one engine factory for SQLite and PostgreSQL, the ``Store`` that hands out
transactions, and the migrations that make the schema (``sync_server/storage/schema.py`` mirrors them)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite

DEFAULT_DB_URL = "sqlite:///var/server.db"
ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"
_PG_MIGRATION_LOCK = 4_502_102  # pg_advisory_lock key: one migrator at a time

# ---------------------------------------------------------------- engine


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///path`` (WAL, foreign keys, busy timeout) or ``postgresql+psycopg://...``."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)


def _sqlite_engine(url: str) -> Engine:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # One pooled connection per request thread (anyio runs up to 40), so a rush of requests does not open and
    # close connections (each opening sets four PRAGMAs) while it lasts.
    connect_args = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, connect_args=connect_args, pool_size=40, max_overflow=10)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=FULL"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A write transaction takes the write lock up front, so two writers never deadlock on upgrade.
        write = conn.get_execution_options().get("hcp_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Store:
    """The database behind the server: ``read()`` and ``write()`` give a connection inside a transaction."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(make_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(hcp_write=True) as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def driver(self) -> Iterator:
        """A pooled connection of the database driver itself, outside any transaction of ours. Only for the one
        statement of the busiest page (the QR page, a whole queue of phones at once), where SQLAlchemy's work per
        statement costs more than the query; a lone SELECT is consistent on its own."""
        raw = self.engine.raw_connection()
        try:
            yield raw
        finally:
            raw.close()  # back to the pool, which rolls back whatever the driver began

    def ping(self) -> None:
        """Ask the database the simplest question; raises when it does not answer."""
        with self.read() as conn:
            conn.exec_driver_sql("SELECT 1")

    def insert(self, table: Table):
        """A dialect-specific INSERT that supports ``on_conflict_do_nothing``/``_update``."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    def dispose(self) -> None:
        self.engine.dispose()


def migrate(store: Store) -> None:
    """Bring the schema to the newest migration (safe to call from several processes at once)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if store.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()


def current_revision(store: Store) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
