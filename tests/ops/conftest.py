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


def _free_display() -> int:
    from pathlib import Path

    for n in range(300, 400):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture(scope="session")
def xvfb():
    """A private Xvfb display for the kiosk tests of this folder; yields the DISPLAY value."""
    import subprocess
    import time
    from pathlib import Path

    n = _free_display()
    proc = subprocess.Popen(
        ["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    yield f":{n}"
    proc.terminate()
    proc.wait(timeout=10)
