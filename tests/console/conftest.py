"""Console test fixtures; the data and helpers live in ``console_helpers.py``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from console_helpers import CONTACT_KEY, NOW, FakeClock, Hall, _server, seed_hall

# The server tests' database fixtures (db_url: sqlite and postgresql; pg_url FAILS, never skips, when PostgreSQL is
# unreachable), with whatever they depend on.
pg_url = _server.pg_url
db_url = _server.db_url
store, sqlite_store, sqlite_url = _server.store, _server.sqlite_store, _server.sqlite_url  # migrated stores
for _name in ("sqlite_template", "pg_template", "pg_schema"):
    if hasattr(_server, _name):
        globals()[_name] = getattr(_server, _name)


@pytest.fixture(scope="session")
def seeded_file(tmp_path_factory) -> tuple[Path, Hall]:
    """The seeded hall as a SQLite file, made once per session (argon2 hashing is deliberately slow)."""
    from sync_server.db import Store, migrate

    path = tmp_path_factory.mktemp("hall") / "server.db"
    s = Store.from_url(f"sqlite:///{path}")
    migrate(s)
    seeded = seed_hall(s)
    with s.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    s.dispose()
    return path, seeded


@pytest.fixture
def hall(seeded_file, tmp_path) -> Hall:
    """A private copy of the seeded hall for one test."""
    from sync_server.db import Store

    source, seeded = seeded_file
    path = tmp_path / "server.db"
    shutil.copy(source, path)
    s = Store.from_url(f"sqlite:///{path}")
    yield Hall(s, dict(seeded.devices), dict(seeded.ids))
    s.dispose()


@pytest.fixture
def app_client(hall):
    from fastapi.testclient import TestClient

    from sync_server.app import create_app
    from sync_server.settings import ServerSettings

    app = create_app(hall.store, clock=FakeClock(NOW), settings=ServerSettings(contact_key=CONTACT_KEY))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
