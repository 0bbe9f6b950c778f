"""A name for each terminal (评价器), set from the console or ``hcp server device rename`` (e.g. “A01 左侧”)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(
            sa.Column("name", sa.String(32), comment="set by hcp server device rename or the console; NULL: none")
        )


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("name")
