"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 05:39:48.650057
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_systems",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("revoked_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "cases",
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("matter_code", sa.String(length=64), nullable=True),
        sa.Column("clerk_no", sa.String(length=32), nullable=True),
        sa.Column("prompted_at", sa.String(length=40), nullable=True, comment="first prompt (or QR token issue) time"),
        sa.PrimaryKeyConstraint("case_no"),
    )
    op.create_table(
        "config_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False, comment="HallConfig JSON: hall, reasons, rules"),
        sa.Column("source", sa.Text(), nullable=False, comment="where it was imported from"),
        sa.Column("imported_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column(
            "secret_hex", sa.String(length=128), nullable=False, comment="kept to verify HMACs; never shown again"
        ),
        sa.Column("enrolled_at", sa.String(length=40), nullable=False),
        sa.Column("revoked_at", sa.String(length=40), nullable=True),
        sa.Column("last_seen_at", sa.String(length=40), nullable=True),
        sa.Column("last_status", sa.Text(), nullable=True, comment="JSON of the last POST /api/v1/status"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "enrolment_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.String(length=40), nullable=False),
        sa.Column("used_at", sa.String(length=40), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    op.create_table(
        "integrity_flags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("record_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False, comment="gap | broken_link | conflict | seq_reused"),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("flagged_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("integrity_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_integrity_flags_device_id"), ["device_id"], unique=False)

    op.create_table(
        "qr_form_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.String(length=40), nullable=False),
        sa.Column("used_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_table(
        "record_conflicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False, comment="the conflicting record as received, JSON"),
        sa.Column("received_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("record_conflicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_conflicts_record_id"), ["record_id"], unique=False)

    op.create_table(
        "records",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column(
            "seq", sa.Integer(), nullable=True, comment="per-device sequence; NULL for phone and default ratings"
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=True),
        sa.Column("clerk_no", sa.String(length=32), nullable=True),
        sa.Column("case_no", sa.String(length=64), nullable=True),
        sa.Column("matter_code", sa.String(length=64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False, comment="JSON list of reason codes"),
        sa.Column("reasons_version", sa.String(length=64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("channel", sa.Integer(), nullable=True),
        sa.Column("prompted_at", sa.String(length=40), nullable=True),
        sa.Column("occurred_at", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, comment="JSON object"),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=False, comment="the hash the record claims"),
        sa.Column("content_hash", sa.String(length=64), nullable=False, comment="the hash of the content as received"),
        sa.Column("source", sa.String(length=16), nullable=False, comment="device | qr | default"),
        sa.Column("received_at", sa.String(length=40), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False, comment="the ingest that stored it"),
        sa.Column("flags", sa.Text(), server_default="", nullable=False, comment="comma-separated integrity flags"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index("ix_records_case", ["case_no"], unique=False)
        batch_op.create_index("ix_records_device_seq", ["device_id", "seq"], unique=False)

    op.create_table(
        "triggers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=True),
        sa.Column("case_system", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("delivered_at", sa.String(length=40), nullable=True),
        sa.Column("acked_at", sa.String(length=40), nullable=True),
        sa.Column("acked_by", sa.String(length=64), nullable=True),
        sa.Column("refused_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.create_index("ix_triggers_window_open", ["window", "acked_at"], unique=False)

    op.create_table(
        "nonces",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False, comment="unix seconds"),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
        ),
        sa.PrimaryKeyConstraint("device_id", "nonce"),
    )
    op.create_table(
        "ratings",
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=True),
        sa.Column("rated_at", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False, comment="counting | follow_up | superseded"),
        sa.Column("assess_number", sa.Integer(), nullable=True, comment="1 for the counting rating, 2 for the 追评"),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("record_id"),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ratings_case_no"), ["case_no"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ratings_case_no"))

    op.drop_table("ratings")
    op.drop_table("nonces")
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.drop_index("ix_triggers_window_open")

    op.drop_table("triggers")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_device_seq")
        batch_op.drop_index("ix_records_case")

    op.drop_table("records")
    with op.batch_alter_table("record_conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_conflicts_record_id"))

    op.drop_table("record_conflicts")
    op.drop_table("qr_form_nonces")
    with op.batch_alter_table("integrity_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_integrity_flags_device_id"))

    op.drop_table("integrity_flags")
    op.drop_table("enrolment_codes")
    op.drop_table("devices")
    op.drop_table("config_versions")
    op.drop_table("cases")
    op.drop_table("case_systems")
