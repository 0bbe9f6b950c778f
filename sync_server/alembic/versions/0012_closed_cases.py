"""Closed cases reported by the hall's case system (办件系统): one row per case number, the content first stored,
and every later different content kept beside it as a conflict

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "closed_cases",
        sa.Column("case_no", sa.String(64), primary_key=True),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("window", sa.String(32), nullable=False),
        sa.Column("department", sa.String(32), comment="the matter's department when it was reported"),
        sa.Column("clerk_no", sa.String(32), nullable=False),
        sa.Column("accepted_at", sa.String(40), nullable=False),
        sa.Column("closed_at", sa.String(40), comment="NULL while the case system reports it still open"),
        sa.Column(
            "promised_days",
            sa.Integer,
            comment="committed working days (承诺办结时限), when the case system knows them",
        ),
        sa.Column("content_hash", sa.String(64), nullable=False, comment="sha256 of the content as first stored"),
        sa.Column("source", sa.String(80), nullable=False, comment="case system name, or 文件:<file name>"),
        sa.Column("received_at", sa.String(40), nullable=False),
        sa.Column("closed_reported_at", sa.String(40), comment="when the closing arrived"),
        sa.Column(
            "flags",
            sa.Text,
            nullable=False,
            server_default="",
            comment="conflict when other content came later",
        ),
    )
    op.create_index("ix_closed_cases_closed", "closed_cases", ["closed_at"])
    op.create_index("ix_closed_cases_accepted", "closed_cases", ["accepted_at"])
    op.create_table(
        "closed_case_conflicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_no", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False, comment="the other content as received, JSON"),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.String(80), nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_closed_case_conflicts_case_no", "closed_case_conflicts", ["case_no"])


def downgrade() -> None:
    op.drop_table("closed_case_conflicts")
    op.drop_table("closed_cases")
