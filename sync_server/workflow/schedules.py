"""Official working-day schedules loaded by an administrator (国务院办公厅节假日安排), kept in the database so every
server process computes the same deadlines; each load is audited."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection

from haochaping.config import read_toml, validate
from haochaping.errors import ConfigError
from sync_server.console.accounts import write_audit
from sync_server.db import Store
from sync_server.storage import schedules as stored
from sync_server.storage.schema import utc_iso
from sync_server.workdays import OfficialSchedule


def load_schedule(
    store: Store, schedule: OfficialSchedule, source: str, actor: str, now: datetime, address: str | None = None
) -> None:
    """Store the schedule of one year (the newest load of a year wins) and audit it."""
    with store.write() as conn:
        stored.insert_schedule(
            conn, schedule.year, schedule.model_dump_json(), schedule.source or source, utc_iso(now), actor
        )
        detail = {"source": schedule.source or source, "holidays": len(schedule.holidays)}
        detail["workdays"] = [d.isoformat() for d in schedule.workdays]
        write_audit(conn, now, actor, "workdays.load", str(schedule.year), detail, address)


def read_schedule(path: Path) -> OfficialSchedule:
    """An official schedule file, validated (ConfigError names the file, the key and what was expected)."""
    return validate(OfficialSchedule, read_toml(path), path)


def parse_schedule(name: str, content: bytes) -> OfficialSchedule:
    """The same, from an uploaded file's bytes."""
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(name, "", f"不是有效的 TOML：{e}") from None
    return validate(OfficialSchedule, data, Path(name))


def loaded_schedules(conn: Connection) -> list:
    return stored.loaded_schedules(conn)
