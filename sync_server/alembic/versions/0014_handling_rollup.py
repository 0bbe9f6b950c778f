"""差评处理 figures without reading a period's records: handling_rollup (by arrival day) and handling_rollup_month
count the handling records by how far their handling got, kept by triggers on bad_cases and filled from the records
already stored (a year at 10 million ratings holds 950,000 records); partial indexes of the records waiting in each
state by their kept deadline, from which the panel counts its red and yellow cards; and one of the records with a
deadline that is not kept (worked out afresh)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
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
# Each record's bucket, from its own row ({r}: NEW, OLD or bad_cases). The same text on SQLite and PostgreSQL.
BUCKET = (
    "coalesce({r}.department, '')",
    "coalesce({r}.\"window\", '')",
    "coalesce({r}.clerk_no, '')",
    "{r}.state",
    "CASE WHEN {r}.fix_kind IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.verified_at IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.fixed_at IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.visited_at IS NOT NULL THEN 1 ELSE 0 END",
    "CASE WHEN {r}.verified_at < " + END_OF.replace("{due}", "contact_due") + " THEN 1 ELSE 0 END",
    "CASE WHEN {r}.fixed_at < " + END_OF.replace("{due}", "fix_due") + " THEN 1 ELSE 0 END",
    "CASE WHEN {r}.visited_at < " + END_OF.replace("{due}", "revisit_due") + " THEN 1 ELSE 0 END",
    f"CASE WHEN {UNKEPT} THEN 0 ELSE 1 END",
    "CASE WHEN {r}.verified_at IS NULL AND {r}.contact_due IS NOT NULL THEN {r}.contact_due ELSE '' END",
    "CASE WHEN {r}.fix_kind IS NOT NULL AND {r}.fixed_at IS NULL AND {r}.fix_due IS NOT NULL "
    "THEN {r}.fix_due ELSE '' END",
    "CASE WHEN {r}.fixed_at IS NOT NULL AND {r}.visited_at IS NULL AND {r}.revisit_due IS NOT NULL "
    "THEN {r}.revisit_due ELSE '' END",
)
WATCHED = (
    'arrival_day, department, "window", clerk_no, state, fix_kind, verified_at, fixed_at, visited_at, '
    "contact_due, fix_due, revisit_due"
)
WAITING_DUE = {
    "pending": "contact_due",
    "rectifying": "fix_due",
    "rectified": "revisit_due",
    "unfounded": "explain_due",
}
UNKEPT_DUES = sa.text(UNKEPT.format(r="bad_cases").replace("bad_cases.", ""))


def _columns(period: str, comment: str) -> list:
    return [
        sa.Column(period, sa.String(length=7 if period == "month" else 10), nullable=False, comment=comment),
        sa.Column("department", sa.String(length=32), nullable=False, comment="'' when the window had none"),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("clerk_no", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        *(sa.Column(flag, sa.Integer(), nullable=False) for flag in FLAGS),
        *(sa.Column(due, sa.String(length=10), nullable=False) for due in OPEN_DUES),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(period, *KEY),
    ]


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
    op.create_table("handling_rollup", *_columns("day", "China date the rating arrived"), sqlite_with_rowid=False)
    op.create_table(
        "handling_rollup_month", *_columns("month", "China month the rating arrived"), sqlite_with_rowid=False
    )
    op.create_index(
        "ix_bad_cases_unkept_dues", "bad_cases", ["arrival_day"], sqlite_where=UNKEPT_DUES, postgresql_where=UNKEPT_DUES
    )
    for state, due in WAITING_DUE.items():
        waiting = sa.text(f"state = '{state}'")
        columns = [due, "id", "department", "window", "state"]  # state: so that a count reads the index alone
        op.create_index(f"ix_bad_cases_{due}", "bad_cases", columns, sqlite_where=waiting, postgresql_where=waiting)
    for table, period, period_sql in PERIODS:
        bucket = _bucket(period_sql, "bad_cases")
        op.execute(
            f'INSERT INTO {table} ("{period}", {COLUMNS}, n) SELECT {bucket}, count(*) FROM bad_cases GROUP BY {bucket}'
        )
    if op.get_bind().dialect.name == "postgresql":
        body = "; ".join(f"IF TG_OP = '{verb}' THEN {'; '.join(_moves(verb))}; END IF" for verb in ("INSERT", "UPDATE"))
        op.execute(
            "CREATE FUNCTION handling_rollup_keep() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {body}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER bad_cases_handling_rollup AFTER INSERT OR UPDATE OF {WATCHED} ON bad_cases "
            "FOR EACH ROW EXECUTE FUNCTION handling_rollup_keep()"
        )
        return
    for verb, watched in (("INSERT", ""), ("UPDATE", f" OF {WATCHED}")):
        op.execute(
            f"CREATE TRIGGER bad_cases_handling_rollup_{verb.lower()} AFTER {verb}{watched} ON bad_cases "
            f"BEGIN {'; '.join(_moves(verb))}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS bad_cases_handling_rollup ON bad_cases")
        op.execute("DROP FUNCTION IF EXISTS handling_rollup_keep()")
    else:
        for verb in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS bad_cases_handling_rollup_{verb}")
    for due in WAITING_DUE.values():
        op.drop_index(f"ix_bad_cases_{due}", table_name="bad_cases")
    op.drop_index("ix_bad_cases_unkept_dues", table_name="bad_cases")
    op.drop_table("handling_rollup_month")
    op.drop_table("handling_rollup")
