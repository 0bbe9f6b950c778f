"""The mobile number a citizen may leave after a 差评, for 核实 and 回访: encrypted with the key of the server's
settings file, shown masked, deleted a configured number of days after the 差评工单 finished

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(length=128), nullable=False, comment="the record that carried the number"),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("rating_id", sa.String(length=128), comment="the rating the number was left with"),
        sa.Column("source", sa.String(length=8), nullable=False, comment="device | qr"),
        sa.Column("masked", sa.String(length=16), nullable=False, comment="138****1234"),
        sa.Column("ciphertext", sa.Text(), comment="Fernet token of the number; NULL once deleted"),
        sa.Column("given_at", sa.String(length=40), nullable=False),
        sa.Column("stored_at", sa.String(length=40), nullable=False),
        sa.Column("deleted_at", sa.String(length=40), comment="when the number was deleted (keep_days after 办结)"),
        sa.UniqueConstraint("record_id"),
    )
    op.create_index("ix_contacts_case_no", "contacts", ["case_no"])


def downgrade() -> None:
    op.drop_index("ix_contacts_case_no", table_name="contacts")
    op.drop_table("contacts")
