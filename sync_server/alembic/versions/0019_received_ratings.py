"""Received ratings counted per terminal and source as they are stored, so /metrics reads a row per terminal
instead of counting every rating ever stored; filled from the stored records once

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "received_ratings",
        sa.Column("device_id", sa.String(length=64), primary_key=True),
        sa.Column("source", sa.String(length=16), primary_key=True, comment="device | qr | default"),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.execute(
        "INSERT INTO received_ratings (device_id, source, n) "
        "SELECT device_id, source, COUNT(*) FROM records WHERE kind = 'rating' GROUP BY device_id, source"
    )


def downgrade() -> None:
    op.drop_table("received_ratings")
