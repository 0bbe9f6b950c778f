"""Official working-day schedules loaded by administrators (国务院办公厅节假日安排), one row per load; the newest load
of a year wins."""

from __future__ import annotations

from sqlalchemy import Connection, Row, select

from sync_server.storage.schema import workday_schedules


def insert_schedule(conn: Connection, year: int, content: str, source: str, loaded_at: str, loaded_by: str) -> None:
    conn.execute(
        workday_schedules.insert().values(
            year=year, content=content, source=source, loaded_at=loaded_at, loaded_by=loaded_by
        )
    )


def loaded_schedules(conn: Connection) -> list[Row]:
    """Every load, newest first."""
    return conn.execute(select(workday_schedules).order_by(workday_schedules.c.id.desc())).all()


def schedule_contents(conn: Connection) -> list[tuple[int, str]]:
    """(year, content) of every load, oldest first (so that a later load of a year comes after an earlier one)."""
    query = select(workday_schedules.c.year, workday_schedules.c.content).order_by(workday_schedules.c.id)
    return [(row.year, row.content) for row in conn.execute(query)]
