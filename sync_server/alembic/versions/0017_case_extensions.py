"""差评工单 延期: a department's request for more time on a step, with its reason, decided by a hall administrator
other than the one who asked; the approved deadline replaces the step's kept one, the old one stays here

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_extensions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=8), nullable=False, comment="contact | fix | revisit | explain"),
        sa.Column("old_due", sa.String(length=10), nullable=False, comment="the deadline before the extension"),
        sa.Column("new_due", sa.String(length=10), nullable=False, comment="the deadline asked for"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, comment="pending | approved | refused"),
        sa.Column("decided_by", sa.String(length=64)),
        sa.Column("decided_at", sa.String(length=40)),
        sa.Column("decision_note", sa.Text()),
    )
    op.create_index("ix_case_extensions_case_id", "case_extensions", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_extensions_case_id", table_name="case_extensions")
    op.drop_table("case_extensions")
