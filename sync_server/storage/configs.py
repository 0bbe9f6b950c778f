"""Imported hall configurations, one row per version (the content as JSON); the newest is the one in force."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, Row, select

from sync_server.storage.schema import config_versions


def insert_version(conn: Connection, version: str, content: str, source: str, imported_at: str) -> int:
    return conn.execute(
        config_versions.insert().values(version=version, content=content, source=source, imported_at=imported_at)
    ).inserted_primary_key[0]


_LATEST = (
    select(config_versions.c.id, config_versions.c.version, config_versions.c.imported_at)
    .order_by(config_versions.c.id.desc())
    .limit(1)
)  # built once: asked on every phone page and every batch


def latest_version(conn: Connection) -> Row | None:
    """id, version and imported_at of the newest configuration."""
    return conn.execute(_LATEST).first()


def content_of(conn: Connection, version_id: int) -> str:
    return conn.execute(select(config_versions.c.content).where(config_versions.c.id == version_id)).scalar_one()


def every_content(conn: Connection) -> Iterator[str]:
    """The content of every configuration ever imported, oldest first."""
    for (content,) in conn.execute(select(config_versions.c.content).order_by(config_versions.c.id)):
        yield content
