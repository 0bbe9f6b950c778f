"""Workflow test fixtures; the data and helpers live in ``workflow_helpers.py``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from workflow_helpers import Terminal, _server, china, empty_pg, make_hall

pg_url = _server.pg_url  # the server tests' PostgreSQL database (fails, never skips, when unreachable)


@pytest.fixture(scope="session")
def hall_template(tmp_path_factory) -> Path:
    """A migrated database with the hall, two enrolled terminals and the users, built once (argon2 is slow)."""
    from sync_server.db import Store, migrate

    path = tmp_path_factory.mktemp("workflow-template") / "server.db"
    s = Store.from_url(f"sqlite:///{path}")
    migrate(s)
    make_hall(s, china(2026, 9, 1))
    s.dispose()
    return path


@pytest.fixture
def db_url(tmp_path, hall_template):
    shutil.copy(hall_template, tmp_path / "server.db")
    return f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture
def store(db_url):
    from sync_server.db import Store

    s = Store.from_url(db_url)
    yield s
    s.dispose()


@pytest.fixture
def terminals(store) -> dict[str, Terminal]:
    """The template's terminals, by window."""
    from sqlalchemy import select

    from sync_server.storage.schema import devices

    with store.read() as conn:
        rows = conn.execute(select(devices.c.id, devices.c.window).order_by(devices.c.window)).all()
    return {r.window: Terminal(store, r.id, r.window) for r in rows}


@pytest.fixture(params=["sqlite", "postgresql"])
def hall(request, tmp_path):
    """(store, terminals) of a fresh example hall on either database (the tests that must hold on both)."""
    from sync_server.db import Store, migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'server.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        empty_pg(url)
    store = Store.from_url(url)
    migrate(store)
    terminals = make_hall(store, china(2026, 9, 1))
    yield store, terminals
    store.dispose()
