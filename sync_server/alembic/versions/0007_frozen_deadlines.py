"""差评工单: each step's deadline kept from the moment its clock started (contact, fix, revisit, explain), so a
later change of the deadline rules or of a confirmed holiday schedule does not move it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STEPS = ("contact", "fix", "revisit", "explain")


def upgrade() -> None:
    with op.batch_alter_table("bad_cases") as batch:
        for step in STEPS:
            batch.add_column(
                sa.Column(f"{step}_due", sa.String(length=10), comment="deadline set when the clock started")
            )


def downgrade() -> None:
    with op.batch_alter_table("bad_cases") as batch:
        for step in reversed(STEPS):
            batch.drop_column(f"{step}_due")
