"""workflow history is append-only: case_events and appeal_evidence refuse UPDATE and DELETE; bad_cases and appeals
refuse DELETE (their current state changes, their history never goes away)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 06:25:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

GUARDS = (
    ("case_events", ("UPDATE", "DELETE")),
    ("appeal_evidence", ("UPDATE", "DELETE")),
    ("bad_cases", ("DELETE",)),
    ("appeals", ("DELETE",)),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION workflow_history_kept() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP; END $$"
        )
        for table, ops in GUARDS:
            op.execute(
                f"CREATE TRIGGER {table}_kept BEFORE {' OR '.join(ops)} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION workflow_history_kept()"
            )
        return
    for table, ops in GUARDS:
        for verb in ops:
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, '{table} is append-only ({verb} refused)'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, _ops in GUARDS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_kept ON {table}")
        op.execute("DROP FUNCTION IF EXISTS workflow_history_kept()")
        return
    for table, ops in GUARDS:
        for verb in ops:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb.lower()}")
