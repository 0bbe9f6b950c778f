"""Published 通报 (table ``published_reports``): store a frozen version, read one back as published, list them, and
find the versions a new report is compared with (the same period's latest, the previous period's latest)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from sync_server.storage.schema import published_reports, utc_iso

LISTED = [c for c in published_reports.c if c.name not in ("content", "xlsx", "csv")]  # a list reads no files


@dataclass(frozen=True)
class Frozen:
    """What a publication stores: the figures (canonical JSON) and the files as rendered, each with its sha256."""

    content: str
    content_hash: str
    xlsx: bytes
    xlsx_hash: str
    csv: bytes
    csv_hash: str


def next_version(conn: Connection, kind: str, period: str, department: str) -> int:
    """1 for a period not published yet, else one more than its latest version."""
    c = published_reports.c
    where = [c.kind == kind, c.period == period, c.department == department]
    return (conn.execute(select(func.max(c.version)).where(*where)).scalar() or 0) + 1


def store_version(
    conn: Connection,
    kind: str,
    period: str,
    department: str,
    version: int,
    frozen: Frozen,
    reason: str | None,
    actor: str,
    now: datetime,
) -> int:
    """Insert one version (the unique key refuses a second row of the same version); returns its id."""
    values = dict(kind=kind, period=period, department=department, version=version, reason=reason)
    values |= dict(published_by=actor, published_at=utc_iso(now), **frozen.__dict__)
    return conn.execute(published_reports.insert().values(**values)).inserted_primary_key[0]


def published(conn: Connection, report_id: int):
    """One version with its content and files, or None."""
    return conn.execute(select(published_reports).where(published_reports.c.id == report_id)).first()


def listing(conn: Connection, department: str | None = None, limit: int = 200) -> list:
    """Versions without their files, newest period first (``department``: only that department's)."""
    c = published_reports.c
    query = select(*LISTED).order_by(c.kind, c.period.desc(), c.department, c.version.desc()).limit(limit)
    if department is not None:
        query = query.where(c.department == department)
    return list(conn.execute(query))


def latest_before(conn: Connection, kind: str, period: str, department: str, same_period: bool):
    """The latest version (with content) of the same period (``same_period``) or of the nearest earlier period of
    the same kind and department; None when there is none. Period keys of one kind sort as text."""
    c = published_reports.c
    where = [c.kind == kind, c.department == department]
    where.append(c.period == period if same_period else c.period < period)
    query = select(published_reports).where(*where).order_by(c.period.desc(), c.version.desc()).limit(1)
    return conn.execute(query).first()
