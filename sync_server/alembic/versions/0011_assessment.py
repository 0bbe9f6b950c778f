"""考核 and 考勤: the assessment rule versions, events with their evidence, leave, the 考核领导小组, closed years,
objections (复核) and corrections

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessment_rule_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False, comment="AssessmentRules JSON"),
        sa.Column("digest", sa.String(64), nullable=False, comment="sha256 of the content"),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "assessment_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("clerk_no", sa.String(32), nullable=False),
        sa.Column("department", sa.String(32)),
        sa.Column("day", sa.String(10), nullable=False, comment="China date the event happened"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False, comment="signed: negative deducts, positive adds"),
        sa.Column(
            "source", sa.String(32), nullable=False, comment="manual | attendance_* | bad_rating_attitude | red_card"
        ),
        sa.Column("source_key", sa.String(128), unique=True, comment="one proposal per fact; NULL for manual events"),
        sa.Column(
            "state", sa.String(16), nullable=False, comment="proposed | confirming | confirmed | dismissed | withdrawn"
        ),
        sa.Column("summary", sa.Text(), nullable=False, comment="what happened, in Chinese"),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("proposed_by", sa.String(64), nullable=False, comment="system for the server's proposals"),
        sa.Column("proposed_at", sa.String(40), nullable=False),
        sa.Column("first_by", sa.String(64), comment="who confirmed first (four-eyes) or alone"),
        sa.Column("first_at", sa.String(40)),
        sa.Column("first_note", sa.Text()),
        sa.Column("second_by", sa.String(64), comment="the second confirmation of a four-eyes event"),
        sa.Column("second_at", sa.String(40)),
        sa.Column("second_note", sa.Text()),
        sa.Column("closed_by", sa.String(64), comment="who dismissed it, or system for a withdrawal"),
        sa.Column("closed_at", sa.String(40)),
        sa.Column("closed_note", sa.Text()),
        sa.Column(
            "detail", sa.Text(), nullable=False, server_default="{}", comment="JSON: the facts behind a proposal"
        ),
    )
    op.create_index("ix_assessment_events_clerk_day", "assessment_events", ["clerk_no", "day"], unique=False)
    op.create_index("ix_assessment_events_state", "assessment_events", ["state"], unique=False)
    op.create_table(
        "assessment_evidence",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(128), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_assessment_evidence_event_id", "assessment_evidence", ["event_id"], unique=False)
    op.create_table(
        "assessment_leave",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("clerk_no", sa.String(32), nullable=False),
        sa.Column("first_day", sa.String(10), nullable=False),
        sa.Column("last_day", sa.String(10), nullable=False),
        sa.Column("part", sa.String(8), nullable=False, comment="day | am | pm (a half day is one day only)"),
        sa.Column("approved_by", sa.String(64), nullable=False, comment="批准人"),
        sa.Column("filed_with_centre", sa.Integer(), nullable=False, comment="1: 已报中心主任备案"),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(64), nullable=False),
        sa.Column("entered_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_assessment_leave_clerk_no", "assessment_leave", ["clerk_no"], unique=False)
    op.create_table(
        "assessment_panel",
        sa.Column("username", sa.String(64), primary_key=True, comment="a console user in the 考核领导小组"),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "assessment_years",
        sa.Column("year", sa.Integer(), primary_key=True),
        sa.Column("content", sa.Text(), nullable=False, comment="the frozen scores and grades, canonical JSON"),
        sa.Column("content_hash", sa.String(64), nullable=False, comment="sha256 of content, also in the audit log"),
        sa.Column("closed_by", sa.String(64), nullable=False),
        sa.Column("closed_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "assessment_objections",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("clerk_no", sa.String(32), nullable=False),
        sa.Column("event_id", sa.Integer(), comment="the event objected to; NULL: the grade"),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("filed_by", sa.String(64), nullable=False, comment="the administrator who filed it for the clerk"),
        sa.Column("filed_at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, comment="pending | upheld | rejected"),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.String(40)),
        sa.Column("reason", sa.Text()),
    )
    op.create_index("ix_assessment_objections_year", "assessment_objections", ["year"], unique=False)
    op.create_table(
        "assessment_corrections",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("clerk_no", sa.String(32), nullable=False),
        sa.Column("objection_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer()),
        sa.Column("points", sa.Integer(), nullable=False, comment="added to the frozen score (signed)"),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("corrected_by", sa.String(64), nullable=False),
        sa.Column("corrected_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_assessment_corrections_year", "assessment_corrections", ["year"], unique=False)


def downgrade() -> None:
    op.drop_table("assessment_corrections")
    op.drop_table("assessment_objections")
    op.drop_table("assessment_years")
    op.drop_table("assessment_panel")
    op.drop_table("assessment_leave")
    op.drop_table("assessment_evidence")
    op.drop_table("assessment_events")
    op.drop_table("assessment_rule_versions")
