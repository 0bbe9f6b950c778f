"""workflow: 差评 handling records and history, appeals and evidence, working-day schedules, webhook deliveries;
hash chain columns on the audit log (existing entries are chained in id order)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 06:10:00
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _entry_hash(prev_hash, at, actor, action, target, detail, address) -> str:
    # Frozen copy of sync_server.storage.auditlog.entry_hash (a migration must not change with the code).
    payload = json.dumps([prev_hash, at, actor, action, target, detail, address], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def upgrade() -> None:
    _workflow_tables()
    _chain_audit_log()


def _workflow_tables() -> None:
    op.create_table(
        "bad_cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False, comment="the bad rating this record handles"),
        sa.Column("case_no", sa.String(length=64), nullable=True),
        sa.Column("window", sa.String(length=32), nullable=True),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("clerk_no", sa.String(length=32), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.String(length=40), nullable=False, comment="when the rating arrived (当日建档)"),
        sa.Column("arrival_day", sa.String(length=10), nullable=False, comment="China date the rating arrived"),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("fix_kind", sa.String(length=8), nullable=True, comment="simple | complex"),
        sa.Column("finding", sa.Text(), nullable=True, comment="核实结论"),
        sa.Column("verified_at", sa.String(length=40), nullable=True),
        sa.Column("fixed_at", sa.String(length=40), nullable=True),
        sa.Column("visited_at", sa.String(length=40), nullable=True),
        sa.Column("explained_at", sa.String(length=40), nullable=True),
        sa.Column("closed_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id"),
    )
    op.create_index("ix_bad_cases_state", "bad_cases", ["state"])
    op.create_index("ix_bad_cases_arrival", "bad_cases", ["department", "arrival_day"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False, comment="JSON object"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False, comment="one appeal per handling record"),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("filed_by", sa.String(length=64), nullable=False),
        sa.Column("filed_at", sa.String(length=40), nullable=False),
        sa.Column(
            "return_state", sa.String(length=16), nullable=False, comment="where the case goes back to when rejected"
        ),
        sa.Column("status", sa.String(length=16), nullable=False, comment="pending | upheld | rejected"),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.String(length=40), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", sa.String(length=40), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("review_outcome", sa.String(length=16), nullable=True, comment="confirmed | reversed"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
    )
    op.create_table(
        "appeal_evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("appeal_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_appeal_evidence_appeal_id", "appeal_evidence", ["appeal_id"])
    op.create_table(
        "workday_schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False, comment="OfficialSchedule JSON; the newest row of a year wins"),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.String(length=40), nullable=False),
        sa.Column("loaded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workday_schedules_year", "workday_schedules", ["year"])
    op.create_table(
        "webhook_targets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=256), nullable=False, comment="HMAC key; never shown again"),
        sa.Column("enabled", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, comment="the exact JSON sent (and signed)"),
        sa.Column("state", sa.String(length=16), nullable=False, comment="pending | delivered"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.String(length=40), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.String(length=40), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("delivered_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_deliveries_case_id", "webhook_deliveries", ["case_id"])
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"])


def _chain_audit_log() -> None:
    """Add prev_hash/hash and chain the entries already there (the append-only trigger is paused meanwhile)."""
    pg = op.get_bind().dialect.name == "postgresql"
    op.add_column(
        "audit_log",
        sa.Column(
            "prev_hash",
            sa.String(length=64),
            nullable=True,
            comment="hash of the entry before (hash chain, migration 0004)",
        ),
    )
    op.add_column(
        "audit_log",
        sa.Column(
            "hash", sa.String(length=64), nullable=True, comment="sha256 over prev_hash and this entry's content"
        ),
    )
    if pg:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
    conn = op.get_bind()
    prev = GENESIS
    rows = conn.execute(sa.text("SELECT id, at, actor, action, target, detail, address FROM audit_log ORDER BY id"))
    for r in rows.all():
        digest = _entry_hash(prev, r.at, r.actor, r.action, r.target, r.detail, r.address)
        conn.execute(
            sa.text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :i"), {"p": prev, "h": digest, "i": r.id}
        )
        prev = digest
    if pg:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    else:
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN "
            "SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
    if pg:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    for name, table in (
        ("ix_webhook_deliveries_due", "webhook_deliveries"),
        ("ix_webhook_deliveries_case_id", "webhook_deliveries"),
        ("ix_workday_schedules_year", "workday_schedules"),
        ("ix_appeal_evidence_appeal_id", "appeal_evidence"),
        ("ix_case_events_case_id", "case_events"),
        ("ix_bad_cases_arrival", "bad_cases"),
        ("ix_bad_cases_state", "bad_cases"),
    ):
        op.drop_index(name, table_name=table)
    for table in (
        "webhook_deliveries",
        "webhook_targets",
        "workday_schedules",
        "appeal_evidence",
        "appeals",
        "case_events",
        "bad_cases",
    ):
        op.drop_table(table)
