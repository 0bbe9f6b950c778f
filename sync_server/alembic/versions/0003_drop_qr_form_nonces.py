"""drop qr_form_nonces: the phone page's form nonce is now an HMAC that needs no storage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("qr_form_nonces")


def downgrade() -> None:
    op.create_table(
        "qr_form_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.String(length=40), nullable=False),
        sa.Column("used_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )
