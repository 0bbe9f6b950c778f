"""The server's storage layer: SQLAlchemy Core tables, one engine factory for SQLite and PostgreSQL, migrations.

Every time column holds an ISO 8601 UTC string with milliseconds (``utc_iso``), so that comparisons work
the same on both databases. The schema is created and changed only by the Alembic migrations in
``sync_server/alembic``; ``METADATA`` mirrors them for queries (a test checks they agree).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

DEFAULT_DB_URL = "sqlite:///var/server.db"
ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"
_PG_MIGRATION_LOCK = 4_502_102  # pg_advisory_lock key: one migrator at a time

METADATA = MetaData()


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, the one time format of the database."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


config_versions = Table(
    "config_versions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(32), nullable=False),
    Column("content", Text, nullable=False, comment="HallConfig JSON: hall, reasons, rules"),
    Column("source", Text, nullable=False, comment="where it was imported from"),
    Column("imported_at", String(40), nullable=False),
)

devices = Table(
    "devices",
    METADATA,
    Column("id", String(64), primary_key=True),
    Column("window", String(32), nullable=False),
    Column("secret_hex", String(128), nullable=False, comment="kept to verify HMACs; never shown again"),
    Column("enrolled_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    Column("last_seen_at", String(40)),
    Column("last_status", Text, comment="JSON of the last POST /api/v1/status"),
)

enrolment_codes = Table(
    "enrolment_codes",
    METADATA,
    Column("code_hash", String(64), primary_key=True),
    Column("window", String(32), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("used_at", String(40)),
    Column("device_id", String(64)),
)

nonces = Table(
    "nonces",
    METADATA,
    Column("device_id", String(64), ForeignKey("devices.id"), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("seen_at", Float, nullable=False, comment="unix seconds"),
)

records = Table(
    "records",
    METADATA,
    Column("id", String(128), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("seq", Integer, comment="per-device sequence; NULL for phone and default ratings"),
    Column("kind", String(32), nullable=False),
    Column("window", String(32)),
    Column("clerk_no", String(32)),
    Column("case_no", String(64)),
    Column("matter_code", String(64)),
    Column("level", Integer),
    Column("reasons", Text, nullable=False, comment="JSON list of reason codes"),
    Column("reasons_version", String(64)),
    Column("comment", Text),
    Column("channel", Integer),
    Column("prompted_at", String(40)),
    Column("occurred_at", String(40), nullable=False),
    Column("detail", Text, nullable=False, comment="JSON object"),
    Column("prev_hash", String(64)),
    Column("hash", String(64), nullable=False, comment="the hash the record claims"),
    Column("content_hash", String(64), nullable=False, comment="the hash of the content as received"),
    Column("source", String(16), nullable=False, comment="device | qr | default"),
    Column("received_at", String(40), nullable=False),
    Column("batch_id", String(32), nullable=False, comment="the ingest that stored it"),
    Column("flags", Text, nullable=False, server_default="", comment="comma-separated integrity flags"),
    Index("ix_records_device_seq", "device_id", "seq"),
    Index("ix_records_case", "case_no"),
)

record_conflicts = Table(
    "record_conflicts",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(128), nullable=False, index=True),
    Column("device_id", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("content", Text, nullable=False, comment="the conflicting record as received, JSON"),
    Column("received_at", String(40), nullable=False),
)

integrity_flags = Table(
    "integrity_flags",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False, index=True),
    Column("seq", Integer),
    Column("record_id", String(128)),
    Column("kind", String(32), nullable=False, comment="gap | broken_link | conflict | seq_reused"),
    Column("detail", Text, nullable=False),
    Column("flagged_at", String(40), nullable=False),
)

cases = Table(
    "cases",
    METADATA,
    Column("case_no", String(64), primary_key=True),
    Column("window", String(32)),
    Column("device_id", String(64)),
    Column("matter_code", String(64)),
    Column("clerk_no", String(32)),
    Column("prompted_at", String(40), comment="first prompt (or QR token issue) time"),
)

ratings = Table(
    "ratings",
    METADATA,
    Column("record_id", String(128), ForeignKey("records.id"), primary_key=True),
    Column("case_no", String(64), nullable=False, index=True),
    Column("level", Integer, nullable=False),
    Column("channel", Integer),
    Column("rated_at", String(40), nullable=False),
    Column("role", String(16), nullable=False, comment="counting | follow_up | superseded"),
    Column("assess_number", Integer, comment="1 for the counting rating, 2 for the 追评"),
)

case_systems = Table(
    "case_systems",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)

triggers = Table(
    "triggers",
    METADATA,
    Column("id", String(64), primary_key=True),
    Column("window", String(32), nullable=False),
    Column("case_no", String(64), nullable=False),
    Column("matter_code", String(64)),
    Column("case_system", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("delivered_at", String(40)),
    Column("acked_at", String(40)),
    Column("acked_by", String(64)),
    Column("refused_message", Text),
    Index("ix_triggers_window_open", "window", "acked_at"),
)

# ---------------------------------------------------------------- closed cases reported by the case system (0012)

closed_cases = Table(
    "closed_cases",
    METADATA,
    Column("case_no", String(64), primary_key=True),
    Column("matter_code", String(64), nullable=False),
    Column("window", String(32), nullable=False),
    Column("department", String(32), comment="the matter's department when it was reported"),
    Column("clerk_no", String(32), nullable=False),
    Column("accepted_at", String(40), nullable=False),
    Column("closed_at", String(40), comment="NULL while the case system reports it still open"),
    Column("promised_days", Integer, comment="committed working days (承诺办结时限), when the case system knows them"),
    Column("content_hash", String(64), nullable=False, comment="sha256 of the content as first stored"),
    Column("source", String(80), nullable=False, comment="case system name, or 文件:<file name>"),
    Column("received_at", String(40), nullable=False),
    Column("closed_reported_at", String(40), comment="when the closing arrived"),
    Column("flags", Text, nullable=False, server_default="", comment="conflict when other content came later"),
    Index("ix_closed_cases_closed", "closed_at"),
    Index("ix_closed_cases_accepted", "accepted_at"),
)

closed_case_conflicts = Table(
    "closed_case_conflicts",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_no", String(64), nullable=False, index=True),
    Column("content", Text, nullable=False, comment="the other content as received, JSON"),
    Column("content_hash", String(64), nullable=False),
    Column("source", String(80), nullable=False),
    Column("received_at", String(40), nullable=False),
)

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


from sync_server.console import tables as _console_tables  # noqa: E402,F401 - the console's tables join METADATA
from sync_server.storage import assessment as _assessment_tables  # noqa: E402,F401 - and 考核 and 考勤
from sync_server.workflow import tables as _workflow_tables  # noqa: E402,F401 - and the workflow's
