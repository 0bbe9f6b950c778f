"""Operations test fixtures: a migrated SQLite server database with the example configuration, an in-process app,
and a fresh PostgreSQL database (the tests FAIL, never skip, when PostgreSQL on 127.0.0.1:5432 is unreachable)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ops_helpers import CONFIG_DIR
from testkit import fresh_pg_database


@pytest.fixture
def server_db(tmp_path):
    """(url, store) of a migrated SQLite database with the example hall configuration imported."""
    from sync_server.configs import import_config
    from sync_server.db import Store, migrate

    url = f"sqlite:///{tmp_path / 'server.db'}"
    store = Store.from_url(url)
    migrate(store)
    import_config(store, CONFIG_DIR, "rules/default.toml", datetime.now(UTC))
    yield url, store
    store.dispose()


@pytest.fixture
def app_client(server_db):
    from fastapi.testclient import TestClient

    from sync_server.app import create_app

    _url, store = server_db
    with TestClient(create_app(store), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def fresh_pg_url():
    """An empty PostgreSQL database of its own, dropped afterwards."""
    with fresh_pg_database("hcp_ops") as url:
        yield url


@pytest.fixture(scope="session")
def xvfb():
    """A private Xvfb display for the kiosk tests of this folder; yields the DISPLAY value."""
    from bench.kit import virtual_display

    with virtual_display("1280x800x24", first=300, reuse=False) as display:
        yield display
