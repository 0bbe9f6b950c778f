"""published 通报: a month's, quarter's or year's figures frozen as canonical JSON with the XLSX and CSV as
rendered, each with its sha256; numbered versions, never changed or deleted

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(length=8), nullable=False, comment="month | quarter | year"),
        sa.Column("period", sa.String(length=8), nullable=False, comment="2026-11 | 2026Q4 | 2026"),
        sa.Column("department", sa.String(length=32), nullable=False, comment="department code; empty: the whole hall"),
        sa.Column("version", sa.Integer(), nullable=False, comment="1, then 2… when the period is published again"),
        sa.Column("content", sa.Text(), nullable=False, comment="the figures, canonical JSON"),
        sa.Column("content_hash", sa.String(length=64), nullable=False, comment="sha256 of content (UTF-8)"),
        sa.Column("xlsx", sa.LargeBinary(), nullable=False, comment="the workbook as published"),
        sa.Column("xlsx_hash", sa.String(length=64), nullable=False),
        sa.Column("csv", sa.LargeBinary(), nullable=False, comment="the CSV as published (UTF-8 with BOM)"),
        sa.Column("csv_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), comment="更正说明 of a second or later version"),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.String(length=40), nullable=False),
        sa.UniqueConstraint("kind", "period", "department", "version", name="uq_published_reports_version"),
    )
    if op.get_bind().dialect.name == "postgresql":  # workflow_history_kept() comes from migration 0006
        op.execute(
            "CREATE TRIGGER published_reports_kept BEFORE UPDATE OR DELETE ON published_reports "
            "FOR EACH ROW EXECUTE FUNCTION workflow_history_kept()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER published_reports_no_{verb.lower()} BEFORE {verb} ON published_reports BEGIN "
            f"SELECT RAISE(ABORT, 'published_reports is append-only ({verb} refused)'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS published_reports_kept ON published_reports")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS published_reports_no_{verb}")
    op.drop_table("published_reports")
