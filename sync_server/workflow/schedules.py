"""Official working-day schedules loaded by an administrator (国务院办公厅节假日安排), kept in the database so every
server process computes the same deadlines; each load is audited."""

from __future__ import annotations

from datetime import datetime

from haochaping.workdays import OfficialSchedule
from sync_server.console.auth import write_audit
from sync_server.db import Store, utc_iso
from sync_server.workflow.tables import workday_schedules


def load_schedule(
    store: Store, schedule: OfficialSchedule, source: str, actor: str, now: datetime, address: str | None = None
) -> None:
    """Store the schedule of one year (the newest load of a year wins) and audit it."""
    with store.write() as conn:
        conn.execute(
            workday_schedules.insert().values(
                year=schedule.year,
                content=schedule.model_dump_json(),
                source=schedule.source or source,
                loaded_at=utc_iso(now),
                loaded_by=actor,
            )
        )
        detail = {"source": schedule.source or source, "holidays": len(schedule.holidays)}
        detail["workdays"] = [d.isoformat() for d in schedule.workdays]
        write_audit(conn, now, actor, "workdays.load", str(schedule.year), detail, address)
