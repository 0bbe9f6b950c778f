"""Operations test fixtures: a migrated SQLite server database with the example configuration, an in-process app,
and a fresh PostgreSQL database (the tests FAIL, never skip, when PostgreSQL on 127.0.0.1:5432 is unreachable)."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

import pytest
from ops_helpers import CONFIG_DIR

PG_ADMIN_URLS = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "postgresql+psycopg://root@127.0.0.1:5432/postgres",
)


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


def _pg_admin_url() -> str:
    from sqlalchemy import create_engine, text

    problems = []
    for url in PG_ADMIN_URLS:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url
        except Exception as e:  # noqa: BLE001 - report every attempt
            problems.append(f"{url}: {type(e).__name__}")
        finally:
            engine.dispose()
    pytest.fail("PostgreSQL 不可用（需要 127.0.0.1:5432，信任认证）：" + "; ".join(problems), pytrace=False)


@pytest.fixture
def fresh_pg_url():
    """An empty PostgreSQL database of its own, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin_url = os.environ.get("HCP_TEST_PG_ADMIN_URL") or _pg_admin_url()
    name = f"hcp_ops_{secrets.token_hex(5)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def xvfb():
    """A private Xvfb display for the kiosk tests of this folder; yields the DISPLAY value."""
    from kiosk.benchkit import virtual_display

    with virtual_display("1280x800x24", first=300, reuse=False) as display:
        yield display
