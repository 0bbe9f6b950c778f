"""Case systems (only a hash of each API key is stored), the prompts they ask for (triggers) with their delivery
and acknowledgement, and the reads of a terminal's last prompt and its case behind the long-poll."""

from __future__ import annotations

from sqlalchemy import Connection, Row, select, update

from sync_server.storage.schema import case_systems, records, triggers


def case_system_exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(case_systems.c.id).where(case_systems.c.name == name)).first() is not None


def insert_case_system(conn: Connection, name: str, key_hash: str, created_at: str) -> None:
    conn.execute(case_systems.insert().values(name=name, key_hash=key_hash, created_at=created_at))


def case_system_of_key(conn: Connection, key_hash: str) -> str | None:
    """The name of the unrevoked case system holding this key hash."""
    row = conn.execute(
        select(case_systems.c.name).where(case_systems.c.key_hash == key_hash, case_systems.c.revoked_at.is_(None))
    ).first()
    return row.name if row else None


def insert_trigger(
    conn: Connection, trigger_id: str, window: str, case_no: str, matter_code: str | None, system: str, at: str
) -> None:
    conn.execute(
        triggers.insert().values(
            id=trigger_id, window=window, case_no=case_no, matter_code=matter_code, case_system=system, created_at=at
        )
    )


def unacked_triggers(conn: Connection, window: str, since: str) -> list[Row]:
    """The window's unacknowledged triggers created since ``since``, oldest first."""
    return conn.execute(
        select(triggers)
        .where(triggers.c.window == window, triggers.c.acked_at.is_(None), triggers.c.created_at >= since)
        .order_by(triggers.c.created_at, triggers.c.id)
    ).all()


def mark_delivered(conn: Connection, ids: list[str], at: str) -> None:
    conn.execute(
        update(triggers).where(triggers.c.id.in_(ids), triggers.c.delivered_at.is_(None)).values(delivered_at=at)
    )


def trigger_of(conn: Connection, trigger_id: str, system: str) -> Row | None:
    """One trigger, only when ``system`` asked for it."""
    return conn.execute(select(triggers).where(triggers.c.id == trigger_id, triggers.c.case_system == system)).first()


def mark_acked(conn: Connection, trigger_id: str, window: str, device_id: str, at: str, refused: str | None) -> int:
    """Acknowledge one unacknowledged trigger of ``window``; returns 1 when done, 0 otherwise."""
    return conn.execute(
        update(triggers)
        .where(triggers.c.id == trigger_id, triggers.c.window == window, triggers.c.acked_at.is_(None))
        .values(acked_at=at, acked_by=device_id, refused_message=refused)
    ).rowcount


def last_prompt(conn: Connection, device_id: str) -> Row | None:
    """The device's last prompt record (seq, case_no, occurred_at)."""
    return conn.execute(
        select(records.c.seq, records.c.case_no, records.c.occurred_at)
        .where(records.c.device_id == device_id, records.c.kind == "prompt", records.c.seq.is_not(None))
        .order_by(records.c.seq.desc())
        .limit(1)
    ).first()


def case_records_brief(conn: Connection, case_no: str) -> list[Row]:
    """Every record of a case: device_id, seq, kind, source, channel."""
    return conn.execute(
        select(records.c.device_id, records.c.seq, records.c.kind, records.c.source, records.c.channel).where(
            records.c.case_no == case_no
        )
    ).all()
