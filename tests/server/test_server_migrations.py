"""The schema comes from the migrations only, they agree with the tables the code queries, and an old
database file (kept as a fixture at revision 0001) is upgraded in place with its data intact."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from server_helpers import Kiosk, count, kept_and_rebuilt_rollups, make_client, real_clock
from sqlalchemy import select

from sync_server.db import ALEMBIC_DIR, Store, current_revision, migrate
from sync_server.storage.schema import METADATA, ratings, records

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "server-rev0001.sqlite"
RELEASE = Path(__file__).resolve().parent / "fixtures" / "server-release-0010.sqlite"  # make_release_0010.sh


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


def received_counted(conn) -> dict[str, int]:
    """Ratings received by source, counted from every stored record (what /metrics read before migration 0019)."""
    from sqlalchemy import func

    query = select(records.c.source, func.count()).where(records.c.kind == "rating").group_by(records.c.source)
    return dict(conn.execute(query).all())


def test_a_hall_database_made_by_the_release_before_the_storage_layer_upgrades_with_everything_intact(tmp_path):
    """The file the previous release (revision 0010) made for a hall with eight days of sample activity: every
    record, rating, 差评工单 and audit entry survives the upgrade, the audit chain still verifies, the rollups kept
    then equal a rebuild now, its administrator still signs in to the dashboard, and terminals sync on."""
    from sync_server.storage.records import received_by_source
    from sync_server.storage.schema import audit_log, bad_cases, users
    from sync_server.workflow.auditchain import verify_chain

    path = tmp_path / "hall.db"
    shutil.copy(RELEASE, path)
    store = Store.from_url(f"sqlite:///{path}")
    assert current_revision(store) == "0010"
    tables = (records, ratings, bad_cases, audit_log, users)
    before = {t.name: count(store, t) for t in tables}
    with store.read() as conn:
        kept_ids = [r.id for r in conn.execute(select(records.c.id).order_by(records.c.seq))]
    migrate(store)
    assert current_revision(store) == head_revision()
    assert {t.name: count(store, t) for t in tables} == before
    assert before["records"] > 700 and before["bad_cases"] > 0
    with store.read() as conn:
        assert [r.id for r in conn.execute(select(records.c.id).order_by(records.c.seq))] == kept_ids
        assert verify_chain(conn) == (before["audit_log"], None)
        assert received_by_source(conn) == received_counted(conn)  # /metrics's counter is filled by the upgrade
    kept, rebuilt = kept_and_rebuilt_rollups(store)
    assert kept == rebuilt
    with make_client(store, real_clock) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
        form = {"username": "admin", "password": "release-pass-2026", "csrf_token": token, "next": ""}
        assert client.post("/console/login", data=form, follow_redirects=False).status_code == 303
        dashboard = client.get("/console")
        assert dashboard.status_code == 200 and "统计概览" in dashboard.text
        kiosk = Kiosk(client, real_clock)
        assert kiosk.push([kiosk.record(case_no="AFTER-RELEASE")]).json()["results"][0]["status"] == "stored"
    assert count(store, records) == before["records"] + 1
    with store.read() as conn:
        assert received_by_source(conn) == received_counted(conn)  # and kept at every stored rating
    store.dispose()
