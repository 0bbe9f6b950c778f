"""回访 figures from the 差评处理 rollups: the buckets also say whether a record's 回访 is due or done (属实 and
不属实 alike) and whether its 回访 deadline is kept, its open 回访 deadline covers 不属实 records too, and they add up
what the 回访 recorded (answered, 满意 or 基本满意, 不满意, 未能联系, reopened), which each record now counts on
itself. A year's 回访 rate is then read from the period's buckets instead of its records (at 10 million ratings a
year holds about 950,000 records). The triggers and tables are replaced and the buckets refilled from the stored
records; a partial index finds the few records whose 回访 deadline is not kept.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-29 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

SUMS = ("revisits_answered", "revisits_satisfied", "revisits_unsatisfied", "revisits_unreached", "revisits_reopened")
SUM_COMMENTS = ("回访 with an answer", "满意 or 基本满意", "不满意", "未能联系", "回访 that reopened it")
# what one 回访 adds to each sum, from its row in case_revisits (r)
SUM_OF_REVISIT = (
    "r.answer IS NOT NULL",
    "r.answer IN ('satisfied', 'basically')",
    "r.answer = 'unsatisfied'",
    "r.method = 'unreached'",
    "r.outcome = 'reopened'",
)
BEFORE_FLAGS = ("fixing", "verified", "fixed", "visited", "contact_on_time", "fix_on_time", "revisit_on_time", "kept")
FLAGS = (*BEFORE_FLAGS, "revisit_owed", "revisit_kept")
OPEN_DUES = ("open_contact_due", "open_fix_due", "open_revisit_due")
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
OWED = "({r}.revisit_from IS NOT NULL OR {r}.fixed_at IS NOT NULL OR {r}.visited_at IS NOT NULL)"
# Each record's bucket, from its own row ({r}: NEW, OLD or bad_cases). The same text on SQLite and PostgreSQL.
PROGRESS = (
    "CASE WHEN {r}.fix_kind IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.verified_at IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.fixed_at IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.visited_at IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.verified_at < " + END_OF.replace("{due}", "contact_due") + " THEN 1 ELSE 0 END",
    "CASE WHEN {r}.fixed_at < " + END_OF.replace("{due}", "fix_due") + " THEN 1 ELSE 0 END",
    "CASE WHEN {r}.visited_at < " + END_OF.replace("{due}", "revisit_due") + " THEN 1 ELSE 0 END",
)
REVISIT = (f"CASE WHEN {OWED} THEN 1 ELSE 0 END", "CASE WHEN {r}.revisit_due IS NOT NULL THEN 1 ELSE 0 END")
OPEN_CONTACT_FIX = (
    "CASE WHEN {r}.verified_at IS NULL AND {r}.contact_due IS NOT NULL THEN {r}.contact_due ELSE '' END",
    "CASE WHEN {r}.fix_kind IS NOT NULL AND {r}.fixed_at IS NULL AND {r}.fix_due IS NOT NULL "
    "THEN {r}.fix_due ELSE '' END",
)
OPEN_REVISIT = {  # the 回访 deadline still open: 属实 records only before, every record owed 回访 now
    False: "CASE WHEN {r}.fixed_at IS NOT NULL AND {r}.visited_at IS NULL AND {r}.revisit_due IS NOT NULL "
    "THEN {r}.revisit_due ELSE '' END",
    True: f"CASE WHEN {OWED} AND {{r}}.visited_at IS NULL AND {{r}}.revisit_due IS NOT NULL "
    "THEN {r}.revisit_due ELSE '' END",
}
BEFORE_WATCHED = (
    'arrival_day, department, "window", clerk_no, state, fix_kind, verified_at, fixed_at, visited_at, '
    "contact_due, fix_due, revisit_due"
)
WATCHED = f"{BEFORE_WATCHED}, revisit_from, {', '.join(SUMS)}"


class Shape:
    """The buckets of 0016 (``revisits`` False) or of this revision: key, bucket expressions, sums, watched columns."""

    def __init__(self, revisits: bool):
        flags = FLAGS if revisits else BEFORE_FLAGS
        self.key = ("department", "window", "clerk_no", "state", *flags, *OPEN_DUES)
        self.flags, self.sums = flags, SUMS if revisits else ()
        self.watched = WATCHED if revisits else BEFORE_WATCHED
        self.bucket = (
            "coalesce({r}.department, '')",
            "coalesce({r}.\"window\", '')",
            "coalesce({r}.clerk_no, '')",
            "{r}.state",
            *(f"CASE WHEN {APART} THEN 0 ELSE {flag} END" for flag in PROGRESS),
            f"CASE WHEN {UNKEPT} THEN 0 ELSE 1 END",
            *(f"CASE WHEN {APART} THEN 0 ELSE {flag} END" for flag in (REVISIT if revisits else ())),
            *(f"CASE WHEN {APART} THEN '' ELSE {due} END" for due in (*OPEN_CONTACT_FIX, OPEN_REVISIT[revisits])),
        )

    def columns_sql(self) -> str:
        return ", ".join([f'"{c}"' for c in self.key] + ["n", *self.sums])

    def values(self, period_sql: str, r: str, sign: str) -> str:
        """One record's bucket and what it adds (``sign`` "" to add it, "-" to take it away)."""
        sums = [f"CASE WHEN {APART.format(r=r)} THEN 0 ELSE {sign}{r}.{s} END" for s in self.sums]
        return ", ".join([period_sql.format(r=r), *(b.format(r=r) for b in self.bucket), f"{sign}1", *sums])

    def add(self, table: str, period: str, period_sql: str, r: str, sign: str) -> str:
        key = ", ".join(f'"{c}"' for c in self.key)
        totals = "".join(f", {s} = {table}.{s} + excluded.{s}" for s in self.sums)
        return (
            f'INSERT INTO {table} ("{period}", {self.columns_sql()}) VALUES ({self.values(period_sql, r, sign)}) '
            f'ON CONFLICT ("{period}", {key}) DO UPDATE SET n = {table}.n + excluded.n{totals}'
        )

    def moves(self, verb: str) -> list[str]:
        """What a row's INSERT or UPDATE does to both rollups: its old bucket loses it, its new one gains it."""
        out = []
        for table, period, period_sql in PERIODS:
            if verb == "UPDATE":
                out.append(self.add(table, period, period_sql, "OLD", "-"))
            out.append(self.add(table, period, period_sql, "NEW", ""))
        return out

    def table_columns(self, period: str) -> list:
        comment = "China month the rating arrived" if period == "month" else "China date the rating arrived"
        return [
            sa.Column(period, sa.String(length=7 if period == "month" else 10), nullable=False, comment=comment),
            sa.Column("department", sa.String(length=32), nullable=False, comment="'' when the window had none"),
            sa.Column("window", sa.String(length=32), nullable=False),
            sa.Column("clerk_no", sa.String(length=32), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            *(sa.Column(flag, sa.Integer(), nullable=False) for flag in self.flags),
            *(sa.Column(due, sa.String(length=10), nullable=False) for due in OPEN_DUES),
            sa.Column("n", sa.Integer(), nullable=False),
            *(sa.Column(s, sa.Integer(), nullable=False, server_default="0") for s in self.sums),
            sa.PrimaryKeyConstraint(period, *self.key),
        ]

    def rebuild(self) -> None:
        """Drop the triggers and the two tables, make them in this shape, and refill them from the records."""
        postgresql = op.get_bind().dialect.name == "postgresql"
        _drop_triggers(postgresql)
        for table, period, _sql in PERIODS:
            op.drop_table(table)
            op.create_table(table, *self.table_columns(period), sqlite_with_rowid=False)
        if postgresql:
            body = "; ".join(
                f"IF TG_OP = '{verb}' THEN {'; '.join(self.moves(verb))}; END IF" for verb in ("INSERT", "UPDATE")
            )
            op.execute(
                "CREATE OR REPLACE FUNCTION handling_rollup_keep() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN {body}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER bad_cases_handling_rollup AFTER INSERT OR UPDATE OF {self.watched} ON bad_cases "
                "FOR EACH ROW EXECUTE FUNCTION handling_rollup_keep()"
            )
        else:
            for verb, columns in (("INSERT", ""), ("UPDATE", f" OF {self.watched}")):
                op.execute(
                    f"CREATE TRIGGER bad_cases_handling_rollup_{verb.lower()} AFTER {verb}{columns} ON bad_cases "
                    f"BEGIN {'; '.join(self.moves(verb))}; END"
                )
        for table, period, period_sql in PERIODS:
            bucket = ", ".join([period_sql.format(r="bad_cases"), *(b.format(r="bad_cases") for b in self.bucket)])
            sums = "".join(
                f", sum(CASE WHEN {APART.format(r='bad_cases')} THEN 0 ELSE bad_cases.{s} END)" for s in self.sums
            )
            op.execute(
                f'INSERT INTO {table} ("{period}", {self.columns_sql()}) '
                f"SELECT {bucket}, count(*){sums} FROM bad_cases GROUP BY {bucket}"
            )


def _drop_triggers(postgresql: bool) -> None:
    if postgresql:
        op.execute("DROP TRIGGER IF EXISTS bad_cases_handling_rollup ON bad_cases")
    else:
        for verb in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS bad_cases_handling_rollup_{verb}")


OWED_UNKEPT = "(revisit_from IS NOT NULL OR fixed_at IS NOT NULL OR visited_at IS NOT NULL) AND revisit_due IS NULL"


def upgrade() -> None:
    _drop_triggers(op.get_bind().dialect.name == "postgresql")  # before the records' sums are filled in
    for column, comment in zip(SUMS, SUM_COMMENTS, strict=True):
        op.add_column("bad_cases", sa.Column(column, sa.Integer(), nullable=False, server_default="0", comment=comment))
    counts = ", ".join(
        f"{s} = (SELECT count(*) FROM case_revisits r WHERE r.case_id = bad_cases.id AND {cond})"
        for s, cond in zip(SUMS, SUM_OF_REVISIT, strict=True)
    )
    op.execute(f"UPDATE bad_cases SET {counts} WHERE id IN (SELECT case_id FROM case_revisits)")
    unkept = sa.text(OWED_UNKEPT)
    op.create_index(
        "ix_bad_cases_revisit_unkept", "bad_cases", ["arrival_day"], sqlite_where=unkept, postgresql_where=unkept
    )
    Shape(revisits=True).rebuild()


def downgrade() -> None:
    """Back to 0016's buckets (refilled from the records) and the records without their 回访 sums."""
    op.drop_index("ix_bad_cases_revisit_unkept", table_name="bad_cases")
    _drop_triggers(op.get_bind().dialect.name == "postgresql")
    for column in SUMS:
        op.drop_column("bad_cases", column)
    Shape(revisits=False).rebuild()
