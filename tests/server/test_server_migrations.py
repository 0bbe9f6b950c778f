"""The schema comes from the migrations only, they agree with the tables the code queries, and an old
database file (kept as a fixture at revision 0001) is upgraded in place with its data intact."""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from server_helpers import Kiosk, count, make_client, real_clock
from sqlalchemy import select

from sync_server.db import ALEMBIC_DIR, Store, current_revision, migrate
from sync_server.storage.schema import METADATA, ratings, records

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "server-rev0001.sqlite"


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_migrated_schema_matches_the_code(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    assert diff == []
    assert current_revision(store) == head_revision()


def test_migrate_is_idempotent(sqlite_url):
    store = Store.from_url(sqlite_url)
    migrate(store)
    migrate(store)
    assert current_revision(store) == head_revision()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.dispose()


def test_a_revision_0001_database_is_upgraded_in_place_and_keeps_working(tmp_path):
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    store = Store.from_url(f"sqlite:///{path}")
    assert current_revision(store) == "0001"
    migrate(store)
    assert current_revision(store) == head_revision()
    with store.read() as conn:
        assert [r.id for r in conn.execute(select(records.c.id).order_by(records.c.seq))] == [
            "fixture-1",
            "fixture-2",
            "fixture-3",
        ]
        assert conn.execute(select(ratings.c.role)).scalar_one() == "counting"
    with make_client(store, real_clock) as client:
        kiosk = Kiosk(client, real_clock)
        assert kiosk.push([kiosk.record(case_no="AFTER-UPGRADE")]).json()["results"][0]["status"] == "stored"
    assert count(store, records) == 4
    store.dispose()
