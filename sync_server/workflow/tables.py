"""The workflow's tables on the server's ``METADATA`` (created by migration 0004; kept deadlines since 0007):
handling records and their history, appeals and evidence, official working-day schedules, webhook targets and
deliveries."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, String, Table, Text, literal_column

from sync_server.db import METADATA

bad_cases = Table(
    "bad_cases",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(128), nullable=False, unique=True, comment="the bad rating this record handles"),
    Column("case_no", String(64)),
    Column("window", String(32)),
    Column("department", String(32)),
    Column("clerk_no", String(32)),
    Column("level", Integer, nullable=False),
    Column("opened_at", String(40), nullable=False, comment="when the rating arrived (当日建档)"),
    Column("arrival_day", String(10), nullable=False, comment="China date the rating arrived"),
    Column("state", String(16), nullable=False),
    Column("fix_kind", String(8), comment="simple | complex"),
    Column("finding", Text, comment="核实结论"),
    Column("verified_at", String(40)),
    Column("fixed_at", String(40)),
    Column("visited_at", String(40)),
    Column("explained_at", String(40)),
    Column("closed_at", String(40)),
    Column("contact_due", String(10), comment="deadline set when the clock started"),
    Column("fix_due", String(10), comment="deadline set when the clock started"),
    Column("revisit_due", String(10), comment="deadline set when the clock started"),
    Column("explain_due", String(10), comment="deadline set when the clock started"),
    Index("ix_bad_cases_state", "state"),
    Index("ix_bad_cases_arrival", "department", "arrival_day"),
    Index("ix_bad_cases_arrival_day", "arrival_day"),
)
# Only the records someone still works on (migration 0010): a year holds hundreds of thousands of finished ones.
# Queries put ``UNFINISHED_ROWS`` itself in their WHERE: literals, so both databases match the partial index.
UNFINISHED_ROWS = bad_cases.c.state.not_in([literal_column(f"'{s}'") for s in ("closed", "upheld", "withdrawn")])
Index("ix_bad_cases_unfinished", bad_cases.c.state, sqlite_where=UNFINISHED_ROWS, postgresql_where=UNFINISHED_ROWS)

case_events = Table(
    "case_events",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, nullable=False, index=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("step", String(16), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("detail", Text, nullable=False, server_default="{}", comment="JSON object"),
)

appeals = Table(
    "appeals",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, nullable=False, unique=True, comment="one appeal per handling record"),
    Column("record_id", String(128), nullable=False),
    Column("category", String(16), nullable=False),
    Column("statement", Text, nullable=False),
    Column("filed_by", String(64), nullable=False),
    Column("filed_at", String(40), nullable=False),
    Column("return_state", String(16), nullable=False, comment="where the case goes back to when rejected"),
    Column("status", String(16), nullable=False, comment="pending | upheld | rejected"),
    Column("decided_by", String(64)),
    Column("decided_at", String(40)),
    Column("decision_note", Text),
    Column("reviewed_by", String(64)),
    Column("reviewed_at", String(40)),
    Column("review_note", Text),
    Column("review_outcome", String(16), comment="confirmed | reversed"),
)

appeal_evidence = Table(
    "appeal_evidence",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appeal_id", Integer, nullable=False, index=True),
    Column("filename", String(128), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("uploaded_at", String(40), nullable=False),
)

workday_schedules = Table(
    "workday_schedules",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("year", Integer, nullable=False, index=True),
    Column("content", Text, nullable=False, comment="OfficialSchedule JSON; the newest row of a year wins"),
    Column("source", Text, nullable=False),
    Column("loaded_at", String(40), nullable=False),
    Column("loaded_by", String(64), nullable=False),
)

webhook_targets = Table(
    "webhook_targets",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("secret", String(256), nullable=False, comment="HMAC key; never shown again"),
    Column("enabled", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(64), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_id", Integer, nullable=False),
    Column("case_id", Integer, nullable=False, index=True),
    Column("event", String(32), nullable=False),
    Column("body", Text, nullable=False, comment="the exact JSON sent (and signed)"),
    Column("state", String(16), nullable=False, comment="pending | delivered"),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(40), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", String(40)),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", String(40), nullable=False),
    Column("delivered_at", String(40)),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
)
