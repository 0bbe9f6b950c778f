"""回访 that records what the citizen said: every 回访 kept (how the citizen was reached, their answer, a note) in
``case_revisits``; on the record when its 回访 became due, when a 不满意 last reopened it and how often; 不属实
records explained and waiting are now due for 回访 (their deadline index), and the notices that a record needs 回访
queue in ``revisit_notices`` for the webhook sender. Records already 办结 stay 办结.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN on both databases: the table (and its rollup triggers) stays as it is
    for column in (
        sa.Column("revisit_from", sa.String(length=40), comment="when the 回访 now due became due (migration 0021)"),
        sa.Column("reopened_at", sa.String(length=40), comment="when the latest 回访 (不满意) reopened the handling"),
        sa.Column(
            "revisit_reopens", sa.Integer(), nullable=False, server_default="0", comment="times 回访 reopened it"
        ),
    ):
        op.add_column("bad_cases", column)
    # the 回访 of a rectified record was due from its fix; a 不属实 record explained and not yet closed is due now
    op.execute("UPDATE bad_cases SET revisit_from = fixed_at WHERE fixed_at IS NOT NULL")
    op.execute("UPDATE bad_cases SET revisit_from = explained_at WHERE state = 'explained'")
    waiting = sa.text("state = 'explained'")
    columns = ["revisit_due", "id", "department", "window", "state"]
    op.create_index(
        "ix_bad_cases_revisit_due_explained", "bad_cases", columns, sqlite_where=waiting, postgresql_where=waiting
    )
    op.create_table(
        "case_revisits",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False, comment="1 for the first 回访, 2 after one reopening …"),
        sa.Column("due", sa.String(length=10), comment="the 回访 deadline it ran against"),
        sa.Column("done_at", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False, comment="phone | sms | unreached"),
        sa.Column("answer", sa.String(length=16), comment="satisfied | basically | unsatisfied; NULL when unreached"),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False, comment="revisited | reopened"),
    )
    op.create_index("ix_case_revisits_case_id", "case_revisits", ["case_id"])
    op.create_table(
        "revisit_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False, comment="pending | delivered"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.String(length=40), nullable=False),
        sa.Column("lease_owner", sa.String(length=64)),
        sa.Column("lease_until", sa.String(length=40)),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("delivered_at", sa.String(length=40)),
    )
    op.create_index("ix_revisit_notices_case_id", "revisit_notices", ["case_id"])
    op.create_index("ix_revisit_notices_due", "revisit_notices", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_revisit_notices_due", table_name="revisit_notices")
    op.drop_index("ix_revisit_notices_case_id", table_name="revisit_notices")
    op.drop_table("revisit_notices")
    op.drop_index("ix_case_revisits_case_id", table_name="case_revisits")
    op.drop_table("case_revisits")
    op.drop_index("ix_bad_cases_revisit_due_explained", table_name="bad_cases")
    for column in ("revisit_reopens", "reopened_at", "revisit_from"):
        op.drop_column("bad_cases", column)  # SQLite 3.35+: ALTER TABLE DROP COLUMN, the triggers kept
