"""The upload to the provincial 好差评 platform: a durable queue of items (ratings, 差评工单 steps, appeal outcomes)
keyed by their own id, leased by one sender at a time, and a receipt per attempt

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_key", sa.String(160), nullable=False, comment="the item's own id: the idempotency key"),
        sa.Column("kind", sa.String(16), nullable=False, comment="rating | step | appeal"),
        sa.Column("source_id", sa.String(128), nullable=False, comment="record id, case event id or appeal id"),
        sa.Column("day", sa.String(10), nullable=False, comment="China date of the event"),
        sa.Column("body", sa.Text, nullable=False, comment="the item as sent (province field names), JSON"),
        sa.Column("state", sa.String(16), nullable=False, comment="pending | accepted | rejected"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.String(40), nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.String(40)),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("sent_at", sa.String(40), comment="the last attempt"),
        sa.Column("accepted_at", sa.String(40)),
        sa.Column("code", sa.String(64), comment="the platform's code for a rejection"),
        sa.Column("message", sa.Text, comment="the platform's message, or why the attempt failed"),
        sa.UniqueConstraint("item_key"),
    )
    op.create_index("ix_upstream_items_due", "upstream_items", ["state", "next_attempt_at"])
    op.create_index("ix_upstream_items_day", "upstream_items", ["day", "state"])
    op.create_table(
        "upstream_receipts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False, comment="accepted | rejected | failed"),
        sa.Column("http_status", sa.Integer),
        sa.Column("code", sa.String(64)),
        sa.Column("message", sa.Text),
    )
    op.create_index("ix_upstream_receipts_item_id", "upstream_receipts", ["item_id"])


def downgrade() -> None:
    op.drop_table("upstream_receipts")
    op.drop_table("upstream_items")
