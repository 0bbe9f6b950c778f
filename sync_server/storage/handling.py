"""差评 handling records (差评工单, table ``bad_cases``) with their history (``case_events``), appeals and
extensions: the reads and writes. The rules (which step may follow which, what a step needs) stay in
``sync_server.workflow``; this module only stores what they decided."""

from __future__ import annotations

from sqlalchemy import Connection, Row, func, select

from sync_server.storage.schema import bad_cases


def count_cases(conn: Connection) -> int:
    """How many handling records were ever opened."""
    return conn.execute(select(func.count()).select_from(bad_cases)).scalar_one()


def cases_in_state(conn: Connection, state: str) -> list[Row]:
    return conn.execute(select(bad_cases).where(bad_cases.c.state == state)).all()


def counts_by_state(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(bad_cases.c.state, func.count()).group_by(bad_cases.c.state)).all())


def evidence_file(conn: Connection, evidence_id: int) -> Row | None:
    """One evidence file of an appeal, with its content."""
    from sync_server.storage.schema import appeal_evidence

    return conn.execute(select(appeal_evidence).where(appeal_evidence.c.id == evidence_id)).first()
