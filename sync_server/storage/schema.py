"""Every table and index of the server, on one ``METADATA``.

The schema is created and changed only by the Alembic migrations in ``sync_server/alembic``; ``METADATA`` mirrors
them for queries (a test checks they agree). Every time column holds an ISO 8601 UTC string with milliseconds
(``utc_iso``), so that comparisons work the same on both databases. Tables are grouped by concept: devices and
their records (migration 0001), the console's users, audit log and rollups (0002, 0005), the 差评 handling
records (0004, 0007). A new table goes at the end, under a comment line naming its concept.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    literal_column,
    or_,
)

from haochaping.moments import utc_iso  # noqa: F401 - the one time format, re-exported for the tables

METADATA = MetaData()


# ---------------------------------------------------------------- hall configuration, devices, records, cases

config_versions = Table(
    "config_versions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(32), nullable=False),
    Column("content", Text, nullable=False, comment="HallConfig JSON: hall, reasons, rules"),
    Column("source", Text, nullable=False, comment="where it was imported from"),
    Column("imported_at", String(40), nullable=False),
)

devices = Table(
    "devices",
    METADATA,
    Column("id", String(64), primary_key=True),
    Column("window", String(32), nullable=False),
    Column("secret_hex", String(128), nullable=False, comment="kept to verify HMACs; never shown again"),
    Column("enrolled_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    Column("last_seen_at", String(40)),
    Column("last_status", Text, comment="JSON of the last POST /api/v1/status"),
    # A terminal's name, given by an administrator (migration 0015)
    Column("name", String(32), comment="set by hcp server device rename or the console; NULL: none"),
)

enrolment_codes = Table(
    "enrolment_codes",
    METADATA,
    Column("code_hash", String(64), primary_key=True),
    Column("window", String(32), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("used_at", String(40)),
    Column("device_id", String(64)),
)

nonces = Table(
    "nonces",
    METADATA,
    Column("device_id", String(64), ForeignKey("devices.id"), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("seen_at", Float, nullable=False, comment="unix seconds"),
)

records = Table(
    "records",
    METADATA,
    Column("id", String(128), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("seq", Integer, comment="per-device sequence; NULL for phone and default ratings"),
    Column("kind", String(32), nullable=False),
    Column("window", String(32)),
    Column("clerk_no", String(32)),
    Column("case_no", String(64)),
    Column("matter_code", String(64)),
    Column("level", Integer),
    Column("reasons", Text, nullable=False, comment="JSON list of reason codes"),
    Column("reasons_version", String(64)),
    Column("comment", Text),
    Column("channel", Integer),
    Column("prompted_at", String(40)),
    Column("occurred_at", String(40), nullable=False),
    Column("detail", Text, nullable=False, comment="JSON object"),
    Column("prev_hash", String(64)),
    Column("hash", String(64), nullable=False, comment="the hash the record claims"),
    Column("content_hash", String(64), nullable=False, comment="the hash of the content as received"),
    Column("source", String(16), nullable=False, comment="device | qr | default"),
    Column("received_at", String(40), nullable=False),
    Column("batch_id", String(32), nullable=False, comment="the ingest that stored it"),
    Column("flags", Text, nullable=False, server_default="", comment="comma-separated integrity flags"),
    Index("ix_records_device_seq", "device_id", "seq"),
    Index("ix_records_case", "case_no"),
    # the ratings list and the rollup refresh
    Index("ix_records_kind_time", "kind", "occurred_at"),
    Index("ix_records_window_kind_time", "window", "kind", "occurred_at"),
    Index("ix_records_clerk_kind_time", "clerk_no", "kind", "occurred_at"),
)
# Only the records with an integrity flag (migration 0008): the ratings list's 完整性标记 filter reads these alone.
# Queries put ``FLAGGED`` itself in their WHERE: a literal, so matching the index never hangs on a bound value.
FLAGGED = records.c.flags != literal_column("''")
Index("ix_records_flagged", records.c.kind, records.c.occurred_at, sqlite_where=FLAGGED, postgresql_where=FLAGGED)

record_conflicts = Table(
    "record_conflicts",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(128), nullable=False, index=True),
    Column("device_id", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("content", Text, nullable=False, comment="the conflicting record as received, JSON"),
    Column("received_at", String(40), nullable=False),
)

integrity_flags = Table(
    "integrity_flags",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False, index=True),
    Column("seq", Integer),
    Column("record_id", String(128)),
    Column("kind", String(32), nullable=False, comment="gap | broken_link | conflict | seq_reused"),
    Column("detail", Text, nullable=False),
    Column("flagged_at", String(40), nullable=False),
)

cases = Table(
    "cases",
    METADATA,
    Column("case_no", String(64), primary_key=True),
    Column("window", String(32)),
    Column("device_id", String(64)),
    Column("matter_code", String(64)),
    Column("clerk_no", String(32)),
    Column("prompted_at", String(40), comment="first prompt (or QR token issue) time"),
    Index("ix_cases_prompted", "window", "prompted_at"),
)

ratings = Table(
    "ratings",
    METADATA,
    Column("record_id", String(128), ForeignKey("records.id"), primary_key=True),
    Column("case_no", String(64), nullable=False, index=True),
    Column("level", Integer, nullable=False),
    Column("channel", Integer),
    Column("rated_at", String(40), nullable=False),
    Column("role", String(16), nullable=False, comment="counting | follow_up | superseded"),
    Column("assess_number", Integer, comment="1 for the counting rating, 2 for the 追评"),
)

case_systems = Table(
    "case_systems",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)

triggers = Table(
    "triggers",
    METADATA,
    Column("id", String(64), primary_key=True),
    Column("window", String(32), nullable=False),
    Column("case_no", String(64), nullable=False),
    Column("matter_code", String(64)),
    Column("case_system", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("delivered_at", String(40)),
    Column("acked_at", String(40)),
    Column("acked_by", String(64)),
    Column("refused_message", Text),
    Index("ix_triggers_window_open", "window", "acked_at"),
)


# ---------------------------------------------------------------- the console: users, sessions, audit log, rollups

users = Table(
    "users",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False, comment="argon2id"),
    Column("role", String(16), nullable=False, comment="admin | reviewer | supervisor"),
    Column("department", String(32), comment="the department a reviewer sees; NULL for the others"),
    Column("created_at", String(40), nullable=False),
    Column("disabled_at", String(40)),
)

sessions = Table(
    "sessions",
    METADATA,
    Column("id_hash", String(64), primary_key=True, comment="sha256 of the cookie value"),
    Column("user_id", Integer, nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("last_seen_at", String(40), nullable=False),
    Column("ended_at", String(40)),
    Column("address", String(64)),
)

login_attempts = Table(
    "login_attempts",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", String(40), nullable=False),
    Column("ok", Integer, nullable=False),
    Index("ix_login_attempts_username_at", "username", "at"),
    Index("ix_login_attempts_address_at", "address", "at"),
)

audit_log = Table(
    "audit_log",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(64), nullable=False, comment="username, or 'cli' / 'system'"),
    Column("action", String(64), nullable=False),
    Column("target", String(256)),
    Column("detail", Text, nullable=False, server_default="{}", comment="JSON object"),
    Column("address", String(64)),
    Column("prev_hash", String(64), comment="hash of the entry before (hash chain, migration 0004)"),
    Column("hash", String(64), comment="sha256 over prev_hash and this entry's content"),
    Index("ix_audit_log_at", "at"),
)

rating_exclusions = Table(
    "rating_exclusions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(128), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("appeal_id", String(64)),
    Column("excluded_at", String(40), nullable=False),
    Column("lifted_at", String(40), comment="a lifted exclusion no longer excludes"),
)

rating_rollup = Table(
    "rating_rollup",
    METADATA,
    Column("day", String(10), primary_key=True, comment="China date YYYY-MM-DD of the rating"),
    Column("department", String(32), primary_key=True),
    Column("window", String(32), primary_key=True),
    Column("clerk_no", String(32), primary_key=True),
    Column("matter_code", String(64), primary_key=True),
    Column("channel", Integer, primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("status", String(16), primary_key=True, comment="effective | excluded | superseded | follow_up | test"),
    Column("n", Integer, nullable=False),
    sqlite_with_rowid=False,
)

case_rollup = Table(
    "case_rollup",
    METADATA,
    Column("day", String(10), primary_key=True, comment="China date YYYY-MM-DD of the prompt"),
    Column("department", String(32), primary_key=True),
    Column("window", String(32), primary_key=True),
    Column("clerk_no", String(32), primary_key=True),
    Column("matter_code", String(64), primary_key=True),
    Column("prompted", Integer, nullable=False),
    Column("rated", Integer, nullable=False, comment="cases a citizen rated (not only by default)"),
    Column("default_only", Integer, nullable=False, comment="cases with only a 系统默认评价"),
    sqlite_with_rowid=False,
)

# The same counts by month (a year's dashboard reads twelve months, not 365 days) and per day without the window,
# clerk and matter (the trend chart). Kept by the same deltas as the daily rollups.
rating_rollup_month = Table(
    "rating_rollup_month",
    METADATA,
    Column("month", String(7), primary_key=True, comment="China month YYYY-MM of the rating"),
    Column("department", String(32), primary_key=True),
    Column("window", String(32), primary_key=True),
    Column("clerk_no", String(32), primary_key=True),
    Column("matter_code", String(64), primary_key=True),
    Column("channel", Integer, primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("n", Integer, nullable=False),
    sqlite_with_rowid=False,
)

case_rollup_month = Table(
    "case_rollup_month",
    METADATA,
    Column("month", String(7), primary_key=True, comment="China month YYYY-MM of the prompt"),
    Column("department", String(32), primary_key=True),
    Column("window", String(32), primary_key=True),
    Column("clerk_no", String(32), primary_key=True),
    Column("matter_code", String(64), primary_key=True),
    Column("prompted", Integer, nullable=False),
    Column("rated", Integer, nullable=False),
    Column("default_only", Integer, nullable=False),
    sqlite_with_rowid=False,
)

rating_trend = Table(
    "rating_trend",
    METADATA,
    Column("day", String(10), primary_key=True),
    Column("department", String(32), primary_key=True),
    Column("channel", Integer, primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("n", Integer, nullable=False),
    sqlite_with_rowid=False,
)

case_trend = Table(
    "case_trend",
    METADATA,
    Column("day", String(10), primary_key=True),
    Column("department", String(32), primary_key=True),
    Column("prompted", Integer, nullable=False),
    Column("rated", Integer, nullable=False),
    Column("default_only", Integer, nullable=False),
    sqlite_with_rowid=False,
)


# ---------------------------------------------------------------- 差评 handling: records, appeals, workdays, webhooks
# Kept deadlines since migration 0007.

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
    Column("revisit_from", String(40), comment="when the 回访 now due became due (migration 0021)"),
    Column("reopened_at", String(40), comment="when the latest 回访 (不满意) reopened the handling"),
    Column("revisit_reopens", Integer, nullable=False, server_default="0", comment="times 回访 reopened it"),
    # what its 回访 recorded, counted on the record so that the rollups carry them (migration 0023)
    Column("revisits_answered", Integer, nullable=False, server_default="0", comment="回访 with an answer"),
    Column("revisits_satisfied", Integer, nullable=False, server_default="0", comment="满意 or 基本满意"),
    Column("revisits_unsatisfied", Integer, nullable=False, server_default="0", comment="不满意"),
    Column("revisits_unreached", Integer, nullable=False, server_default="0", comment="未能联系"),
    Column("revisits_reopened", Integer, nullable=False, server_default="0", comment="回访 that reopened it"),
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
    Column(
        "filed_under",
        String(8),
        nullable=False,
        server_default="legacy",
        comment="report: 篇10 书面报告 after 核实 (migration 0022) | legacy: filed under the former rules",
    ),
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

# ---------------------------------------------------------------- closed cases reported by the case system (0012)

closed_cases = Table(
    "closed_cases",
    METADATA,
    Column("case_no", String(64), primary_key=True),
    Column("matter_code", String(64), nullable=False),
    Column("window", String(32), nullable=False),
    Column("department", String(32), comment="the matter's department when it was reported"),
    Column("clerk_no", String(32), nullable=False),
    Column("accepted_at", String(40), nullable=False),
    Column("closed_at", String(40), comment="NULL while the case system reports it still open"),
    Column("promised_days", Integer, comment="committed working days (承诺办结时限), when the case system knows them"),
    Column("content_hash", String(64), nullable=False, comment="sha256 of the content as first stored"),
    Column("source", String(80), nullable=False, comment="case system name, or 文件:<file name>"),
    Column("received_at", String(40), nullable=False),
    Column("closed_reported_at", String(40), comment="when the closing arrived"),
    Column("flags", Text, nullable=False, server_default="", comment="conflict when other content came later"),
    Index("ix_closed_cases_closed", "closed_at"),
    Index("ix_closed_cases_accepted", "accepted_at"),
)

closed_case_conflicts = Table(
    "closed_case_conflicts",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_no", String(64), nullable=False, index=True),
    Column("content", Text, nullable=False, comment="the other content as received, JSON"),
    Column("content_hash", String(64), nullable=False),
    Column("source", String(80), nullable=False),
    Column("received_at", String(40), nullable=False),
)

# ---------------------------------------------------------------- 考核 and 考勤 (migration 0011)

assessment_rule_versions = Table(
    "assessment_rule_versions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(64), nullable=False),
    Column("content", Text, nullable=False, comment="AssessmentRules JSON"),
    Column("digest", String(64), nullable=False, comment="sha256 of the content"),
    Column("source", Text, nullable=False),
    Column("imported_at", String(40), nullable=False),
)

assessment_events = Table(
    "assessment_events",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("clerk_no", String(32), nullable=False),
    Column("department", String(32)),
    Column("day", String(10), nullable=False, comment="China date the event happened"),
    Column("kind", String(32), nullable=False),
    Column("points", Integer, nullable=False, comment="signed: negative deducts, positive adds"),
    Column("source", String(32), nullable=False, comment="manual | attendance_* | bad_rating_attitude | red_card"),
    Column("source_key", String(128), unique=True, comment="one proposal per fact; NULL for manual events"),
    Column("state", String(16), nullable=False, comment="proposed | confirming | confirmed | dismissed | withdrawn"),
    Column("summary", Text, nullable=False, comment="what happened, in Chinese"),
    Column("rules_version", String(64), nullable=False),
    Column("proposed_by", String(64), nullable=False, comment="system for the server's proposals"),
    Column("proposed_at", String(40), nullable=False),
    Column("first_by", String(64), comment="who confirmed first (four-eyes) or alone"),
    Column("first_at", String(40)),
    Column("first_note", Text),
    Column("second_by", String(64), comment="the second confirmation of a four-eyes event"),
    Column("second_at", String(40)),
    Column("second_note", Text),
    Column("closed_by", String(64), comment="who dismissed it, or system for a withdrawal"),
    Column("closed_at", String(40)),
    Column("closed_note", Text),
    Column("detail", Text, nullable=False, server_default="{}", comment="JSON: the facts behind a proposal"),
    Index("ix_assessment_events_clerk_day", "clerk_no", "day"),
    Index("ix_assessment_events_state", "state"),
)

assessment_evidence = Table(
    "assessment_evidence",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, nullable=False, index=True),
    Column("filename", String(128), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("uploaded_at", String(40), nullable=False),
)

assessment_leave = Table(
    "assessment_leave",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("clerk_no", String(32), nullable=False, index=True),
    Column("first_day", String(10), nullable=False),
    Column("last_day", String(10), nullable=False),
    Column("part", String(8), nullable=False, comment="day | am | pm (a half day is one day only)"),
    Column("approved_by", String(64), nullable=False, comment="批准人"),
    Column("filed_with_centre", Integer, nullable=False, comment="1: 已报中心主任备案"),
    Column("note", Text, nullable=False),
    Column("entered_by", String(64), nullable=False),
    Column("entered_at", String(40), nullable=False),
)

assessment_panel = Table(
    "assessment_panel",
    METADATA,
    Column("username", String(64), primary_key=True, comment="a console user in the 考核领导小组"),
    Column("added_by", String(64), nullable=False),
    Column("added_at", String(40), nullable=False),
)

assessment_years = Table(
    "assessment_years",
    METADATA,
    Column("year", Integer, primary_key=True),
    Column("content", Text, nullable=False, comment="the frozen scores and grades, canonical JSON"),
    Column("content_hash", String(64), nullable=False, comment="sha256 of content, also in the audit log"),
    Column("closed_by", String(64), nullable=False),
    Column("closed_at", String(40), nullable=False),
)

assessment_objections = Table(
    "assessment_objections",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("year", Integer, nullable=False, index=True),
    Column("clerk_no", String(32), nullable=False),
    Column("event_id", Integer, comment="the event objected to; NULL: the grade"),
    Column("statement", Text, nullable=False),
    Column("filed_by", String(64), nullable=False, comment="the administrator who filed it for the clerk"),
    Column("filed_at", String(40), nullable=False),
    Column("status", String(16), nullable=False, comment="pending | upheld | rejected"),
    Column("decided_by", String(64)),
    Column("decided_at", String(40)),
    Column("reason", Text),
)

assessment_corrections = Table(
    "assessment_corrections",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("year", Integer, nullable=False, index=True),
    Column("clerk_no", String(32), nullable=False),
    Column("objection_id", Integer, nullable=False),
    Column("event_id", Integer),
    Column("points", Integer, nullable=False, comment="added to the frozen score (signed)"),
    Column("note", Text, nullable=False),
    Column("corrected_by", String(64), nullable=False),
    Column("corrected_at", String(40), nullable=False),
)

# ---------------------------------------------------------------- upload to the provincial 好差评 platform (0013)

upstream_items = Table(
    "upstream_items",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_key", String(160), nullable=False, unique=True, comment="the item's own id: the idempotency key"),
    Column("kind", String(16), nullable=False, comment="rating | step | appeal"),
    Column("source_id", String(128), nullable=False, comment="record id, case event id or appeal id"),
    Column("day", String(10), nullable=False, comment="China date of the event"),
    Column("body", Text, nullable=False, comment="the item as sent (province field names), JSON"),
    Column("state", String(16), nullable=False, comment="pending | accepted | rejected"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", String(40), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", String(40)),
    Column("created_at", String(40), nullable=False),
    Column("sent_at", String(40), comment="the last attempt"),
    Column("accepted_at", String(40)),
    Column("code", String(64), comment="the platform's code for a rejection"),
    Column("message", Text, comment="the platform's message, or why the attempt failed"),
    Index("ix_upstream_items_due", "state", "next_attempt_at"),
    Index("ix_upstream_items_day", "day", "state"),
)

upstream_receipts = Table(
    "upstream_receipts",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, nullable=False, index=True),
    Column("at", String(40), nullable=False),
    Column("outcome", String(16), nullable=False, comment="accepted | rejected | failed"),
    Column("http_status", Integer),
    Column("code", String(64)),
    Column("message", Text),
)

# ---------------------------------------------------------------- 差评处理 figures by arrival period (migration 0014)
# The rates count the handling records of the days (months) their ratings arrived in, by how far their handling got:
# the database keeps these buckets with the record itself (triggers on every INSERT and UPDATE of bad_cases), so the
# dashboard adds up a period's buckets instead of reading its records. ``open_*_due``: the kept deadline of a step
# not done yet ('' once done), so "overdue by today" is read from the bucket; ``kept`` 0: a deadline the figures
# need is not kept (an unconfirmed holiday year), and those records are worked out afresh. A record whose appeal
# was upheld, or that was withdrawn, counts only by its state: its progress flags are 0 and its open deadlines ''
# (migration 0016). ``revisit_owed``: its 回访 is due or done, 属实 and 不属实 alike; ``revisit_kept``: its 回访
# deadline is kept; the ``revisits_*`` sums: what the 回访 of the bucket's records recorded (migration 0023).
HANDLING_ROLLUP_KEY = (
    "department",
    "window",
    "clerk_no",
    "state",
    "fixing",
    "verified",
    "fixed",
    "visited",
    "contact_on_time",
    "fix_on_time",
    "revisit_on_time",
    "kept",
    "revisit_owed",
    "revisit_kept",
    "open_contact_due",
    "open_fix_due",
    "open_revisit_due",
)
REVISIT_SUMS = (
    "revisits_answered",
    "revisits_satisfied",
    "revisits_unsatisfied",
    "revisits_unreached",
    "revisits_reopened",
)


def _handling_rollup(name: str, period: Column) -> Table:
    flags = [c for c in HANDLING_ROLLUP_KEY[4:] if not c.startswith("open_")]
    return Table(
        name,
        METADATA,
        period,
        Column("department", String(32), primary_key=True, comment="'' when the window had none"),
        Column("window", String(32), primary_key=True),
        Column("clerk_no", String(32), primary_key=True),
        Column("state", String(16), primary_key=True),
        *(Column(flag, Integer, primary_key=True) for flag in flags),
        *(Column(due, String(10), primary_key=True) for due in HANDLING_ROLLUP_KEY if due.startswith("open_")),
        Column("n", Integer, nullable=False),
        *(Column(total, Integer, nullable=False, server_default="0") for total in REVISIT_SUMS),
        sqlite_with_rowid=False,
    )


handling_rollup = _handling_rollup(
    "handling_rollup", Column("day", String(10), primary_key=True, comment="China date the rating arrived")
)
handling_rollup_month = _handling_rollup(
    "handling_rollup_month", Column("month", String(7), primary_key=True, comment="China month the rating arrived")
)
# Records with a deadline the figures need that is not kept: the rates read them alone by this partial index.
UNKEPT_DUES = or_(
    bad_cases.c.contact_due.is_(None),
    and_(bad_cases.c.fix_kind.is_not(None), bad_cases.c.fix_due.is_(None)),
    and_(bad_cases.c.fixed_at.is_not(None), bad_cases.c.revisit_due.is_(None)),
)
Index("ix_bad_cases_unkept_dues", bad_cases.c.arrival_day, sqlite_where=UNKEPT_DUES, postgresql_where=UNKEPT_DUES)
# Records whose 回访 is due or done without a kept 回访 deadline: the 回访 on-time rate reads them alone (0023).
REVISIT_OWED = or_(
    bad_cases.c.revisit_from.is_not(None), bad_cases.c.fixed_at.is_not(None), bad_cases.c.visited_at.is_not(None)
)
REVISIT_UNKEPT = and_(REVISIT_OWED, bad_cases.c.revisit_due.is_(None))
Index(
    "ix_bad_cases_revisit_unkept", bad_cases.c.arrival_day, sqlite_where=REVISIT_UNKEPT, postgresql_where=REVISIT_UNKEPT
)
# The kept deadline each waiting state runs against, and per state a partial index of its records by that deadline:
# the 差评处理 panel counts its red and yellow cards, and finds the earliest, from these indexes alone.
WAITING_DUE = {
    "pending": "contact_due",
    "rectifying": "fix_due",
    "rectified": "revisit_due",
    "unfounded": "explain_due",
    "explained": "revisit_due",  # 不属实 explained: the hall's 回访 is due (migration 0021)
}


def waiting_in(state: str):
    """``state = '<state>'`` written with a literal, as the partial indexes are, so both databases match them."""
    return bad_cases.c.state == literal_column(f"'{state}'")


for _state, _due in WAITING_DUE.items():
    Index(
        f"ix_bad_cases_{_due}" if _state != "explained" else "ix_bad_cases_revisit_due_explained",
        bad_cases.c[_due],
        bad_cases.c.id,
        bad_cases.c.department,
        bad_cases.c.window,
        bad_cases.c.state,  # so that a count reads the index alone
        sqlite_where=waiting_in(_state),
        postgresql_where=waiting_in(_state),
    )

# 差评工单 延期: a department asks for more time on a step with a reason; a hall administrator other than the asker
# approves (the step's kept deadline moves, the old one stays here) or refuses it (migration 0017)
case_extensions = Table(
    "case_extensions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, nullable=False, index=True),
    Column("step", String(8), nullable=False, comment="contact | fix | revisit | explain"),
    Column("old_due", String(10), nullable=False, comment="the deadline before the extension"),
    Column("new_due", String(10), nullable=False, comment="the deadline asked for"),
    Column("reason", Text, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", String(40), nullable=False),
    Column("status", String(16), nullable=False, comment="pending | approved | refused"),
    Column("decided_by", String(64)),
    Column("decided_at", String(40)),
    Column("decision_note", Text),
)

# The mobile number a citizen left after a 差评 (核实, 回访), encrypted with the settings file's key (never the
# database's): the number itself is only in ``ciphertext``; ``masked`` (138****1234) is what lists show. Deleted
# (``ciphertext`` emptied, ``deleted_at`` set) ``keep_days`` after the case's 差评工单 finished (migration 0021).
contacts = Table(
    "contacts",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(128), nullable=False, unique=True, comment="the record that carried the number"),
    Column("case_no", String(64), nullable=False, index=True),
    Column("rating_id", String(128), comment="the rating the number was left with"),
    Column("source", String(8), nullable=False, comment="device | qr"),
    Column("masked", String(16), nullable=False, comment="138****1234"),
    Column("ciphertext", Text, comment="Fernet token of the number; NULL once deleted"),
    Column("given_at", String(40), nullable=False),
    Column("stored_at", String(40), nullable=False),
    Column("deleted_at", String(40), comment="when the number was deleted (keep_days after 办结)"),
)

# How many ratings were received, per terminal and source, kept at every insert of a rating record (migration
# 0019): /metrics reads these few rows (one per terminal and source) instead of counting every stored rating.
received_ratings = Table(
    "received_ratings",
    METADATA,
    Column("device_id", String(64), primary_key=True),
    Column("source", String(16), primary_key=True, comment="device | qr | default"),
    Column("n", Integer, nullable=False),
)

# ---------------------------------------------------------------- published 通报 (migration 0020)
# A 通报 of a month, quarter or year frozen when published: the figures as canonical JSON and the files as rendered,
# each with its sha256 (also written to the audit log). Publishing a period again makes the next version; no row is
# ever changed or deleted (triggers refuse it).
published_reports = Table(
    "published_reports",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False, comment="month | quarter | year"),
    Column("period", String(8), nullable=False, comment="2026-11 | 2026Q4 | 2026"),
    Column("department", String(32), nullable=False, comment="department code; empty: the whole hall"),
    Column("version", Integer, nullable=False, comment="1, then 2… when the period is published again"),
    Column("content", Text, nullable=False, comment="the figures, canonical JSON"),
    Column("content_hash", String(64), nullable=False, comment="sha256 of content (UTF-8)"),
    Column("xlsx", LargeBinary, nullable=False, comment="the workbook as published"),
    Column("xlsx_hash", String(64), nullable=False),
    Column("csv", LargeBinary, nullable=False, comment="the CSV as published (UTF-8 with BOM)"),
    Column("csv_hash", String(64), nullable=False),
    Column("reason", Text, comment="更正说明 of a second or later version"),
    Column("published_by", String(64), nullable=False),
    Column("published_at", String(40), nullable=False),
    UniqueConstraint("kind", "period", "department", "version", name="uq_published_reports_version"),
)

# 回访 of a 差评工单 (migration 0021): every one kept, by whom, how the citizen was reached and what they answered;
# a 不满意 that reopened the handling stays here beside the 回访 that ended it
case_revisits = Table(
    "case_revisits",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, nullable=False, index=True),
    Column("round", Integer, nullable=False, comment="1 for the first 回访, 2 after one reopening …"),
    Column("due", String(10), comment="the 回访 deadline it ran against"),
    Column("done_at", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("method", String(16), nullable=False, comment="phone | sms | unreached"),
    Column("answer", String(16), comment="satisfied | basically | unsatisfied; NULL when unreached"),
    Column("note", Text, nullable=False),
    Column("outcome", String(16), nullable=False, comment="revisited | reopened"),
)

# Notices that a 差评工单 needs 回访 (or was reopened), queued for the webhook sender and delivered with retries
# (migration 0021); never the level or the clerk
revisit_notices = Table(
    "revisit_notices",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, nullable=False, index=True),
    Column("event", String(32), nullable=False),
    Column("url", String(500), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False, comment="pending | delivered"),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(40), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", String(40)),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", String(40), nullable=False),
    Column("delivered_at", String(40)),
    Index("ix_revisit_notices_due", "state", "next_attempt_at"),
)
