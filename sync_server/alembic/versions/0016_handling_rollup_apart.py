"""差评处理 rollups: a record whose appeal was upheld, or that was withdrawn, counts only as such, so its bucket no
longer carries how far its handling had got nor its open deadlines (one bucket per day, window and clerk instead of
one per open deadline: at 10 million ratings the year's monthly buckets go from 20,900 to about 11,600); the
triggers are replaced and the buckets refilled from the stored records

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 11:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

FLAGS = ("fixing", "verified", "fixed", "visited", "contact_on_time", "fix_on_time", "revisit_on_time", "kept")
OPEN_DUES = ("open_contact_due", "open_fix_due", "open_revisit_due")
KEY = ("department", "window", "clerk_no", "state", *FLAGS, *OPEN_DUES)
COLUMNS = ", ".join(f'"{c}"' for c in KEY)
PERIODS = (
    ("handling_rollup", "day", "{r}.arrival_day"),
    ("handling_rollup_month", "month", "substr({r}.arrival_day, 1, 7)"),
)
END_OF = "({r}.{due} || 'T16:00:00.000+00:00')"  # the end of the China day ``due``, in UTC
UNKEPT = (
    "{r}.contact_due IS NULL OR ({r}.fix_kind IS NOT NULL AND {r}.fix_due IS NULL) "
    "OR ({r}.fixed_at IS NOT NULL AND {r}.revisit_due IS NULL)"
)
APART = "{r}.state IN ('upheld', 'withdrawn')"  # counted apart: only the state matters
# Each record's bucket, from its own row ({r}: NEW, OLD or bad_cases). The same text on SQLite and PostgreSQL.
# ``kept`` stays as it is for every record: the records with a deadline not kept are counted from their rows.
PROGRESS = (
    "CASE WHEN {r}.fix_kind IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.verified_at IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.fixed_at IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.visited_at IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.verified_at < " + END_OF.replace("{due}", "contact_due") + " THEN 1 ELSE 0 END",
    "CASE WHEN {r}.fixed_at < " + END_OF.replace("{due}", "fix_due") + " THEN 1 ELSE 0 END",
    "CASE WHEN {r}.visited_at < " + END_OF.replace("{due}", "revisit_due") + " THEN 1 ELSE 0 END",
)
OPEN = (
    "CASE WHEN {r}.verified_at IS NULL AND {r}.contact_due IS NOT NULL THEN {r}.contact_due ELSE '' END",
    "CASE WHEN {r}.fix_kind IS NOT NULL AND {r}.fixed_at IS NULL AND {r}.fix_due IS NOT NULL "
    "THEN {r}.fix_due ELSE '' END",
    "CASE WHEN {r}.fixed_at IS NOT NULL AND {r}.visited_at IS NULL AND {r}.revisit_due IS NOT NULL "
    "THEN {r}.revisit_due ELSE '' END",
)
BUCKET = (
    "coalesce({r}.department, '')",
    "coalesce({r}.\"window\", '')",
    "coalesce({r}.clerk_no, '')",
    "{r}.state",
    *(f"CASE WHEN {APART} THEN 0 ELSE {flag} END" for flag in PROGRESS),
    f"CASE WHEN {UNKEPT} THEN 0 ELSE 1 END",
    *(f"CASE WHEN {APART} THEN '' ELSE {due} END" for due in OPEN),
)


def _bucket(period_sql: str, r: str) -> str:
    return ", ".join([period_sql.format(r=r)] + [b.format(r=r) for b in BUCKET])


def _add(table: str, period: str, period_sql: str, r: str, n: str) -> str:
    """One record's ``n`` (+1 or -1) added to its bucket in ``table``."""
    return (
        f'INSERT INTO {table} ("{period}", {COLUMNS}, n) VALUES ({_bucket(period_sql, r)}, {n}) '
        f'ON CONFLICT ("{period}", {COLUMNS}) DO UPDATE SET n = {table}.n + excluded.n'
    )


def _moves(verb: str) -> list[str]:
    """What a row's INSERT or UPDATE does to both rollups: its old bucket loses it, its new one gains it."""
    out = []
    for table, period, period_sql in PERIODS:
        if verb == "UPDATE":
            out.append(_add(table, period, period_sql, "OLD", "-1"))
        out.append(_add(table, period, period_sql, "NEW", "1"))
    return out


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        body = "; ".join(f"IF TG_OP = '{verb}' THEN {'; '.join(_moves(verb))}; END IF" for verb in ("INSERT", "UPDATE"))
        op.execute(
            "CREATE OR REPLACE FUNCTION handling_rollup_keep() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {body}; RETURN NULL; END $$"
        )
    else:
        for verb in ("insert", "update"):
            op.execute(f"DROP TRIGGER bad_cases_handling_rollup_{verb}")
        watched = (
            'arrival_day, department, "window", clerk_no, state, fix_kind, verified_at, fixed_at, visited_at, '
            "contact_due, fix_due, revisit_due"
        )
        for verb, columns in (("INSERT", ""), ("UPDATE", f" OF {watched}")):
            op.execute(
                f"CREATE TRIGGER bad_cases_handling_rollup_{verb.lower()} AFTER {verb}{columns} ON bad_cases "
                f"BEGIN {'; '.join(_moves(verb))}; END"
            )
    for table, period, period_sql in PERIODS:
        bucket = _bucket(period_sql, "bad_cases")
        op.execute(f"DELETE FROM {table}")
        op.execute(
            f'INSERT INTO {table} ("{period}", {COLUMNS}, n) SELECT {bucket}, count(*) FROM bad_cases GROUP BY {bucket}'
        )


def downgrade() -> None:
    """Nothing to undo: the reads of 0014 give the same figures from these buckets (its own downgrade drops the
    triggers and the tables)."""
