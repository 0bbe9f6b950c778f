"""The schema comes from the migrations only, and they agree with the tables the code queries."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sync_server.db import METADATA, Store, current_revision, migrate


def test_migrated_schema_matches_the_code(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    assert diff == []
    assert current_revision(store) == "0001"


def test_migrate_is_idempotent(sqlite_url):
    store = Store.from_url(sqlite_url)
    migrate(store)
    migrate(store)
    assert current_revision(store) == "0001"
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.dispose()
