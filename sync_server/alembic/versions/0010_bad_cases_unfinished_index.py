"""差评工单 still being worked on: a partial index of the unfinished records, so the dashboard's cards, /metrics and
the red/yellow lists read those few instead of a year of finished ones (SQLite's planner, seeing six states in the
IN list, otherwise scans the table)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UNFINISHED_ROWS = sa.text("state NOT IN ('closed', 'upheld', 'withdrawn')")


def upgrade() -> None:
    op.create_index(
        "ix_bad_cases_unfinished",
        "bad_cases",
        ["state"],
        sqlite_where=UNFINISHED_ROWS,
        postgresql_where=UNFINISHED_ROWS,
    )


def downgrade() -> None:
    op.drop_index("ix_bad_cases_unfinished", table_name="bad_cases")
