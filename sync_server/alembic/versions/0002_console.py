"""console: users, sessions, sign-in attempts, append-only audit log, rating exclusions, daily rollups

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
_PG_APPEND_ONLY = (
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False, comment="argon2id"),
        sa.Column("role", sa.String(length=16), nullable=False, comment="admin | reviewer | supervisor"),
        sa.Column(
            "department",
            sa.String(length=32),
            nullable=True,
            comment="the department a reviewer sees; NULL for the others",
        ),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("disabled_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False, comment="sha256 of the cookie value"),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("last_seen_at", sa.String(length=40), nullable=False),
        sa.Column("ended_at", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_attempts_username_at", "login_attempts", ["username", "at"])
    op.create_index("ix_login_attempts_address_at", "login_attempts", ["address", "at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False, comment="username, or 'cli' / 'system'"),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=True),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False, comment="JSON object"),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "rating_exclusions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("appeal_id", sa.String(length=64), nullable=True),
        sa.Column("excluded_at", sa.String(length=40), nullable=False),
        sa.Column("lifted_at", sa.String(length=40), nullable=True, comment="a lifted exclusion no longer excludes"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rating_exclusions_record_id", "rating_exclusions", ["record_id"])
    _rollup_tables()
    op.create_index("ix_records_kind_time", "records", ["kind", "occurred_at"])
    op.create_index("ix_records_window_kind_time", "records", ["window", "kind", "occurred_at"])
    op.create_index("ix_records_clerk_kind_time", "records", ["clerk_no", "kind", "occurred_at"])
    op.create_index("ix_cases_prompted", "cases", ["window", "prompted_at"])
    statements = _PG_APPEND_ONLY if op.get_bind().dialect.name == "postgresql" else _SQLITE_APPEND_ONLY
    for sql in statements:
        op.execute(sql)


def _dimensions(day_comment: str) -> list[sa.Column]:
    return [
        sa.Column("day", sa.String(length=10), nullable=False, comment=day_comment),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("clerk_no", sa.String(length=32), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
    ]


def _rollup_tables() -> None:
    op.create_table(
        "rating_rollup",
        *_dimensions("China date YYYY-MM-DD of the rating"),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.String(length=16),
            nullable=False,
            comment="effective | excluded | superseded | follow_up | test",
        ),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "department", "window", "clerk_no", "matter_code", "channel", "level", "status"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "case_rollup",
        *_dimensions("China date YYYY-MM-DD of the prompt"),
        sa.Column("prompted", sa.Integer(), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False, comment="cases a citizen rated (not only by default)"),
        sa.Column("default_only", sa.Integer(), nullable=False, comment="cases with only a 系统默认评价"),
        sa.PrimaryKeyConstraint("day", "department", "window", "clerk_no", "matter_code"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for name, table in (
        ("ix_cases_prompted", "cases"),
        ("ix_records_clerk_kind_time", "records"),
        ("ix_records_window_kind_time", "records"),
        ("ix_records_kind_time", "records"),
    ):
        op.drop_index(name, table_name=table)
    for table in ("case_rollup", "rating_rollup", "rating_exclusions", "audit_log", "login_attempts", "sessions"):
        op.drop_table(table)
    op.drop_table("users")
