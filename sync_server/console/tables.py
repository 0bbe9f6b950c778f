"""The console's tables: users, sessions, sign-in attempts, the append-only audit log, rating exclusions and the
daily rollups the dashboard reads. They live on the server's ``METADATA`` (created by migration 0002)."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, literal_column

from sync_server.db import METADATA

users = Table(
    "users",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False, comment="argon2id"),
    Column("role", String(16), nullable=False, comment="admin | reviewer | supervisor"),
    Column("department", String(32), comment="the department a reviewer sees; NULL for the others"),
    Column("created_at", String(40), nullable=False),
    Column("disabled_at", String(40)),
)

sessions = Table(
    "sessions",
    METADATA,
    Column("id_hash", String(64), primary_key=True, comment="sha256 of the cookie value"),
    Column("user_id", Integer, nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("last_seen_at", String(40), nullable=False),
    Column("ended_at", String(40)),
    Column("address", String(64)),
)

login_attempts = Table(
    "login_attempts",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", String(40), nullable=False),
    Column("ok", Integer, nullable=False),
    Index("ix_login_attempts_username_at", "username", "at"),
    Index("ix_login_attempts_address_at", "address", "at"),
)

audit_log = Table(
    "audit_log",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(64), nullable=False, comment="username, or 'cli' / 'system'"),
    Column("action", String(64), nullable=False),
    Column("target", String(256)),
    Column("detail", Text, nullable=False, server_default="{}", comment="JSON object"),
    Column("address", String(64)),
    Column("prev_hash", String(64), comment="hash of the entry before (hash chain, migration 0004)"),
    Column("hash", String(64), comment="sha256 over prev_hash and this entry's content"),
    Index("ix_audit_log_at", "at"),
)

rating_exclusions = Table(
    "rating_exclusions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(128), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("appeal_id", String(64)),
    Column("excluded_at", String(40), nullable=False),
    Column("lifted_at", String(40), comment="a lifted exclusion no longer excludes"),
)

rating_rollup = Table(
    "rating_rollup",
    METADATA,
    Column("day", String(10), primary_key=True, comment="China date YYYY-MM-DD of the rating"),
    Column("department", String(32), primary_key=True),
    Column("window", String(32), primary_key=True),
    Column("clerk_no", String(32), primary_key=True),
    Column("matter_code", String(64), primary_key=True),
    Column("channel", Integer, primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("status", String(16), primary_key=True, comment="effective | excluded | superseded | follow_up | test"),
    Column("n", Integer, nullable=False),
    sqlite_with_rowid=False,
)

case_rollup = Table(
    "case_rollup",
    METADATA,
    Column("day", String(10), primary_key=True, comment="China date YYYY-MM-DD of the prompt"),
    Column("department", String(32), primary_key=True),
    Column("window", String(32), primary_key=True),
    Column("clerk_no", String(32), primary_key=True),
    Column("matter_code", String(64), primary_key=True),
    Column("prompted", Integer, nullable=False),
    Column("rated", Integer, nullable=False, comment="cases a citizen rated (not only by default)"),
    Column("default_only", Integer, nullable=False, comment="cases with only a 系统默认评价"),
    sqlite_with_rowid=False,
)

# Indexes on the server's records table that the ratings list and rollup refresh use.
Index("ix_records_kind_time", METADATA.tables["records"].c.kind, METADATA.tables["records"].c.occurred_at)
Index(
    "ix_records_window_kind_time",
    METADATA.tables["records"].c.window,
    METADATA.tables["records"].c.kind,
    METADATA.tables["records"].c.occurred_at,
)
Index(
    "ix_records_clerk_kind_time",
    METADATA.tables["records"].c.clerk_no,
    METADATA.tables["records"].c.kind,
    METADATA.tables["records"].c.occurred_at,
)
Index("ix_cases_prompted", METADATA.tables["cases"].c.window, METADATA.tables["cases"].c.prompted_at)
# Only the records with an integrity flag (migration 0008): the ratings list's 完整性标记 filter reads these alone.
# Queries put ``FLAGGED`` itself in their WHERE: a literal, so matching the index never hangs on a bound value.
FLAGGED = METADATA.tables["records"].c.flags != literal_column("''")
Index(
    "ix_records_flagged",
    METADATA.tables["records"].c.kind,
    METADATA.tables["records"].c.occurred_at,
    sqlite_where=FLAGGED,
    postgresql_where=FLAGGED,
)

# The same counts by month (a year's dashboard reads twelve months, not 365 days) and per day without the window,
# clerk and matter (the trend chart). Kept by the same deltas as the daily rollups.
rating_rollup_month = Table(
    "rating_rollup_month",
    METADATA,
    Column("month", String(7), primary_key=True, comment="China month YYYY-MM of the rating"),
    Column("department", String(32), primary_key=True),
    Column("window", String(32), primary_key=True),
    Column("clerk_no", String(32), primary_key=True),
    Column("matter_code", String(64), primary_key=True),
    Column("channel", Integer, primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("n", Integer, nullable=False),
    sqlite_with_rowid=False,
)

case_rollup_month = Table(
    "case_rollup_month",
    METADATA,
    Column("month", String(7), primary_key=True, comment="China month YYYY-MM of the prompt"),
    Column("department", String(32), primary_key=True),
    Column("window", String(32), primary_key=True),
    Column("clerk_no", String(32), primary_key=True),
    Column("matter_code", String(64), primary_key=True),
    Column("prompted", Integer, nullable=False),
    Column("rated", Integer, nullable=False),
    Column("default_only", Integer, nullable=False),
    sqlite_with_rowid=False,
)

rating_trend = Table(
    "rating_trend",
    METADATA,
    Column("day", String(10), primary_key=True),
    Column("department", String(32), primary_key=True),
    Column("channel", Integer, primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("n", Integer, nullable=False),
    sqlite_with_rowid=False,
)

case_trend = Table(
    "case_trend",
    METADATA,
    Column("day", String(10), primary_key=True),
    Column("department", String(32), primary_key=True),
    Column("prompted", Integer, nullable=False),
    Column("rated", Integer, nullable=False),
    Column("default_only", Integer, nullable=False),
    sqlite_with_rowid=False,
)
