"""console: monthly rollups and per-day trend rollups, filled from the daily rollups

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 06:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_DIMS = 'department, "window", clerk_no, matter_code'


def _dims(first: str, comment: str | None = None) -> list[sa.Column]:
    length = 7 if first == "month" else 10
    return [
        sa.Column(first, sa.String(length=length), nullable=False, comment=comment),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("clerk_no", sa.String(length=32), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
    ]


def _case_counts() -> list[sa.Column]:
    return [
        sa.Column("prompted", sa.Integer(), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False),
        sa.Column("default_only", sa.Integer(), nullable=False),
    ]


def _rating_counts() -> list[sa.Column]:
    return [
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "rating_rollup_month",
        *_dims("month", "China month YYYY-MM of the rating"),
        *_rating_counts(),
        sa.PrimaryKeyConstraint(
            "month", "department", "window", "clerk_no", "matter_code", "channel", "level", "status"
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "case_rollup_month",
        *_dims("month", "China month YYYY-MM of the prompt"),
        *_case_counts(),
        sa.PrimaryKeyConstraint("month", "department", "window", "clerk_no", "matter_code"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rating_trend",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        *_rating_counts(),
        sa.PrimaryKeyConstraint("day", "department", "channel", "level", "status"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "case_trend",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        *_case_counts(),
        sa.PrimaryKeyConstraint("day", "department"),
        sqlite_with_rowid=False,
    )
    op.execute(
        f"INSERT INTO rating_rollup_month (month, {_DIMS}, channel, level, status, n) "
        f"SELECT substr(day, 1, 7), {_DIMS}, channel, level, status, SUM(n) FROM rating_rollup "
        f"GROUP BY substr(day, 1, 7), {_DIMS}, channel, level, status"
    )
    op.execute(
        f"INSERT INTO case_rollup_month (month, {_DIMS}, prompted, rated, default_only) "
        f"SELECT substr(day, 1, 7), {_DIMS}, SUM(prompted), SUM(rated), SUM(default_only) FROM case_rollup "
        f"GROUP BY substr(day, 1, 7), {_DIMS}"
    )
    op.execute(
        "INSERT INTO rating_trend (day, department, channel, level, status, n) "
        "SELECT day, department, channel, level, status, SUM(n) FROM rating_rollup "
        "GROUP BY day, department, channel, level, status"
    )
    op.execute(
        "INSERT INTO case_trend (day, department, prompted, rated, default_only) "
        "SELECT day, department, SUM(prompted), SUM(rated), SUM(default_only) FROM case_rollup GROUP BY day, department"
    )


def downgrade() -> None:
    for table in ("case_trend", "rating_trend", "case_rollup_month", "rating_rollup_month"):
        op.drop_table(table)
