"""Appeals in the order of 篇10: a written report (书面报告) of a rating that 核实 found to be 恶意差评 or 误操作,
reviewed (复核) by the hall. Appeals already stored were filed under the former rules (from 待核实 or 整改中, with
five categories): they are marked ``legacy`` and kept exactly as they were, still decidable and still uploaded
as before; new reports are ``report``.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-29 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no table copy): the append-only triggers of migration 0006 stay.
    op.add_column(
        "appeals",
        sa.Column(
            "filed_under",
            sa.String(length=8),
            nullable=False,
            server_default="legacy",  # every row stored so far
            comment="report: 篇10 书面报告 after 核实 (migration 0022) | legacy: filed under the former rules",
        ),
    )


def downgrade() -> None:
    op.drop_column("appeals", "filed_under")
